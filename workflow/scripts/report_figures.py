from ecgcmr.evaluate.summaries import gather_report_figures
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p, o = snakemake.params, snakemake.output
    gather_report_figures(list(snakemake.input.qc), p.models_dir, o.curves, o.qc, p.skip_prefixes)

from ecgcmr.evaluate.summaries import gather_report_figures
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p, o = snakemake.params, snakemake.output
    gather_report_figures(p.models_dir, o.curves, p.skip_prefixes)

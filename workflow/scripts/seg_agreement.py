from ecgcmr.cmr.agreement import seg_agreement
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    seg_agreement(list(snakemake.input.seg), p.reference, p.source, p.method, snakemake.output.csv,
                  snakemake.output.json, snakemake.output.png, snakemake.output.exclusions, p.limits)

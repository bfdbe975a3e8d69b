from ecgcmr import exclusions
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    exclusions.gather(list(snakemake.input), snakemake.output.table)

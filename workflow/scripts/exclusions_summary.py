from ecgcmr.evaluate.summaries import exclusions_summary
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    exclusions_summary(snakemake.input[0], snakemake.output.csv, snakemake.output.png)

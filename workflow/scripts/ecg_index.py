from ecgcmr.ecg.cache import gather_ecg_index
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    gather_ecg_index(list(snakemake.input.shards), snakemake.output.index, snakemake.output.exclusions)

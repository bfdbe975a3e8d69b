from ecgcmr.cmr.ingest import gather_cmr_index
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    gather_cmr_index(list(snakemake.input.shards), snakemake.output.index)

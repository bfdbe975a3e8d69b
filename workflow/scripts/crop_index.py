from ecgcmr.cmr.crop import gather_crop_index
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    gather_crop_index(list(snakemake.input.shards), snakemake.output.index)

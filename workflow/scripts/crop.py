from ecgcmr.cmr.crop import crop_shard
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    crop_shard(snakemake.input.seg, snakemake.input.cmr_index, snakemake.params.out_dir,
               snakemake.output.shard, snakemake.output.exclusions, snakemake.params.crop,
               skip_csv=snakemake.input.get("disagree"))

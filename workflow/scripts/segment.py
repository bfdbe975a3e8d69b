from ecgcmr.cmr.segment import segment_shard
from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import device

with snakemake_logging(snakemake):
    p = snakemake.params
    segment_shard(snakemake.input.cmr_index, int(snakemake.wildcards.shard), p.n_shards, snakemake.input.get("model"),
                  snakemake.output.shard, snakemake.output.exclusions, p.mask_dir,
                  {"device": device(snakemake.config, "segmentation"), "batch_size": p.batch_size, "largest_component": p.largest_component,
                   "qc": p.qc, "threads": snakemake.threads,
                   "method": p.method, "localise": p.localise, "fallback_arch": p.fallback_arch})

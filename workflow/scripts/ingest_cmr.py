from ecgcmr.cmr.ingest import ingest_cmr_shard
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    ingest_cmr_shard(p.cmr_dir, int(snakemake.wildcards.shard), p.n_shards, p.out_dir,
                     snakemake.output.index, snakemake.output.exclusions, p.cmr)

from ecgcmr.bulk import shard_files
from ecgcmr.cmr.ingest import ingest_cmr_shard
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    shard = int(snakemake.wildcards.shard)
    ingest_cmr_shard(p.cmr_dir, shard, p.n_shards, p.out_dir, snakemake.output.index,
                     snakemake.output.exclusions, p.cmr, files=shard_files(snakemake.input.bulk, shard, p.n_shards))

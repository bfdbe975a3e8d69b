from ecgcmr.bulk import shard_files
from ecgcmr.ecg.ingest import ingest_ecg_shard
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    shard = int(snakemake.wildcards.shard)
    ingest_ecg_shard(p.ecg_dir, shard, p.n_shards, snakemake.output.shard, snakemake.output.exclusions, p.ecg,
                     files=shard_files(snakemake.input.bulk, shard, p.n_shards))

from ecgcmr.ecg.ingest import ingest_ecg_shard
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    ingest_ecg_shard(p.ecg_dir, int(snakemake.wildcards.shard), p.n_shards, snakemake.output.shard,
                     snakemake.output.exclusions, p.ecg)

from ecgcmr.ecg.cache import compute_norm_stats
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    compute_norm_stats(snakemake.input.index, snakemake.input.splits, snakemake.output.stats,
                       mode=snakemake.params.mode)

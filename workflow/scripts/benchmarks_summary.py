from ecgcmr.evaluate.summaries import benchmark_summary
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    benchmark_summary(p.benchmark_dir, p.rules, snakemake.output.csv, snakemake.output.png, p.bench_results_dir)

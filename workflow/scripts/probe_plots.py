from ecgcmr.evaluate.plots import probe_bars
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    probe_bars(snakemake.input.table, snakemake.output[0], snakemake.params.targets)

from ecgcmr.evaluate.plots import probe_bars
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    probe_bars(list(snakemake.input.probes), snakemake.output[0], p.representations, p.targets, p.names)

from pathlib import Path

from ecgcmr.evaluate.tables import table1
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    i, p = snakemake.input, snakemake.params
    table1(list(i.probes), list(i.predictions), Path(snakemake.output.csv).parent, p.representations, p.names,
           n_boot=p.n_boot, seed=p.seed)

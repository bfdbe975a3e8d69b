from pathlib import Path

from ecgcmr.evaluate.tables import table2
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    i, p = snakemake.input, snakemake.params
    table2(list(i.probes), list(i.predictions), Path(snakemake.output.csv).parent, n_boot=p.n_boot, seed=p.seed)

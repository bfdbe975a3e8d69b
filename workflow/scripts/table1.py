from pathlib import Path

from ecgcmr.evaluate.tables import table1
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    table1(list(snakemake.input.probes), Path(snakemake.output.csv).parent, p.representations, p.names)

from pathlib import Path

from ecgcmr.evaluate.tables import table2
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    table2(list(snakemake.input.probes), Path(snakemake.output.csv).parent)

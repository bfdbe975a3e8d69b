from pathlib import Path

from ecgcmr.evaluate.tables import table3
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    table3(dict(zip(snakemake.params.sizes, snakemake.input.encoders)), Path(snakemake.output.csv).parent)

from ecgcmr.logs import snakemake_logging
from ecgcmr.report.pseudonyms import write_key

with snakemake_logging(snakemake):
    write_key(snakemake.output[0])

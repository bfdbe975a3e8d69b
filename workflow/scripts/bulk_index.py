from ecgcmr.bulk import write_bulk_index
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p, o = snakemake.params, snakemake.output
    write_bulk_index(p.ecg_dir, p.cmr_dir, p.instance, o.ecg, o.cmr, o.exclusions)

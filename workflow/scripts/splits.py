from ecgcmr.logs import snakemake_logging
from ecgcmr.splits import write_splits

with snakemake_logging(snakemake):
    p = snakemake.params
    write_splits(snakemake.input.ecg, snakemake.input.cmr, snakemake.input.targets,
                 snakemake.output.splits, p.paired, p.ecg_only, p.seed,
                 labelled_ecg_test=p.labelled_ecg_test)

from ecgcmr.cmr.qc import qc_montage
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    qc_montage(snakemake.input.crops, snakemake.input.seg, snakemake.output.png,
               snakemake.params.n_subjects, snakemake.params.seed)

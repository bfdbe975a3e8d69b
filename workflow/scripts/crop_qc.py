from ecgcmr.cmr.qc import qc_montage
from ecgcmr.logs import snakemake_logging
from ecgcmr.report.pseudonyms import Pseudonymiser

with snakemake_logging(snakemake):
    qc_montage(snakemake.input.crops, snakemake.input.seg, snakemake.output.png,
               snakemake.params.n_subjects, snakemake.params.seed,
               name=Pseudonymiser(snakemake.input.key))

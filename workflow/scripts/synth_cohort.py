from ecgcmr.logs import snakemake_logging
from ecgcmr.synth.cohort import write_cohort

with snakemake_logging(snakemake):
    p = snakemake.params
    write_cohort(p.cohort, p.synth, p.phenotype_fields, p.demographic_fields, p.outcomes,
                 snakemake.output.done, workers=snakemake.threads)

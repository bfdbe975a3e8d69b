from ecgcmr.logs import snakemake_logging
from ecgcmr.targets import ingest_tables

with snakemake_logging(snakemake):
    p = snakemake.params
    ingest_tables(snakemake.input.main_table, snakemake.input.diagnoses, snakemake.output.targets,
                  snakemake.output.exclusions, p.phenotype_fields, p.demographic_fields, p.outcomes, p.instance,
                  p.outcome_window)

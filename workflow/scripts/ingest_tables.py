from ecgcmr.logs import snakemake_logging
from ecgcmr.targets import ingest_tables

with snakemake_logging(snakemake):
    p, i = snakemake.params, snakemake.input
    ingest_tables(list(i.main_table), i.get("diagnoses_table"), snakemake.output.targets,
                  snakemake.output.exclusions, p.phenotype_fields, p.demographic_fields, p.outcomes, p.instance,
                  p.outcome_window, p.outcome_fields, i.get("hesin_diag"), i.get("hesin"),
                  snakemake.output.provenance)

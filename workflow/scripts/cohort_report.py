from ecgcmr.logs import snakemake_logging
from ecgcmr.report.cohort import write_cohort_report

with snakemake_logging(snakemake):
    i, o = snakemake.input, snakemake.output
    write_cohort_report(i.splits, i.exclusions, i.targets, o.flow, o.flow_csv, o.baseline)

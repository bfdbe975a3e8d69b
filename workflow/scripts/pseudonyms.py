from ecgcmr.logs import snakemake_logging
from ecgcmr.report.pseudonyms import pseudonymised_exclusions, write_mapping

with snakemake_logging(snakemake):
    i, o = snakemake.input, snakemake.output
    write_mapping(i.key, i.splits, i.exclusions, o.mapping)
    pseudonymised_exclusions(i.key, i.exclusions, o.exclusions)

import json

from ecgcmr.inference.manifest import cohort_summary, write_manifest
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    i, p = snakemake.input, snakemake.params
    cohort = cohort_summary(i.splits, p.synthetic, p.run_name)
    # the ECGs pretraining read (cached), not the split's subjects (some failed ingest)
    cohort["n_ecg_train"] = json.load(open(i.training_ranges))["n_records"]
    write_manifest(snakemake.output[0], p.representation, i.encoder, i.norm_stats, p.ecg, list(i.probes),
                   i.training_ranges, cohort)

from ecgcmr.inference.signal_ranges import compute_training_ranges
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    compute_training_ranges(snakemake.input.ecg_index, snakemake.input.splits, snakemake.output[0],
                            snakemake.params.sample_rate)

from ecgcmr.inference.card import write_safetensors_and_card
from ecgcmr.inference.manifest import run_dir_of
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    write_safetensors_and_card(run_dir_of(snakemake.input.manifest), snakemake.output.weights,
                               snakemake.input.metrics)

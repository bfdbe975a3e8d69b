import torch

from ecgcmr.evaluate.probe import run_probe
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    torch.set_num_threads(snakemake.threads)
    i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
    run_probe(i.embeddings, i.targets, i.splits, w.target, int(w.seed), w.representation,
              p.split_column, p.hyperparameters, snakemake.output.result, snakemake.output.weights,
              ecg_index=i.get("ecg_index"))

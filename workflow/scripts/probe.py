from ecgcmr.train.threads import configure_threads  # first: sets OpenMP's wait policy before torch loads

from ecgcmr.evaluate.probe import run_probes
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    configure_threads(snakemake.threads)
    i, p, w, o = snakemake.input, snakemake.params, snakemake.wildcards, snakemake.output
    run_probes(i.embeddings, i.targets, i.splits, p.targets, int(w.seed), w.representation,
               p.split_column, p.hyperparameters, list(o.results), list(o.weights),
               ecg_index=i.get("ecg_index"), out_predictions=o.predictions)

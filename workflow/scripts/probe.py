from ecgcmr.train.threads import configure_threads  # first: sets OpenMP's wait policy before torch loads

from ecgcmr.evaluate.probe import run_probes
from ecgcmr.logs import snakemake_logging
from ecgcmr.specs import split_run

with snakemake_logging(snakemake):
    configure_threads(snakemake.threads)
    i, p, w, o = snakemake.input, snakemake.params, snakemake.wildcards, snakemake.output
    # training run k of a representation is the representation, run k (evaluate.train_seeds)
    representation, train_seed = split_run(w.representation)
    run_probes(i.embeddings, i.targets, i.splits, p.targets, int(w.seed), representation,
               p.split_column, p.hyperparameters, list(o.results), list(o.weights),
               ecg_index=i.get("ecg_index"), out_predictions=o.predictions, train_seed=train_seed)

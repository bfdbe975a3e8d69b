from pathlib import Path

from ecgcmr.evaluate.compare import write_gates
from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import device

with snakemake_logging(snakemake):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    # every training run of each variant (evaluate.train_seeds), run 0 first
    n_runs = p.train_seeds   # alignment run k starts from MAE run k mod len(i.mae_history)
    metrics = list(i.align_metrics)
    align_dirs = {v: [Path(m).parent for m in metrics[k * n_runs:(k + 1) * n_runs]] for k, v in enumerate(p.variants)}
    # the embedding batch size and device change no gate: read at run time, not params
    write_gates([Path(h).parent for h in i.mae_history], align_dirs, p.align_batch_size, i.ed_encoder, i.es_encoder,
                i.crop_index, i.targets, i.splits, o.csv, o.md,
                embed_batch_size=snakemake.config["align"]["embed_batch_size"],
                device=device(snakemake.config, "evaluate"))

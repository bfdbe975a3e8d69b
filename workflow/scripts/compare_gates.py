from pathlib import Path

from ecgcmr.evaluate.compare import write_gates
from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import device

with snakemake_logging(snakemake):
    i, p, o = snakemake.input, snakemake.params, snakemake.output
    align_dirs = {v: Path(m).parent for v, m in zip(p.variants, i.align_metrics, strict=True)}
    # the embedding batch size and device change no gate: read at run time, not params
    write_gates(Path(i.mae_history).parent, align_dirs, p.align_batch_size, i.ed_encoder, i.es_encoder,
                i.crop_index, i.targets, i.splits, o.csv, o.md,
                embed_batch_size=snakemake.config["align"]["embed_batch_size"],
                device=device(snakemake.config, "evaluate"))

from ecgcmr.train.threads import configure_threads  # first: sets OpenMP's wait policy before torch loads

from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import trainer_runtime
from ecgcmr.train.align import align

with snakemake_logging(snakemake):
    configure_threads(snakemake.threads)
    i, p = snakemake.input, snakemake.params
    align(snakemake.wildcards.variant, p.pairs, p.weights,
          cmr_encoders={m: i[f"cmr_{m}"] for m in p.views},
          ecg_encoder=i.ecg_encoder, ecg_index=i.ecg_index, ecg_norm_stats=i.norm_stats,
          crop_index=i.crop_index, splits=i.splits, out_dir=p.out_dir, train={**p.train, **trainer_runtime(snakemake.config, "align")},
          temperature=p.temperature, learnable_temperature=p.learnable_temperature,
          symmetric=p.symmetric, head_hidden=p.head_hidden, head_out=p.head_out,
          embed_batch_size=p.embed_batch_size)

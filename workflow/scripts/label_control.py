from ecgcmr.train.threads import configure_threads  # first: sets OpenMP's wait policy before torch loads

from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import trainer_runtime
from ecgcmr.train.label_control import label_control

with snakemake_logging(snakemake):
    configure_threads(snakemake.threads)
    i, p = snakemake.input, snakemake.params
    label_control(snakemake.wildcards.variant, p.targets, ecg_encoder=i.ecg_encoder, ecg_index=i.ecg_index,
                  ecg_norm_stats=i.norm_stats, crop_index=i.crop_index, targets=i.targets, splits=i.splits,
                  out_dir=p.out_dir, train={**p.train, **trainer_runtime(snakemake.config, "align")},
                  head_hidden=p.head_hidden)

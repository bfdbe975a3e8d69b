from ecgcmr.train.threads import configure_threads  # first: sets OpenMP's wait policy before torch loads

from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import trainer_runtime
from ecgcmr.specs import split_run
from ecgcmr.train.pretrain_ecg import pretrain_ecg

with snakemake_logging(snakemake):
    configure_threads(snakemake.threads)
    i, p = snakemake.input, snakemake.params
    pretrain_ecg(i.index, i.norm_stats, i.splits, p.out_dir, split_run(snakemake.wildcards.size)[0],
                 model_cfg=p.model, train_cfg={**p.train, **trainer_runtime(snakemake.config, "pretrain_ecg")},
                 **p.loss, augment=p.augment)

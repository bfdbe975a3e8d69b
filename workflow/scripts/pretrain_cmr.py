from ecgcmr.train.threads import configure_threads  # first: sets OpenMP's wait policy before torch loads

from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import trainer_runtime
from ecgcmr.train.pretrain_cmr import pretrain_cmr

with snakemake_logging(snakemake):
    configure_threads(snakemake.threads)
    i, p = snakemake.input, snakemake.params
    pretrain_cmr(snakemake.wildcards.view, i.crop_index, i.targets, i.splits, p.out_dir,
                 train={**p.train, **trainer_runtime(snakemake.config, "pretrain_cmr")}, model=p.model, hflip_p=p.hflip_p, target_columns=p.targets,
                 # where the crops are read from changes no result: a runtime setting, not a param
                 crops_in_memory=snakemake.config["pretrain_cmr"]["crops_in_memory"])

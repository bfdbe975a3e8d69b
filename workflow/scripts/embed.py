from ecgcmr.evaluate.embed import embed_cohort
from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import device

with snakemake_logging(snakemake):
    i, p = snakemake.input, snakemake.params
    embed_cohort(i.encoder, i.ecg_index, i.norm_stats, i.splits, snakemake.output[0],
                 subjects=p.subjects, batch_size=p.batch_size, device=device(snakemake.config, "evaluate"))

from ecgcmr.evaluate.shared_space import plot_shared_space
from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import device

with snakemake_logging(snakemake):
    i, p = snakemake.input, snakemake.params
    cmr = {m: i[f"cmr_{m}"] for m in p.modalities}
    plot_shared_space(i.ecg_encoder, i.heads, cmr, i.ecg_index, i.norm_stats, i.crop_index, i.splits,
                      i.targets, snakemake.output[0], p.colour_by, device(snakemake.config, "evaluate"))

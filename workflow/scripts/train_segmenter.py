from ecgcmr.cmr.segmenter import labelled_images, train_segmenter
from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import device

with snakemake_logging(snakemake):
    p = snakemake.params
    # the cohort's cines, for a nifti source without a path (the cohort labels itself)
    images = labelled_images(None, snakemake.input.cmr_index, "") if snakemake.input.get("cmr_index") else {}
    train_segmenter(images, p.labelled, snakemake.input.splits, snakemake.output.model,
                    snakemake.output.metrics, p.model, p.train, p.intensity_percentiles,
                    device=device(snakemake.config, "segmentation"), threads=snakemake.threads, spacing_mm=p.spacing_mm)

from ecgcmr.train.threads import configure_threads  # first: sets OpenMP's wait policy before torch loads

from ecgcmr.cmr.segmenter import labelled_images
from ecgcmr.logs import snakemake_logging
from ecgcmr.runtime import trainer_runtime
from ecgcmr.train.segmenter import train_segmenter

with snakemake_logging(snakemake):
    configure_threads(snakemake.threads)
    p = snakemake.params
    # the cohort's cines, for a nifti source without a path (the cohort labels itself)
    images = labelled_images(None, snakemake.input.cmr_index, "") if snakemake.input.get("cmr_index") else {}
    train_segmenter(images, p.labelled, snakemake.input.splits, snakemake.output.model,
                    snakemake.output.metrics, p.model, {**p.train, **trainer_runtime(snakemake.config, "segmentation.train")},
                    p.intensity_percentiles, spacing_mm=p.spacing_mm)

from ecgcmr.cmr.segmenter import labelled_images, train_segmenter
from ecgcmr.logs import snakemake_logging

with snakemake_logging(snakemake):
    p = snakemake.params
    images = labelled_images(p.labelled["images_dir"], snakemake.input.get("cmr_index"), p.labelled["mask_suffix"])
    train_segmenter(images, p.labelled, snakemake.input.splits, snakemake.output.model,
                    snakemake.output.metrics, p.model, p.train, p.intensity_percentiles,
                    device=p.device, threads=snakemake.threads)

# CMR volumes (paper 2.1): heart segmentation -> LV/RV volume curves and ED/ES frames
# -> six central slices per phase cropped around the heart (+ the 2D / 2D+t baselines'
# inputs). Per-subject work is scattered over the ingest shards (ecgcmr.ids.shard_of).
from ecgcmr.cmr.labelled import normalise_sources, segmentation_method

SEG = cfg("segmentation")
CROP = cfg("crop")
# unet (given weights, or train_segmenter on the labelled set) or the training-free
# localiser; auto: the localiser when neither weights nor labels are given (real data).
SEG_METHOD = segmentation_method(SEG, cfg("cohort", "synthetic"), cfg("cohort", "truth_dir"))
if SEG_METHOD == "localise":
    logger.warning("segmentation: heart boxes and ED/ES come from the training-free localiser ("
                   + ("segmentation.method: localise" if SEG["method"] == "localise"
                      else "auto: no weights or labelled set given") + ")")
# Given weights replace the trained segmenter: train_segmenter is then not defined.
SEGMENTER = None if SEG_METHOD == "localise" else (SEG["weights"] or P.segmenter)
# segmentation.labelled as a list of sources (acdc | mnms | nifti; ecgcmr.cmr.labelled)
LABELLED = normalise_sources(SEG["labelled"], cfg("cohort", "truth_dir"), cfg("cohort", "synthetic"))


# The cohort's cines and splits when the labelled set is the cohort itself; the
# synthetic truth masks appear with the synthetic cohort.
SEGMENTER_TRAINING_INPUTS = {
    "splits": P.splits,
    **({"cmr_index": P.cmr_index} if any(s["format"] == "nifti" and not s["path"] for s in LABELLED) else {}),
    **({"synth": P.synth_done} if cfg("cohort", "synthetic") else {}),
}


if SEG_METHOD == "unet" and not SEG["weights"]:

    rule train_segmenter:
        input:
            **SEGMENTER_TRAINING_INPUTS,
        output:
            model=P.segmenter,
            metrics=P.segmenter_metrics,
        params:
            labelled=LABELLED,
            model=SEG["model"],
            # its data and augmentation settings, and the loop's (shared train: amp)
            train={**SEG["train"], **trainer_params("segmentation.train")},
            intensity_percentiles=SEG["intensity_percentiles"],
            spacing_mm=SEG["spacing_mm"],
        threads: cpus("train_segmenter")
        resources:
            **size("train_segmenter"),
            gpu=GPU,
        retries: trainer_retries()  # resumes checkpoint.pt; None: the profile decides
        log:
            P.log("train_segmenter"),
        benchmark:
            P.benchmark("train_segmenter")
        script:
            "../scripts/train_segmenter.py"

    ALL_TARGETS += [P.segmenter_metrics]


rule segment:
    input:
        cmr_index=P.cmr_index,
        **({"model": SEGMENTER} if SEGMENTER else {}),
    output:
        shard=P.seg_shard,
        exclusions=P.seg_shard_exclusions,
    params:
        n_shards=cfg("ingest", "n_shards"),
        mask_dir=P.seg_mask_dir,
        batch_size=SEG["batch_size"],
        largest_component=SEG["largest_component"],
        qc=SEG["qc"],
        method=SEG_METHOD,
        # each only where it acts, so changing it reruns only the segmentations it changes
        localise=SEG["localise"] if SEG_METHOD == "localise" else None,
        # the network and preprocessing of a plain state dict given as weights
        fallback_arch={**SEG["model"], "intensity_percentiles": SEG["intensity_percentiles"],
                       "spacing_mm": SEG["spacing_mm"], "patch": SEG["train"]["patch"]}
        if SEG["weights"] and SEG_METHOD == "unet" else None,
    threads: cpus("segment")
    resources:
        **size("segment"),
        gpu=GPU,
    log:
        P.log("segment", "_{shard}"),
    benchmark:
        P.benchmark("segment", "_{shard}")
    script:
        "../scripts/segment.py"


# Volumes vs UKB's own (fields 24100/24101/24103) or, on the synthetic cohort, the
# generator's truth; always reported, excluding only with agreement.exclude.
AGREE = SEG["agreement"]
AGREE_SOURCE = "truth" if cfg("cohort", "synthetic") else "ukb"


rule seg_agreement:
    input:
        seg=expand(P.seg_shard, shard=SHARDS),
        reference=P.synth_done if AGREE_SOURCE == "truth" else P.targets,
    output:
        csv=P.seg_agreement("csv"),
        json=P.seg_agreement("json"),
        png=report(P.seg_agreement("png"), caption="../report/seg_agreement.rst", category="CMR QC",
                   labels={"figure": "segmentation vs reference volumes"}),
        exclusions=P.seg_agreement("exclusions.csv"),
    params:
        reference=str(Path(cfg("cohort", "truth_dir"), "latents.parquet")) if AGREE_SOURCE == "truth" else P.targets,
        source=AGREE_SOURCE,
        method=SEG_METHOD,
        limits=AGREE,
    threads: cpus("seg_agreement")
    resources:
        **size("seg_agreement"),
    log:
        P.log("seg_agreement"),
    benchmark:
        P.benchmark("seg_agreement")
    script:
        "../scripts/seg_agreement.py"


rule crop:
    input:
        seg=P.seg_shard,
        cmr_index=P.cmr_index,
        **({"disagree": P.seg_agreement("exclusions.csv")} if AGREE["exclude"] else {}),
    output:
        shard=P.crop_shard,
        exclusions=P.crop_shard_exclusions,
    params:
        out_dir=lambda wildcards, output: str(Path(output.shard).parent),
        crop={k: v for k, v in CROP.items() if k != "qc_subjects"},
    threads: cpus("crop")
    resources:
        **size("crop"),
    log:
        P.log("crop", "_{shard}"),
    benchmark:
        P.benchmark("crop", "_{shard}")
    script:
        "../scripts/crop.py"


rule crop_qc:
    input:
        crops=P.crop_shard,
        seg=P.seg_shard,
        key=P.pseudonym_key,   # subjects are labelled by pseudonym (report.smk)
    output:
        png=report(P.crop_qc, caption="../report/crop_qc.rst", category="CMR QC",
                   labels={"figure": "crop QC", "shard": "{shard}"}),
    params:
        n_subjects=CROP["qc_subjects"],
        seed=0,
    threads: cpus("crop_qc")
    resources:
        **size("crop_qc"),
    log:
        P.log("crop_qc", "_{shard}"),
    benchmark:
        P.benchmark("crop_qc", "_{shard}")
    script:
        "../scripts/crop_qc.py"


rule crop_index:
    input:
        shards=expand(P.crop_shard, shard=SHARDS),
    output:
        index=P.crop_index,
    threads: cpus("crop_index")
    resources:
        **size("crop_index"),
    log:
        P.log("crop_index"),
    benchmark:
        P.benchmark("crop_index")
    script:
        "../scripts/crop_index.py"


EXCLUSION_TABLES += [
    P.seg_agreement("exclusions.csv"),
    *expand(P.seg_shard_exclusions, shard=SHARDS),
    *expand(P.crop_shard_exclusions, shard=SHARDS),
]
ALL_TARGETS += [P.crop_index, *expand(P.crop_qc, shard=SHARDS), P.seg_agreement("png")]

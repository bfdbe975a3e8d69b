# CMR volumes (paper 2.1): heart segmentation -> LV/RV volume curves and ED/ES frames
# -> six central slices per phase cropped around the heart (+ the 2D / 2D+t baselines'
# inputs). Per-subject work is scattered over the ingest shards (ecgcmr.ids.shard_of).
SEG = cfg("segmentation")
CROP = cfg("crop")
# Given weights replace the trained segmenter: train_segmenter is then not defined.
SEGMENTER = SEG["weights"] or P.segmenter
LABELLED = {**SEG["labelled"],
            "masks_dir": SEG["labelled"]["masks_dir"] or str(Path(cfg("cohort", "truth_dir"), "masks"))}


# The cohort's cines and splits when the labelled set is the cohort itself; the
# synthetic truth masks appear with the synthetic cohort.
SEGMENTER_TRAINING_INPUTS = {
    "splits": P.splits,
    **({} if SEG["labelled"]["images_dir"] else {"cmr_index": P.cmr_index}),
    **({"synth": P.synth_done} if cfg("cohort", "synthetic") else {}),
}


if not SEG["weights"]:

    rule train_segmenter:
        input:
            **SEGMENTER_TRAINING_INPUTS,
        output:
            model=P.segmenter,
            metrics=P.segmenter_metrics,
        params:
            labelled=LABELLED,
            model=SEG["model"],
            train={k: v for k, v in SEG["train"].items() if k != "resources"},
            intensity_percentiles=SEG["intensity_percentiles"],
            device=SEG["device"],
        threads: SEG["train"]["resources"]["cpus_per_task"]
        resources:
            gpu=1,
            mem_mb=SEG["train"]["resources"]["mem_mb"],
            runtime=SEG["train"]["resources"]["runtime"],
            cpus_per_task=SEG["train"]["resources"]["cpus_per_task"],
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
        model=SEGMENTER,
    output:
        shard=P.seg_shard,
        exclusions=P.seg_shard_exclusions,
    params:
        n_shards=cfg("ingest", "n_shards"),
        mask_dir=P.seg_mask_dir,
        device=SEG["device"],
        batch_size=SEG["batch_size"],
        largest_component=SEG["largest_component"],
        qc=SEG["qc"],
    threads: SEG["resources"]["cpus_per_task"]
    resources:
        gpu=1,
        mem_mb=SEG["resources"]["mem_mb"],
        runtime=SEG["resources"]["runtime"],
        cpus_per_task=SEG["resources"]["cpus_per_task"],
    log:
        P.log("segment", "_{shard}"),
    benchmark:
        P.benchmark("segment", "_{shard}")
    script:
        "../scripts/segment.py"


rule crop:
    input:
        seg=P.seg_shard,
        cmr_index=P.cmr_index,
    output:
        shard=P.crop_shard,
        exclusions=P.crop_shard_exclusions,
    params:
        out_dir=lambda wildcards, output: str(Path(output.shard).parent),  # = P.crop_dir
        crop={k: v for k, v in CROP.items() if k not in ("resources", "qc_subjects")},
    resources:
        mem_mb=CROP["resources"]["mem_mb"],
        runtime=CROP["resources"]["runtime"],
        cpus_per_task=CROP["resources"]["cpus_per_task"],
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
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
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
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    log:
        P.log("crop_index"),
    benchmark:
        P.benchmark("crop_index")
    script:
        "../scripts/crop_index.py"


EXCLUSION_TABLES += [
    *expand(P.seg_shard_exclusions, shard=SHARDS),
    *expand(P.crop_shard_exclusions, shard=SHARDS),
]
ALL_TARGETS += [P.crop_index, *expand(P.crop_qc, shard=SHARDS)]

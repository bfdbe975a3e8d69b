# Pretraining: modality-specific encoders (paper 2.2, Figure 1A).
# Trainers use the shared loop (ecgcmr.train.loop): checkpoint.pt every epoch and on
# SIGTERM/SIGUSR1, resumed when the job is retried. checkpoint.pt is deliberately not
# an output, so Snakemake never deletes it before a retry.

# Hyperparameters reach the rules through trainer_params(section) and `retries:` through
# trainer_retries() (common.smk): unset, the profile's --retries decides.


# --- ECG: ViT masked autoencoder, one job per size (Tables 2-3, Figure 2) ---------------

PRETRAIN_ECG = cfg("pretrain_ecg")
ECG_MAE_DIR = P.model_dir("ecg_mae_{size}")


rule pretrain_ecg:
    input:
        index=P.ecg_index,
        norm_stats=P.ecg_norm_stats,
        splits=P.splits,
    output:
        encoder=P.ecg_mae,
        history=str(Path(ECG_MAE_DIR, "history.csv")),
        curve=report(str(Path(ECG_MAE_DIR, "curve.png")), category="ECG pretraining", caption="../report/loss_curve.rst",
                     subcategory="{size}", labels={"model": "ViT-{size} MAE", "figure": "loss curve"}),
        figure2=report(str(Path(ECG_MAE_DIR, "figure2.png")), category="ECG pretraining",
                       subcategory="{size}", caption="../report/figure2.rst",
                       labels={"model": "ViT-{size} MAE", "figure": "Figure 2: reconstruction"}),
    wildcard_constraints:
        size=specs.run_pattern(specs.VIT_SIZES),   # a size, or training run k of one (evaluate.train_seeds)
    params:
        out_dir=lambda wc: P.model_dir(f"ecg_mae_{wc.size}"),
        model=PRETRAIN_ECG["model"],
        # ncc_weight only where it is used: changing it under `masked` reruns nothing
        loss={"loss": PRETRAIN_ECG["loss"], **({"ncc_weight": PRETRAIN_ECG["ncc_weight"]}
                                               if PRETRAIN_ECG["loss"] == "authors" else {})},
        train=lambda wc: specs.seeded(trainer_params("pretrain_ecg"), specs.split_run(wc.size)[1]),
        augment=PRETRAIN_ECG["augment"],
    threads: cpus("pretrain_ecg")
    resources:
        **size("pretrain_ecg"),
        gpu=GPU,
    retries: trainer_retries()
    log:
        P.log("pretrain_ecg", "_{size}"),
    benchmark:
        P.benchmark("pretrain_ecg", "_{size}")
    script:
        "../scripts/pretrain_ecg.py"


ALL_TARGETS += expand(P.ecg_mae, size=PRETRAIN_ECG["sizes"])
ALL_TARGETS += expand(str(Path(ECG_MAE_DIR, "figure2.png")), size=PRETRAIN_ECG["sizes"])


# --- CMR encoders (pretrain_cmr rules: H4b) ----------------------------------------------
# Rules for the CMR encoders go below this line; they reuse trainer_params(section).
# One job per view (a row of ecgcmr.specs.VIEWS): ecgcmr.train.pretrain_cmr.
PRETRAIN_CMR = cfg("pretrain_cmr")
CMR_MODEL_KEYS = ["backbone", "lstm_hidden", "time_stride"]   # CmrEncoderConfig fields
CMR_MODEL_DIR = P.model_dir("cmr_{view}")


rule pretrain_cmr:
    input:
        crop_index=P.crop_index,
        targets=P.targets,
        splits=P.splits,
    output:
        encoder=P.cmr_encoder,
        metrics=str(Path(CMR_MODEL_DIR, "metrics.json")),
        history=str(Path(CMR_MODEL_DIR, "history.csv")),
        curve=report(str(Path(CMR_MODEL_DIR, "curve.png")), category="CMR pretraining", caption="../report/loss_curve.rst",
                     subcategory="{view}", labels={"model": "CMR {view}", "figure": "loss curve"}),
    wildcard_constraints:
        view=specs.pattern(specs.VIEWS),
    params:
        out_dir=lambda wc: P.model_dir(f"cmr_{wc.view}"),
        targets=PRETRAIN_CMR["targets"],
        hflip_p=PRETRAIN_CMR["hflip_p"],
        # lstm_hidden/time_stride shape only the frame views (mid2dt): changing them
        # reruns only those
        model=lambda wc: {k: PRETRAIN_CMR[k] for k in CMR_MODEL_KEYS if k in PRETRAIN_CMR
                          and (k == "backbone" or specs.VIEWS[wc.view].layout == "frames")},
        train=trainer_params("pretrain_cmr"),
    threads: cpus("pretrain_cmr")
    resources:
        **size("pretrain_cmr"),
        gpu=GPU,
    retries: trainer_retries()
    log:
        P.log("pretrain_cmr", "_{view}"),
    benchmark:
        P.benchmark("pretrain_cmr", "_{view}")
    script:
        "../scripts/pretrain_cmr.py"


ALL_TARGETS += expand(P.cmr_encoder, view=PRETRAIN_CMR["views"])

# Alignment: contrastive ECG-CMR training (paper 2.2, eq. 1-2), one job per Table 1
# variant. A variant is data in config (align.variants: CLIP pairs and weights); its
# modalities map to the frozen CMR encoders they need in common.smk (align_inputs,
# align_view): the modalities ed and es are the phase encoders of kind align.phase_encoder.

ALIGN = cfg("align")
CLIP_VARIANTS = clip_variants(config)
LABEL_VARIANTS = label_variants(config)


rule align:
    input:
        unpack(align_inputs),
    output:
        encoder=P.aligned,
        heads=str(Path(P.model_dir("align_{variant}"), "heads.pt")),
        metrics=str(Path(P.model_dir("align_{variant}"), "metrics.json")),
        history=str(Path(P.model_dir("align_{variant}"), "history.csv")),
        curve=report(str(Path(P.model_dir("align_{variant}"), "curve.png")), category="Alignment", caption="../report/loss_curve.rst",
                     subcategory="{variant}", labels={"model": "align {variant}", "figure": "loss curve"}),
    wildcard_constraints:
        variant=specs.run_pattern(CLIP_VARIANTS),   # a CLIP variant, or training run k of one
    params:
        out_dir=lambda wc: P.model_dir(f"align_{wc.variant}"),
        pairs=lambda wc: align_variant(wc)["pairs"],
        weights=lambda wc: align_variant(wc)["weights"],
        views=lambda wc: {m: align_view(m) for pair in align_variant(wc)["pairs"]
                          for m in pair if m != "ecg"},
        temperature=ALIGN["temperature"],
        learnable_temperature=ALIGN["learnable_temperature"],
        symmetric=ALIGN["symmetric"],
        head_hidden=ALIGN["head_hidden"],
        head_out=ALIGN["head_out"],
        embed_batch_size=ALIGN["embed_batch_size"],
        # shared `train:` + this section; training run k: seed + k (evaluate.train_seeds)
        train=lambda wc: specs.seeded(trainer_params("align"), specs.split_run(wc.variant)[1]),
    threads: cpus("align")
    resources:
        **size("align"),
        gpu=GPU,
    retries: trainer_retries()
    log:
        P.log("align", "_{variant}"),
    benchmark:
        P.benchmark("align", "_{variant}")
    script:
        "../scripts/align.py"


# The label control (objective: labels): the same MAE encoder, subjects and trainer
# budget as an alignment (this section's trainer settings: "same budget" is one
# setting, not a copy), supervised by the phenotypes instead of CMR embeddings. It
# writes an alignment's folder, so embeddings, probes, tables and the comparison take
# it as one more Table 1 row.
if LABEL_VARIANTS:

    rule label_control:
        input:
            ecg_encoder=lambda wc: mae_encoder(specs.split_run(wc.variant)[1]),
            ecg_index=P.ecg_index,
            norm_stats=P.ecg_norm_stats,
            crop_index=P.crop_index,   # the alignment's subjects: paired, with crops and an ECG
            targets=P.targets,
            splits=P.splits,
        output:
            encoder=P.aligned,
            head=str(Path(P.model_dir("align_{variant}"), "head.pt")),
            metrics=str(Path(P.model_dir("align_{variant}"), "metrics.json")),
            history=str(Path(P.model_dir("align_{variant}"), "history.csv")),
            curve=report(str(Path(P.model_dir("align_{variant}"), "curve.png")), category="Alignment", caption="../report/loss_curve.rst",
                         subcategory="{variant}", labels={"model": "label control {variant}", "figure": "loss curve"}),
        wildcard_constraints:
            variant=specs.run_pattern(LABEL_VARIANTS),
        params:
            out_dir=lambda wc: P.model_dir(f"align_{wc.variant}"),
            targets=lambda wc: label_targets(config, specs.split_run(wc.variant)[0]),
            head_hidden=ALIGN["head_hidden"],
            train=lambda wc: specs.seeded(trainer_params("align"), specs.split_run(wc.variant)[1]),
        threads: cpus("label_control")
        resources:
            **size("label_control"),
            gpu=GPU,
        retries: trainer_retries()
        log:
            P.log("label_control", "_{variant}"),
        benchmark:
            P.benchmark("label_control", "_{variant}")
        script:
            "../scripts/label_control.py"


ALL_TARGETS += expand(P.aligned, variant=ALIGN["run"])

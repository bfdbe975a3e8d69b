# Alignment: contrastive ECG-CMR training (paper 2.2, eq. 1-2), one job per Table 1
# variant. A variant is data in config (align.variants: CLIP pairs and weights); its
# modalities map to the frozen CMR encoders they need in common.smk (align_inputs,
# align_view): the modalities ed and es are the phase encoders of kind align.phase_encoder.

ALIGN = cfg("align")


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
        variant=specs.run_pattern(ALIGN["variants"]),   # a variant, or training run k of one
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


ALL_TARGETS += expand(P.aligned, variant=ALIGN["run"])

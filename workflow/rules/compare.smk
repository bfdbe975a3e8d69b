# Compare: is each alignment variant better than the baseline, and can this run say?
# compare_gates reads the trained models' files (the four gates of issue 14, per
# variant); compare_deltas reads every Table 1 probe job's per-subject test predictions
# and the gates, and writes Δ with a paired-bootstrap 95 % interval, its verdict, and
# what may be concluded (ecgcmr.evaluate.compare; docs/statistics.md).
# No functions here (snakemake --lint): input mappings are built once, as data.
COMPARE = cfg("compare")
# the variants of Table 1, each compared with the baseline (both must be Table 1 rows)
COMPARE_ARMS = [r for r in TABLE1_REPS if r != BASELINE] if BASELINE in TABLE1_REPS else []
# one MAE history and one metrics.json per training run (evaluate.train_seeds)
MAE_HISTORY = [str(Path(P.ecg_mae.format(size=specs.run_name(cfg("align", "ecg_size"), k))).parent / "history.csv")
               for k in range(N_MAE_RUNS)]
ALIGN_RUNS = specs.run_names(COMPARE_ARMS, N_RUNS)   # variant by variant, run by run


rule compare_gates:
    input:
        mae_history=MAE_HISTORY,
        align_metrics=expand(str(Path(P.model_dir("align_{variant}"), "metrics.json")), variant=ALIGN_RUNS),
        # gate 2: the frozen ED and ES encoders the dual-phase alignment pairs the ECG with
        ed_encoder=P.cmr_encoder.format(view=align_view("ed")),
        es_encoder=P.cmr_encoder.format(view=align_view("es")),
        crop_index=P.crop_index,
        targets=P.targets,
        splits=P.splits,
    output:
        csv=report(P.gates("csv"), caption="../report/gates.rst", category="Results",
                   subcategory="Variant vs baseline", labels={"figure": "gates: can the run conclude?"}),
        md=P.gates("md"),
    params:
        variants=COMPARE_ARMS,  # input.align_metrics: every training run of each, in this order
        train_seeds=N_RUNS,
        align_batch_size=cfg("align", "batch_size"),
    threads: cpus("compare_gates")
    resources:
        **size("compare_gates"),
        gpu=GPU,
    log:
        P.log("compare_gates"),
    benchmark:
        P.benchmark("compare_gates")
    script:
        "../scripts/compare_gates.py"


rule compare_deltas:
    input:
        predictions=expand(P.probe_predictions, representation=TABLE1_RUNS, seed=EVAL["seeds"]),
        gates=rules.compare_gates.output.csv,
    output:
        csv=report(P.deltas("csv"), caption="../report/deltas.rst", category="Results",
                   subcategory="Variant vs baseline", labels={"figure": "Δ vs baseline with 95 % intervals"}),
        md=P.deltas("md"),
    params:
        arms=COMPARE_ARMS,
        baseline=BASELINE,
        targets=TABLE1_TARGETS_RUN,
        names=TABLE1_NAMES,
        n_boot=COMPARE["n_boot"],
        seed=COMPARE["seed"],
        pairs=compare_pairs(config),   # those of compare.pairs whose both sides are Table 1 rows
    threads: cpus("compare_deltas")
    resources:
        **size("compare_deltas"),
    log:
        P.log("compare_deltas"),
    benchmark:
        P.benchmark("compare_deltas")
    script:
        "../scripts/compare_deltas.py"


if COMPARE_ARMS:
    ALL_TARGETS += [rules.compare_deltas.output.md, rules.compare_gates.output.md]

# Report: run summaries and figures flagged for `snakemake --report report.html`.
# Tables 1-3 and the probe plots are flagged where they are made (evaluate.smk), the
# MAE curves and Figure 2 in pretrain.smk; here: exclusions by stage and reason, rule
# costs (benchmarks) and the other training curves, gathered
# into {results}/report/.
REPORT_DIR = str(Path(P.results, "report"))
ALIGN_VARIANTS = [r for r in TABLE1_REPS if r != "baseline"]


rule exclusions_summary:
    input:
        P.exclusions,
    output:
        csv=f"{REPORT_DIR}/exclusions_summary.csv",
        png=report(f"{REPORT_DIR}/exclusions_summary.png", caption="../report/exclusions_summary.rst",
                   category="Data", subcategory="Exclusions"),
    resources:
        mem_mb=1000,
        runtime=5,
        cpus_per_task=1,
    log:
        P.log("exclusions_summary"),
    benchmark:
        P.benchmark("exclusions_summary")
    script:
        "../scripts/exclusions_summary.py"


rule report_figures:
    input:
        align_curves=expand(Path(P.model_dir("align_{variant}"), "curve.png").as_posix(), variant=ALIGN_VARIANTS),
        # run last: the CMR encoders' curves are found in models/ when everything is done
        done=rules.table1.output.md,
    output:
        curves=report(directory(f"{REPORT_DIR}/training_curves"), patterns=["{name}.png"],
                      caption="../report/curves.rst", category="Models", subcategory="Training curves",
                      labels={"model": "{name}"}),
    params:
        models_dir=P.model_dir(""),
        # the MAE's curve and Figure 2 are flagged for the report by pretrain_ecg itself
        skip_prefixes=["ecg_mae_"],
    resources:
        mem_mb=500,
        runtime=5,
        cpus_per_task=1,
    log:
        P.log("report_figures"),
    benchmark:
        P.benchmark("report_figures")
    script:
        "../scripts/report_figures.py"


rule benchmarks_summary:
    input:
        # every other final output first, so their benchmark files exist
        [t for t in ALL_TARGETS],
        rules.report_figures.output.curves,
        rules.exclusions_summary.output.png,
    output:
        csv=f"{REPORT_DIR}/benchmarks_summary.csv",
        png=report(f"{REPORT_DIR}/benchmarks_summary.png", caption="../report/benchmarks.rst",
                   category="Cost", subcategory="Rule benchmarks"),
    params:
        benchmark_dir=str(Path(P.results, "benchmarks")),
        rules=sorted(r.name for r in workflow.rules),
        bench_results_dir=cfg("report", "bench_results_dir"),
    resources:
        mem_mb=1000,
        runtime=5,
        cpus_per_task=1,
    log:
        P.log("benchmarks_summary"),
    benchmark:
        P.benchmark("benchmarks_summary")
    script:
        "../scripts/benchmarks_summary.py"


ALL_TARGETS += [rules.exclusions_summary.output.png, rules.report_figures.output.curves,
                rules.benchmarks_summary.output.png]

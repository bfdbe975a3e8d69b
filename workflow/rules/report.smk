# Report: run summaries for `snakemake --report report.html`, in {results}/report/:
# exclusions by stage and reason, and rule costs (benchmarks). Every other figure is
# flagged where it is made, so it appears once: Tables 1-3 and the probe plots in
# evaluate.smk, training curves and Figure 2 in pretrain.smk and align.smk, crop QC
# montages in cmr.smk.
REPORT_DIR = str(Path(P.results, "report"))


rule exclusions_summary:
    input:
        P.exclusions,
    output:
        csv=f"{REPORT_DIR}/exclusions_summary.csv",
        png=report(f"{REPORT_DIR}/exclusions_summary.png", caption="../report/exclusions_summary.rst",
                   category="Data", subcategory="Exclusions", labels={"figure": "exclusions by stage and reason"}),
    threads: cpus("exclusions_summary")
    resources:
        **size("exclusions_summary"),
    log:
        P.log("exclusions_summary"),
    benchmark:
        P.benchmark("exclusions_summary")
    script:
        "../scripts/exclusions_summary.py"


rule benchmarks_summary:
    input:
        # every other final output first, so their benchmark files exist
        [t for t in ALL_TARGETS],
        rules.exclusions_summary.output.png,
    output:
        csv=f"{REPORT_DIR}/benchmarks_summary.csv",
        png=report(f"{REPORT_DIR}/benchmarks_summary.png", caption="../report/benchmarks.rst",
                   category="Cost", subcategory="Rule benchmarks", labels={"figure": "time and memory per rule"}),
    params:
        benchmark_dir=str(Path(P.results, "benchmarks")),
        rules=sorted(r.name for r in workflow.rules),
        bench_results_dir=cfg("report", "bench_results_dir"),
    threads: cpus("benchmarks_summary")
    resources:
        **size("benchmarks_summary"),
    log:
        P.log("benchmarks_summary"),
    benchmark:
        P.benchmark("benchmarks_summary")
    script:
        "../scripts/benchmarks_summary.py"


# Participant ids never enter the report: a per-run key turns each eid into a pseudonym
# (ecgcmr.report.pseudonyms); the eid -> pseudonym table stays in {results}/pseudonyms/.
rule pseudonym_key:
    output:
        P.pseudonym_key,
    threads: cpus("pseudonym_key")
    resources:
        **size("pseudonym_key"),
    log:
        P.log("pseudonym_key"),
    benchmark:
        P.benchmark("pseudonym_key")
    script:
        "../scripts/pseudonym_key.py"


rule pseudonyms:
    input:
        key=P.pseudonym_key,
        splits=P.splits,
        exclusions=P.exclusions,
    output:
        mapping=P.pseudonyms,
        exclusions=report(f"{REPORT_DIR}/exclusions_pseudonymised.csv", caption="../report/exclusions.rst",
                          category="Data", subcategory="Exclusions", labels={"figure": "exclusions table"}),
    threads: cpus("pseudonyms")
    resources:
        **size("pseudonyms"),
    log:
        P.log("pseudonyms"),
    benchmark:
        P.benchmark("pseudonyms")
    script:
        "../scripts/pseudonyms.py"


rule cohort_report:
    input:
        splits=P.splits,
        exclusions=P.exclusions,
        targets=P.targets,
    output:
        flow=report(f"{REPORT_DIR}/cohort_flow.png", caption="../report/cohort_flow.rst",
                    category="Data", subcategory="Cohort", labels={"figure": "cohort flow"}),
        flow_csv=f"{REPORT_DIR}/cohort_flow.csv",
        baseline=report(f"{REPORT_DIR}/baseline_characteristics.html", caption="../report/baseline.rst",
                        category="Data", subcategory="Cohort", labels={"figure": "baseline characteristics"}),
    threads: cpus("cohort_report")
    resources:
        **size("cohort_report"),
    log:
        P.log("cohort_report"),
    benchmark:
        P.benchmark("cohort_report")
    script:
        "../scripts/cohort_report.py"


ALL_TARGETS += [rules.exclusions_summary.output.png, rules.benchmarks_summary.output.png]
ALL_TARGETS += [rules.pseudonyms.output.exclusions, rules.cohort_report.output.flow]

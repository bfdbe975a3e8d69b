# Last stage file: gathers every stage's exclusions into one table for the report.


rule exclusions:
    input:
        EXCLUSION_TABLES,
    output:
        table=report(
            P.exclusions,
            category="Data",
            subcategory="Exclusions",
            caption="../report/exclusions.rst",
        ),
    resources:
        mem_mb=1000,
        runtime=10,
        cpus_per_task=1,
    log:
        P.log("exclusions"),
    benchmark:
        P.benchmark("exclusions")
    script:
        "../scripts/exclusions.py"


ALL_TARGETS += [P.exclusions]

# Last stage file: gathers every stage's exclusions into one table for the report.


rule exclusions:
    input:
        EXCLUSION_TABLES,
    output:
        # not a report item: it names participants (report.smk shows a pseudonymised copy)
        table=P.exclusions,
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

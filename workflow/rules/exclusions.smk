# Last stage file: gathers every stage's exclusions into one table for the report.


rule exclusions:
    input:
        EXCLUSION_TABLES,
    output:
        # not a report item: it names participants (report.smk shows a pseudonymised copy)
        table=P.exclusions,
    threads: cpus("exclusions")
    resources:
        **size("exclusions"),
    log:
        P.log("exclusions"),
    benchmark:
        P.benchmark("exclusions")
    script:
        "../scripts/exclusions.py"


ALL_TARGETS += [P.exclusions]

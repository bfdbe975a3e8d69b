# Ingest: raw UK Biobank files (or the synthetic cohort) -> caches.
# Per-subject work is scattered over shards (ecgcmr.ids.shard_of) and gathered into
# one index per modality; every step writes an exclusions table instead of failing.


if cfg("cohort", "synthetic"):

    rule synth_cohort:
        output:
            done=P.synth_done,
            main_table=table_inputs()["main_table"],
            **{k: v for k, v in table_inputs().items() if k == "diagnoses_table"},
            latents=Path(cfg("cohort", "truth_dir"), "latents.parquet").as_posix(),
        params:
            cohort=cfg("cohort"),
            synth=cfg("synth"),
            phenotype_fields=cfg("phenotype_fields"),
            demographic_fields=cfg("demographic_fields"),
            outcomes=cfg("outcomes"),
        threads: cpus("synth_cohort")
        resources:
            **size("synth_cohort"),
        log:
            P.log("synth_cohort"),
        benchmark:
            P.benchmark("synth_cohort")
        script:
            "../scripts/synth_cohort.py"


rule bulk_index:
    input:
        raw_ready,
    output:
        ecg=P.bulk_ecg,
        cmr=P.bulk_cmr,
        exclusions=P.bulk_exclusions,
    params:
        ecg_dir=cfg("cohort", "ecg_dir"),
        cmr_dir=cfg("cohort", "cmr_dir"),
        instance=cfg("cohort", "instance"),
    threads: cpus("bulk_index")
    resources:
        **size("bulk_index"),
    log:
        P.log("bulk_index"),
    benchmark:
        P.benchmark("bulk_index")
    script:
        "../scripts/bulk_index.py"


rule ingest_ecg:
    input:
        raw_ready,
        bulk=P.bulk_ecg,
    output:
        shard=P.ecg_shard,
        exclusions=P.ecg_shard_exclusions,
    params:
        ecg_dir=cfg("cohort", "ecg_dir"),
        n_shards=cfg("ingest", "n_shards"),
        # all but the normalisation, which the cache is read with (ecg_norm_stats)
        ecg={k: v for k, v in cfg("ecg").items() if k != "normalisation"},
    threads: cpus("ingest_ecg")
    resources:
        **size("ingest_ecg"),
    log:
        P.log("ingest_ecg", "_{shard}"),
    benchmark:
        P.benchmark("ingest_ecg", "_{shard}")
    script:
        "../scripts/ingest_ecg.py"


rule ecg_index:
    input:
        shards=expand(P.ecg_shard, shard=SHARDS),
    output:
        index=P.ecg_index,
        exclusions=P.ecg_index_exclusions,
    threads: cpus("ecg_index")
    resources:
        **size("ecg_index"),
    log:
        P.log("ecg_index"),
    benchmark:
        P.benchmark("ecg_index")
    script:
        "../scripts/ecg_index.py"


rule ingest_cmr:
    input:
        raw_ready,
        bulk=P.bulk_cmr,
    output:
        index=P.cmr_shard_index,
        exclusions=P.cmr_shard_exclusions,
    params:
        cmr_dir=cfg("cohort", "cmr_dir"),
        out_dir=lambda wc, output: Path(output.index).parent.as_posix(),  # cines beside the shard index
        n_shards=cfg("ingest", "n_shards"),
        cmr={**cfg("cmr"), "instance": cfg("cohort", "instance")},
    threads: cpus("ingest_cmr")
    resources:
        **size("ingest_cmr"),
    log:
        P.log("ingest_cmr", "_{shard}"),
    benchmark:
        P.benchmark("ingest_cmr", "_{shard}")
    script:
        "../scripts/ingest_cmr.py"


rule cmr_index:
    input:
        shards=expand(P.cmr_shard_index, shard=SHARDS),
    output:
        index=P.cmr_index,
    threads: cpus("cmr_index")
    resources:
        **size("cmr_index"),
    log:
        P.log("cmr_index"),
    benchmark:
        P.benchmark("cmr_index")
    script:
        "../scripts/cmr_index.py"


rule ingest_tables:
    input:
        raw_ready,
        unpack(table_inputs),
    output:
        targets=P.targets,
        exclusions=P.targets_exclusions,
        provenance=P.targets_provenance,
    params:
        phenotype_fields=cfg("phenotype_fields"),
        demographic_fields=cfg("demographic_fields"),
        outcomes=cfg("outcomes"),
        instance=cfg("cohort", "instance"),
        outcome_window=config["outcome_window"],
        outcome_fields=config["outcome_fields"],
    threads: cpus("ingest_tables")
    resources:
        **size("ingest_tables"),
    log:
        P.log("ingest_tables"),
    benchmark:
        P.benchmark("ingest_tables")
    script:
        "../scripts/ingest_tables.py"


rule splits:
    input:
        raw_ready,
        targets=P.targets,
        ecg=P.bulk_ecg,
        cmr=P.bulk_cmr,
    output:
        splits=P.splits,
    params:
        paired=cfg("splits", "paired"),
        ecg_only=cfg("splits", "ecg_only"),
        seed=cfg("splits", "seed"),
        labelled_ecg_test=cfg("splits", "labelled_ecg_test"),
    threads: cpus("splits")
    resources:
        **size("splits"),
    log:
        P.log("splits"),
    benchmark:
        P.benchmark("splits")
    script:
        "../scripts/splits.py"


rule ecg_norm_stats:
    input:
        index=P.ecg_index,
        splits=P.splits,
    output:
        stats=P.ecg_norm_stats,
    params:
        mode=cfg("ecg", "normalisation"),
    threads: cpus("ecg_norm_stats")
    resources:
        **size("ecg_norm_stats"),
    log:
        P.log("ecg_norm_stats"),
    benchmark:
        P.benchmark("ecg_norm_stats")
    script:
        "../scripts/ecg_norm_stats.py"


EXCLUSION_TABLES += [
    P.bulk_exclusions,
    *expand(P.ecg_shard_exclusions, shard=SHARDS),
    P.ecg_index_exclusions,
    *expand(P.cmr_shard_exclusions, shard=SHARDS),
    P.targets_exclusions,
]
ALL_TARGETS += [P.ecg_index, P.cmr_index, P.targets, P.splits, P.ecg_norm_stats]

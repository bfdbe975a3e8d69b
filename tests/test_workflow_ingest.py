"""The ingest stage of the shared tiny Snakemake run: caches, exclusions, splits."""

import pandas as pd
import pytest

from conftest_workflow import TINY_RESULTS, tiny_run  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]


def test_every_subject_is_cached_or_excluded_with_a_reason(tiny_run):  # noqa: F811
    res = tiny_run / TINY_RESULTS
    latents = pd.read_parquet(res / "raw" / "truth" / "latents.parquet")
    faults = pd.read_csv(res / "raw" / "truth" / "faults.csv", dtype=str)
    ecg = pd.read_parquet(res / "ecg" / "index.parquet")
    cmr = pd.read_parquet(res / "cmr" / "index.parquet")
    excl = pd.read_csv(res / "exclusions.csv", dtype=str, keep_default_na=False)
    assert len(faults) == 2
    # nothing silently dropped: each subject is in the cache or in the exclusions table
    assert set(ecg.eid) | set(excl[excl.stage == "ingest_ecg"].eid) == set(latents.eid)
    imaged = set(latents[latents.has_cmr].eid)
    assert set(cmr.eid) | set(excl[excl.stage == "ingest_cmr"].eid) == imaged
    assert not set(ecg.eid) & set(excl[excl.stage == "ingest_ecg"].eid)
    reasons = dict(zip(excl.eid + "/" + excl.stage, excl.reason))
    for f in faults.itertuples():
        stage = "ingest_ecg" if f.fault == "truncated_xml" else "ingest_cmr"
        assert reasons[f"{f.eid}/{stage}"] in {"truncated_xml", "corrupt_zip"}
    assert (excl.reason != "").all() and (excl.path != "").all()


def test_splits_come_from_the_cohort_and_never_leak(tiny_run):  # noqa: F811
    res = tiny_run / TINY_RESULTS
    latents = pd.read_parquet(res / "raw" / "truth" / "latents.parquet")
    splits = pd.read_parquet(res / "splits.parquet")
    # a damaged file does not reshuffle the cohort: pairing follows the raw files
    assert set(splits[splits.paired].eid) == set(latents[latents.has_cmr].eid)
    held_out = set(splits.loc[splits.paired_split.isin(["val", "test"]), "eid"])
    assert not held_out & set(splits.loc[splits.pretrain == "train", "eid"])


def test_rules_leave_logs_and_benchmarks(tiny_run):  # noqa: F811
    res = tiny_run / TINY_RESULTS
    for rule in ("ingest_ecg_0", "ingest_cmr_1", "splits", "ecg_norm_stats", "exclusions"):
        assert (res / "logs" / f"{rule}.log").exists(), rule
        bench = pd.read_csv(res / "benchmarks" / f"{rule}.tsv", sep="\t")
        assert bench["s"].iloc[0] > 0

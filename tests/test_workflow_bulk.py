"""A RAP-style nested bulk tree with instance-2, instance-3 and _2_1 files runs through
ingest with snakemake (tiny config), and every file not used is listed with its reason."""

import pandas as pd
import pytest

from conftest_workflow import REPO, TINY, snakemake
from ecgcmr.paths import Paths

pytestmark = [pytest.mark.slow]
TINY_RAP = REPO / "tests" / "configs" / "tiny_rap.yaml"


def test_nested_tree_with_repeats_ingests_one_file_per_subject(tmp_path):
    P = Paths("results/tiny_rap")
    wanted = [P.bulk_exclusions, P.ecg_index, P.ecg_index_exclusions, P.cmr_index, P.splits, P.targets,
              *(p.format(shard=s) for p in (P.ecg_shard_exclusions, P.cmr_shard_exclusions) for s in (0, 1))]
    snakemake(tmp_path, "--cores", "2", *wanted, configfiles=(TINY, TINY_RAP))
    res = tmp_path / "results" / "tiny_rap"
    raw = res / "raw" / "Bulk"
    files = {str(p.relative_to(tmp_path)) for p in raw.rglob("*") if p.is_file()}
    assert any(p.count("/") >= 6 for p in files)     # really nested: Bulk/<kind>/<sub>/<prefix>/<file>
    extra = pd.read_csv(res / "raw" / "truth" / "extra_files.csv", dtype=str)
    assert set(extra.kind) == {"other_instance", "repeat_file", "other_instance_only"}
    ecg, cmr = pd.read_parquet(res / "ecg" / "index.parquet"), pd.read_parquet(res / "cmr" / "index.parquet")
    excl = pd.concat([pd.read_csv(tmp_path / p, dtype=str, keep_default_na=False) for p in wanted
                      if p.endswith("exclusions.csv")], ignore_index=True)
    # every file below the tree is used by ingest or listed with its reason
    used = set(ecg.source) | set(cmr.source)
    listed = set(excl.path)
    assert files <= used | listed, sorted(files - used - listed)[:5]
    assert not used & set(excl.loc[excl.stage == "bulk_index", "path"])
    bulk = excl[excl.stage == "bulk_index"]
    for r in extra.itertuples():
        reason = "other_instance" if r.kind == "other_instance_only" else r.kind
        assert reason in set(bulk.loc[bulk.path == r.path, "reason"]), r
    assert not ecg.eid.duplicated().any() and not cmr.eid.duplicated().any()
    assert "duplicate_eid" not in set(excl.reason)         # repeats never reach the caches
    # no subject paired without a cine file ingest reads (or an ingest_cmr row saying why not)
    splits = pd.read_parquet(res / "splits.parquet")
    paired = set(splits[splits.paired].eid)
    assert paired <= set(cmr.eid) | set(excl.loc[excl.stage == "ingest_cmr", "eid"])
    only3 = extra.loc[extra.kind == "other_instance_only", "eid"]
    assert not paired & set(only3) and set(only3) <= set(splits.eid[splits.has_ecg])
    assert len(pd.read_parquet(res / "tables" / "targets.parquet")) == 48

"""Bulk folders as downloaded: flat (ukbfetch) and nested per prefix (RAP), searched
recursively once; one file per subject of cohort.instance, the others listed."""

from pathlib import Path

import pandas as pd

from ecgcmr.bulk import build_index, exclusions, files_for_shard, shard_files
from ecgcmr.splits import bulk_eids


def _touch(root: Path, *names: str) -> None:
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def _tree(root: Path) -> Path:
    _touch(root,
           "1000010_20209_2_0.zip",                          # flat, as ukbfetch writes
           "10/1000011_20209_2_0.zip", "10/1000011_20209_3_0.zip",   # RAP nested; repeat imaging visit
           "10/1000012_20209_2_0.zip", "10/1000012_20209_2_1.zip",   # repeat of the same instance
           "20/2000013_20209_3_0.zip",                        # instance 3 only
           "20/2000014_20209_2_0.zip", "2000014_20209_2_0.zip",      # same file twice (flat + nested)
           "20/2000015_20208_2_0.zip", "20/notes.txt", "bulk.lis")   # other field, stray files
    return root


def test_nested_and_flat_files_are_found_and_one_is_used_per_subject(tmp_path):
    index = build_index(_tree(tmp_path), 20209, "zip", instance=2)
    used = index[index.use].set_index("eid")
    assert sorted(used.index) == ["1000010", "1000011", "1000012", "2000014"]
    assert Path(used.loc["1000012", "path"]).name == "1000012_20209_2_0.zip"
    reasons = {(r.eid, Path(r.path).name): r.reason for r in exclusions(index)}
    assert reasons == {("1000011", "1000011_20209_3_0.zip"): "other_instance",
                       ("1000012", "1000012_20209_2_1.zip"): "repeat_file",
                       ("2000013", "2000013_20209_3_0.zip"): "other_instance",
                       ("2000014", "2000014_20209_2_0.zip"): "duplicate_file"}
    assert len(index) == 8   # every file of the field is either used or listed


def test_shards_and_cli_listing_use_the_same_one_file_per_subject(tmp_path):
    _tree(tmp_path)
    index = build_index(tmp_path, 20209, "zip", instance=2)
    by_shard = [shard_files(index, s, 2) for s in range(2)]
    listed = [files_for_shard(tmp_path, 20209, "zip", s, 2, instance=2) for s in range(2)]
    assert by_shard == listed
    names = sorted(p.name for ps in listed for p in ps)
    assert names == ["1000010_20209_2_0.zip", "1000011_20209_2_0.zip", "1000012_20209_2_0.zip",
                     "2000014_20209_2_0.zip"]


def test_splits_count_only_files_ingest_will_use(tmp_path):
    _tree(tmp_path)
    eids = bulk_eids(tmp_path, 20209, instance=2)
    assert sorted(eids) == ["1000010", "1000011", "1000012", "2000014"]   # not 2000013 (instance 3 only)
    index = build_index(tmp_path, 20209, "zip", instance=2)
    index.to_parquet(tmp_path / "cmr.parquet")
    assert sorted(bulk_eids(tmp_path / "cmr.parquet", 20209)) == sorted(eids)
    assert isinstance(index, pd.DataFrame)


def test_reasons_name_the_file_that_is_used(tmp_path):
    _tree(tmp_path)
    rows = {r.reason: r.detail for r in exclusions(build_index(tmp_path, 20209, "zip", instance=2))}
    assert rows["repeat_file"] == ("instance 2 array 1: 1000012_20209_2_0.zip (array 0) is used, "
                                   "one file per subject")
    assert rows["duplicate_file"].startswith("another copy of 2000014_20209_2_0.zip is used: ")
    assert rows["other_instance"] == "instance 3; cohort.instance is 2"


def test_two_zips_of_one_subject_and_instance_give_one_cine_and_no_crash(tmp_path):
    """Before: both zips were ingested to {eid}.nii.gz (the second overwriting the first)
    and cmr_index stopped with 'eids in more than one shard'."""
    from conftest_cmr import tiny_cohort, write_tiny

    from ecgcmr.cmr.ingest import gather_cmr_index, ingest_cmr_shard

    row = next(tiny_cohort(1).itertuples())
    zpath, _ = write_tiny(tmp_path / "raw", row)
    zpath.with_name(zpath.name.replace("_2_0", "_2_1")).write_bytes(zpath.read_bytes())
    shards = [ingest_cmr_shard(tmp_path / "raw", s, 2, tmp_path / "nifti", tmp_path / f"i{s}.parquet",
                               tmp_path / f"x{s}.csv", {"instance": 2}) for s in range(2)]
    index = gather_cmr_index([tmp_path / f"i{s}.parquet" for s in range(2)], tmp_path / "index.parquet")
    assert len(index) == 1 and Path(index.source[0]).name.endswith("_2_0.zip")
    assert sum(len(s) for s in shards) == 1

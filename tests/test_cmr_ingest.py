"""CMR ingest of a shard: NIfTI cines on the ground-truth grid, index, exclusions,
gather and the ``ecgcmr ingest-cmr`` command."""

from __future__ import annotations

import argparse

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from conftest_cmr import tiny_cohort, write_tiny

from ecgcmr import exclusions
from ecgcmr.cli import COMMANDS
from ecgcmr.cmr.ingest import add_arguments, cli, gather_cmr_index, ingest_cmr_shard
from ecgcmr.ids import shard_of


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmr")
    raw = root / "raw"
    cohort = tiny_cohort(4, seed=11)
    for i, row in enumerate(cohort.itertuples()):
        quirks = {"inline_vf": 1.0, "repeat_slice": 1.0} if i == 1 else {}
        write_tiny(raw, row, seed=0, quirks=quirks)
    (raw / "9999999_20209_2_0.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    (raw / "notes.txt").write_text("not a bulk file")
    return root, cohort


def test_shard_ingest_writes_cines_index_and_exclusions(cohort_dir, tmp_path):
    root, cohort = cohort_dir
    out = tmp_path / "nifti"
    index = ingest_cmr_shard(root / "raw", 0, 1, out, tmp_path / "idx.parquet", tmp_path / "ex.csv",
                             {"prefer_repeat": "last"})
    assert sorted(index.eid) == sorted(cohort.eid)
    on_disk = pd.read_parquet(tmp_path / "idx.parquet")
    assert on_disk.eid.dtype == "string" or on_disk.eid.dtype == object
    assert {"eid", "path", "nx", "ny", "nz", "nt", "dx", "dy", "dz", "n_series", "quirks"} <= set(on_disk.columns)
    for r in on_disk.itertuples():
        img = nib.load(r.path)
        truth = nib.load(root / "raw" / "masks" / f"{r.eid}_labels.nii.gz")
        assert img.shape == truth.shape == (r.nx, r.ny, r.nz, r.nt) == (32, 32, 6, 16)
        assert np.array_equal(img.affine, truth.affine)
        zooms = img.header.get_zooms()
        assert zooms[:3] == pytest.approx((r.dx, r.dy, r.dz), abs=1e-4) and zooms[3] > 20
        assert img.header.get_xyzt_units() == ("mm", "msec")
        assert img.get_data_dtype() == np.uint16
    quirky = on_disk.set_index("eid").loc[cohort.eid.iloc[1]]
    assert quirky.n_series == 8 and "repeated acquisition" in quirky.quirks and "InlineVF" in quirky.quirks
    ex = exclusions.read(tmp_path / "ex.csv")
    assert ex.eid.tolist() == ["9999999"]
    assert ex.reason.tolist() == ["corrupt_zip"] and ex.stage.tolist() == ["ingest_cmr"]
    assert not list(out.glob("*.part*"))


def test_shards_partition_the_cohort_and_gather(cohort_dir, tmp_path):
    root, cohort = cohort_dir
    indexes = []
    for shard in range(2):
        p = tmp_path / f"shard_{shard}.parquet"
        idx = ingest_cmr_shard(root / "raw", shard, 2, tmp_path / "nifti", p, tmp_path / f"ex{shard}.csv", {})
        assert all(shard_of(e, 2) == shard for e in idx.eid)
        indexes.append(p)
    gathered = gather_cmr_index(indexes, tmp_path / "index.parquet")
    assert gathered.eid.tolist() == sorted(cohort.eid)
    assert pd.read_parquet(tmp_path / "index.parquet").eid.tolist() == sorted(cohort.eid)


def test_empty_shard_writes_valid_empty_outputs(tmp_path):
    (tmp_path / "raw").mkdir()
    index = ingest_cmr_shard(tmp_path / "raw", 0, 2, tmp_path / "nifti", tmp_path / "i.parquet",
                             tmp_path / "e.csv", {})
    assert len(index) == 0
    df = pd.read_parquet(tmp_path / "i.parquet")
    assert len(df) == 0 and {"eid", "path", "nx", "dz"} <= set(df.columns)
    assert len(exclusions.read(tmp_path / "e.csv")) == 0
    assert len(gather_cmr_index([tmp_path / "i.parquet"], tmp_path / "all.parquet")) == 0


def test_cli(cohort_dir, tmp_path):
    """``ecgcmr ingest-cmr``: the command table points here; its arguments reach the shard
    ingest (parsed as ecgcmr.cli does, without importing every other stage)."""
    root, cohort = cohort_dir
    assert COMMANDS["ingest-cmr"][:2] == ("ecgcmr.cmr.ingest", "cli")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--cmr-dir", str(root / "raw"), "--out-dir", str(tmp_path / "n"),
                              "--index", str(tmp_path / "i.parquet"), "--exclusions", str(tmp_path / "e.csv"),
                              "--instance", "2", "--prefer-repeat", "first"])
    assert cli(args) == 0
    index = pd.read_parquet(tmp_path / "i.parquet")
    assert sorted(index.eid) == sorted(cohort.eid)
    assert "kept first" in index.set_index("eid").loc[cohort.eid.iloc[1], "quirks"]

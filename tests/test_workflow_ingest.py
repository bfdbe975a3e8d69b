"""A real Snakemake run of the ingest rules on a tiny synthetic cohort."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ecgcmr import exclusions

pytestmark = pytest.mark.slow


def tiny_config(tmp: Path) -> dict:
    raw = tmp / "raw"
    return {
        "results_dir": str(tmp / "results"),
        "cohort": {"synthetic": True, "ecg_dir": str(raw / "ecg"), "cmr_dir": str(raw / "cmr"),
                   "main_table": str(raw / "tables" / "ukb_main.csv"),
                   "diagnoses_table": str(raw / "tables" / "diagnoses.csv"),
                   "truth_dir": str(raw / "truth"), "instance": 2},
        "synth": {"n_subjects": 24, "cmr_fraction": 0.5, "seed": 5,
                  "cmr": {"matrix": 32, "pixel_spacing_mm": 6.0, "n_slices": 8, "n_frames": 20,
                          "slice_thickness_mm": 8.0, "slice_gap_mm": 2.0, "es_fraction": 0.33, "noise": 0.05},
                  "faults": {"truncated_xml": 1, "truncated_zip": 1}},
        "ingest": {"n_shards": 2},
    }


@pytest.fixture(scope="module")
def ingest_run(tmp_path_factory, repo_root):
    tmp = tmp_path_factory.mktemp("ingest")
    cfg_path = tmp / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(tmp)))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo_root / "Snakefile"),
           "--directory", str(tmp), "--configfile", str(cfg_path), "--cores", "2",
           str(tmp / "results" / "splits.parquet"), str(tmp / "results" / "ecg" / "norm_stats.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return tmp


def test_ingest_rules_build_caches_and_list_damaged_files(ingest_run):
    res = ingest_run / "results"
    latents = pd.read_parquet(ingest_run / "raw" / "truth" / "latents.parquet")
    faults = pd.read_csv(ingest_run / "raw" / "truth" / "faults.csv", dtype=str)
    ecg = pd.read_parquet(res / "ecg" / "index.parquet")
    cmr = pd.read_parquet(res / "cmr" / "index.parquet")
    tables = [*res.glob("ecg/**/*exclusions.csv"), *res.glob("cmr/**/*exclusions.csv"),
              res / "tables" / "targets.exclusions.csv"]
    excl = exclusions.gather(tables, ingest_run / "all_exclusions.csv")
    # every subject is either cached or excluded with a reason: nothing silently dropped
    assert set(ecg.eid) | set(excl[excl.stage == "ingest_ecg"].eid) == set(latents.eid)
    imaged = set(latents[latents.has_cmr].eid)
    assert set(cmr.eid) | set(excl[excl.stage == "ingest_cmr"].eid) == imaged
    assert set(faults.eid) <= set(excl.eid)
    assert excl.reason.notna().all() and (excl.reason != "").all()
    splits = pd.read_parquet(res / "splits.parquet")
    assert set(splits[splits.paired].eid) == set(ecg.eid) & set(cmr.eid)
    assert (res / "ecg" / "norm_stats.json").exists()
    for rule in ("ingest_ecg_0", "ingest_cmr_1", "splits"):
        assert (res / "logs" / f"{rule}.log").exists() and (res / "benchmarks" / f"{rule}.tsv").exists()

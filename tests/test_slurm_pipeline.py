"""The tiny pipeline through `snakemake --profile profiles/slurm` on a real SLURM
controller (tests/slurm/start-local-slurm.sh) gives what a local run gives.

The SLURM run covers the cluster features end to end without the whole pipeline's
~15-level chain of jobs (each level costs a submit + poll cycle, ~20 s): the synthetic
cohort, the grouped per-shard `ingest_ecg` (one SLURM job for both shards), the
ungrouped per-shard `ingest_cmr`, the gathers, and a GPU training rule (pretrain_ecg).
"""

from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest_slurm import ci_profile, run_id, sbatch_calls, slurm_jobs, start_local_slurm
from conftest_workflow import TINY_RESULTS, snakemake, tiny_run  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]

TARGETS = [f"{TINY_RESULTS}/models/ecg_mae_tiny/encoder.pt", f"{TINY_RESULTS}/cmr/index.parquet",
           f"{TINY_RESULTS}/ecg/norm_stats.json"]
SKIP_DIRS = {"logs", "benchmarks", "models"}  # run-specific (times, hosts) or trained weights


def deterministic_outputs(results: Path) -> list[Path]:
    return sorted(p.relative_to(results) for p in results.rglob("*")
                  if p.is_file() and not SKIP_DIRS & set(p.relative_to(results).parts))


def assert_same_content(a: Path, b: Path):
    name = a.name
    if name.endswith(".parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
    elif name.endswith(".nii.gz"):  # gzip headers carry a timestamp: compare the image
        ia, ib = nib.load(a), nib.load(b)
        np.testing.assert_array_equal(ia.get_fdata(), ib.get_fdata())
        np.testing.assert_array_equal(ia.affine, ib.affine)
    elif name.endswith(".json"):
        assert json.loads(a.read_text()) == json.loads(b.read_text()), name
    else:
        assert filecmp.cmp(a, b, shallow=False), f"{a} differs from {b}"


def test_tiny_pipeline_as_slurm_jobs_matches_the_local_run(tiny_run, tmp_path):  # noqa: F811
    start_local_slurm()
    profile, env = ci_profile(tmp_path / "profile")
    work = tmp_path / "slurm"
    proc = snakemake(work, "--profile", str(profile), "--verbose", *TARGETS, env=env, timeout=1200)
    output = proc.stdout + proc.stderr

    # every job ran as a SLURM job, and slurmctld saw each one complete
    jobs = slurm_jobs(run_id(output))
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    assert sorted(submitted) == sorted(j["id"] for j in jobs) and jobs
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    finished = re.findall(r"Finished jobid: \S+ \(Rule: (\w+)\)", output)
    assert {"synth_cohort", "ingest_ecg", "ingest_cmr", "ecg_index", "cmr_index", "splits",
            "ecg_norm_stats", "pretrain_ecg"} <= set(finished)

    # the profile's grouping: both ingest_ecg shards in one SLURM job, asking for the
    # sum of their CPUs; ingest_cmr stays one job per shard
    assert finished.count("ingest_ecg") == 2
    ecg_jobs = [j for j in jobs if "ingest_ecg" in j["comment"]]
    assert len(ecg_jobs) == 1 and "ingest_ecg_shards" in ecg_jobs[0]["comment"], ecg_jobs
    assert len([j for j in jobs if j["rule"] == "ingest_cmr"]) == 2

    # the GPU rule was given a GPU by SLURM, and its pre-kill signal was requested
    gpu_jobs = [j for j in jobs if j["rule"] == "pretrain_ecg"]
    assert len(gpu_jobs) == 1 and "gpu" in gpu_jobs[0]["tres_per_job"], gpu_jobs
    gpu_calls = [c for c in sbatch_calls(output) if "rule_pretrain_ecg" in c]
    assert len(gpu_calls) == 1 and "--gpus=1" in gpu_calls[0] and "--signal=USR1@300" in gpu_calls[0]
    assert "-p debug" in gpu_calls[0]  # $ECGCMR_SLURM_GPU_PARTITION, expanded at submission

    # same caches, tables and cohort as the local run of the same config
    slurm_res, local_res = work / TINY_RESULTS, tiny_run / TINY_RESULTS
    files = deterministic_outputs(slurm_res)
    assert any(f.suffix == ".parquet" for f in files)
    for rel in files:
        assert (local_res / rel).is_file(), f"{rel}: only in the SLURM run"
        assert_same_content(slurm_res / rel, local_res / rel)
    # training on one CPU (SLURM) vs the local threads: same data, same seed, same curve
    history = [pd.read_csv(r / "models" / "ecg_mae_tiny" / "history.csv") for r in (slurm_res, local_res)]
    np.testing.assert_allclose(history[0]["val_loss"], history[1]["val_loss"], rtol=1e-3)

"""A training job survives SLURM's pre-kill signal: checkpoint, fail, retry, resume.

Real parts only: the local SLURM cluster (tests/slurm/start-local-slurm.sh), the user
profile profiles/slurm (with tests/slurm/ci-profile.yaml's test-node overrides), and the
pipeline's training loop (ecgcmr.train.loop.fit) in a one-rule workflow. Instead of
waiting for a time limit (SLURM checks those only every ~30 s), the test sends the job
the signal the profile asks SLURM for (`--signal=USR1@300`: SIGUSR1 to the job's steps)
with `scancel --signal=USR1`, once the first epoch is checkpointed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest_slurm import REPO, ci_profile, run_id, sbatch_calls, slurm_jobs, start_local_slurm

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.xdist_group("slurm")]

WORKFLOW = REPO / "tests" / "slurm" / "resume" / "Snakefile"
CONFIG = ["epochs=4", "step_sleep_s=0.3"]  # 8 steps of 0.3 s: ~2.5 s per epoch


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(WORKFLOW),
            "--directory", str(workdir), "--config", *CONFIG, *args]


def wait_for(condition, proc, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"snakemake exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.5)


def test_signalled_training_job_checkpoints_and_resumes_on_retry(tmp_path):
    start_local_slurm()
    profile, env = ci_profile(tmp_path / "profile")
    work = tmp_path / "slurm"
    work.mkdir()
    # the reference, an uninterrupted local run, meanwhile (the SLURM run mostly waits)
    local = tmp_path / "local"
    local.mkdir()
    reference = subprocess.Popen(snakemake_cmd(local, "--cores", "1", "--quiet"),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log_path = tmp_path / "snakemake.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(snakemake_cmd(work, "--profile", str(profile), "--verbose"),
                                stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
        ckpt = work / "model" / "checkpoint.pt"
        wait_for(ckpt.exists, proc, 240, "the first epoch's checkpoint")
        run = run_id(log_path.read_text())
        running = [j for j in slurm_jobs(run) if j["state"] == "RUNNING"]
        assert [j["rule"] for j in running] == ["pretrain_ecg"], running
        subprocess.run(["scancel", "--signal=USR1", running[0]["id"]], check=True)
        try:
            rc = proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"snakemake did not finish; log: {log_path}")
    output = log_path.read_text()
    assert rc == 0, output[-4000:]

    # SLURM saw one failed attempt and one completed retry, both with the GPU (gres)
    jobs = slurm_jobs(run)
    assert sorted(j["state"] for j in jobs) == ["COMPLETED", "FAILED"], jobs
    assert all(j["rule"] == "pretrain_ecg" and "gpu" in j["tres_per_job"] for j in jobs), jobs
    calls = sbatch_calls(output)
    assert len(calls) == 2 and all("--signal=USR1@300" in c and "--gpus=1" in c for c in calls)

    # the trainer ran twice, on the stand-in GPU, and the second run started from the checkpoint
    summary = json.loads((work / "model" / "summary.json").read_text())
    attempts = summary["attempts"]
    assert [a["had_checkpoint"] for a in attempts] == [False, True]
    assert {a["slurm_job_id"] for a in attempts} == {j["id"] for j in jobs}
    assert all(a["cuda_visible_devices"] == "0" for a in attempts)
    assert summary["epochs_completed"] == 4
    assert "resuming from" in (work / "logs" / "pretrain_ecg.log").read_text()

    # ... and ended where an uninterrupted local run ends
    ref_out, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, ref_out[-3000:]
    resumed = torch.load(work / "model" / "weights.pt", weights_only=True)
    uninterrupted = torch.load(local / "model" / "weights.pt", weights_only=True)
    for name, w in uninterrupted.items():
        torch.testing.assert_close(resumed[name], w, rtol=0, atol=1e-6)

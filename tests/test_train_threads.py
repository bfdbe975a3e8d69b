"""Trainer threads follow the job's allocation (ecgcmr.train.threads, issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys

from ecgcmr.train.threads import allocated_cpus


def test_thread_count_is_the_smallest_of_request_slurm_and_affinity(monkeypatch):
    visible = len(os.sched_getaffinity(0))
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert allocated_cpus(None) == visible
    assert allocated_cpus(10_000) == visible          # never more than the cores we may run on
    assert allocated_cpus(1) == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert allocated_cpus(10_000) == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "")     # unset-like values are ignored
    assert allocated_cpus(None) == visible


def test_configure_threads_sets_passive_waits_before_torch_and_one_interop_thread():
    code = ("import os; from ecgcmr.train.threads import configure_threads; import torch; "
            "n = configure_threads(1); print(os.environ['OMP_WAIT_POLICY'], n, torch.get_num_threads(), "
            "torch.get_num_interop_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "SLURM_CPUS_PER_TASK")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["PASSIVE", "1", "1", "1"]

"""The bring-up script itself: idempotent, and it leaves nothing holding its lock.

CI once timed out here: munged inherited the script's lock descriptor, so the second
call (from the second SLURM test) waited on a lock the daemon held for its lifetime."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest_slurm import START_SCRIPT, start_local_slurm

pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm")]
LOCK = "/run/ecgcmr-local-slurm.lock"


def _holders(path: str) -> list[str]:
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            fds = list(fd_dir.iterdir())
        except OSError:  # the process ended or is not ours to read
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == path:
                    cmdline = (fd_dir.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    # another test's bring-up (the pipeline test runs in the other
                    # xdist worker) holds the lock while it runs: that is the lock working
                    if START_SCRIPT.name not in cmdline:
                        holders.append((fd_dir.parent / "comm").read_text().strip())
            except OSError:
                continue
    return holders


def test_no_daemon_keeps_the_start_lock():
    start_local_slurm()
    assert _holders(LOCK) == []


def test_a_second_start_finds_the_cluster_running():
    start_local_slurm()
    t0 = time.monotonic()
    proc = subprocess.run([str(START_SCRIPT)], capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr
    assert "already running" in proc.stdout
    # generous: it only pings slurmctld and reads the node state
    assert time.monotonic() - t0 < 30

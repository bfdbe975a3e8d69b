"""Two runs on one results_dir: a second run stops naming the first (host, pid, start
time); a stale lock is detected and explained."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from ecgcmr import runlock

from . import data
from .registry import Silent, case, refused

AREA = "results_dir lock"


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def _write_lock(results: Path, **owner) -> None:
    results.mkdir(parents=True, exist_ok=True)
    runlock.lock_path(results).write_text(json.dumps(owner))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@case("lock_live_same_host", AREA, "a second run while a live process on this host holds results_dir",
      "refused naming host, pid and start time of the first")
def _live(tmp):
    proc = _sleeper()
    try:
        _write_lock(Path(tmp) / "r", host=socket.gethostname(), pid=proc.pid, started="2026-12-02 09:00:00 UTC",
                    workdir="/first")
        refused(lambda: runlock.acquire(Path(tmp) / "r", log=lambda m: None), runlock.RunLockedError,
                socket.gethostname(), str(proc.pid), "2026-12-02 09:00:00")
    finally:
        proc.kill()
        proc.wait()


@case("lock_stale_same_host", AREA, "a lock left by a run that was killed (its pid is gone)",
      "detected as stale, explained (whose it was), taken over")
def _stale(tmp):
    said = []
    _write_lock(Path(tmp) / "r", host=socket.gethostname(), pid=_dead_pid(), started="yesterday")
    mine = runlock.acquire(Path(tmp) / "r", log=said.append)
    if not said or "stale" not in said[0] or "yesterday" not in said[0]:
        raise Silent(f"stale lock taken over without explanation: {said}")
    if runlock.read_lock(Path(tmp) / "r")["pid"] != mine["pid"]:
        raise Silent("lock not taken over")


@case("lock_other_host", AREA, "a lock taken on another cluster node",
      "refused naming that host, with how to clear it if that run is dead")
def _other_host(tmp):
    _write_lock(Path(tmp) / "r", host="node-a17", pid=4242, started="2026-12-01 22:00:00 UTC")
    refused(lambda: runlock.acquire(Path(tmp) / "r"), runlock.RunLockedError, "node-a17", "4242",
            "2026-12-01 22:00:00", "delete")


@case("lock_unreadable", AREA, "a lock file cut short when its writer died", "replaced, with a message saying so")
def _garbled(tmp):
    said = []
    (Path(tmp) / "r").mkdir()
    runlock.lock_path(Path(tmp) / "r").write_text('{"host": "x", "pi')
    runlock.acquire(Path(tmp) / "r", log=said.append)
    if not said or "unreadable" not in said[0]:
        raise Silent(f"replaced silently: {said}")


@case("lock_release_keeps_foreign", AREA, "a run ends while another run's lock is in place",
      "release leaves the other run's lock alone")
def _release(tmp):
    _write_lock(Path(tmp) / "r", host="node-b", pid=1, started="now")
    runlock.release(Path(tmp) / "r", {"host": socket.gethostname(), "pid": 99})
    if not runlock.lock_path(Path(tmp) / "r").exists():
        raise Silent("another run's lock was removed")


@case("two_snakemake_workdirs_one_results_dir", AREA,
      "snakemake from a second working directory on a results_dir a live run holds",
      "the second snakemake stops before any job, naming the first run")
def _two_workdirs(tmp):
    from conftest_workflow import SNAKEFILE

    results = Path(tmp) / "shared_results"
    cfg = Path(tmp) / "over.yaml"
    cfg.write_text(f"results_dir: {results}\n")
    proc = _sleeper()
    try:
        _write_lock(results, host=socket.gethostname(), pid=proc.pid, started="2026-12-02 08:00:00 UTC",
                    workdir=str(Path(tmp) / "first"))
        (Path(tmp) / "second").mkdir()
        t0 = time.time()
        out = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
                              str(Path(tmp) / "second"), "--configfile", str(data.TINY), str(cfg), "--cores", "1",
                              str(results / "raw" / "synth.done")], capture_output=True, text=True, timeout=120)
    finally:
        proc.kill()
        proc.wait()
    text = out.stdout + out.stderr
    if out.returncode == 0:
        raise Silent(f"second run went ahead ({time.time() - t0:.0f} s)")
    for needle in ("in use by another ecgcmr run", str(proc.pid), "2026-12-02 08:00:00"):
        if needle not in text:
            raise Silent(f"second run failed without naming the first ({needle!r} missing):\n{text[-2000:]}")
    if (results / "raw" / "synth.done").exists():
        raise Silent("a job ran despite the lock")

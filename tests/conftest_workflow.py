"""Running the real workflow from tests (imported explicitly by tests/test_workflow_*.py
and tests/test_slurm_*.py, not a pytest conftest).

``tiny_run`` is one local run of `all` on tests/configs/tiny.yaml, shared by every test
in the process that needs a finished pipeline (report, params rerun, SLURM comparison):
those tests carry ``xdist_group("tiny_run")`` so pytest-xdist runs them in one worker.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TINY = REPO / "tests" / "configs" / "tiny.yaml"
TINY_RESULTS = "results/tiny"  # results_dir of tiny.yaml, relative to the workdir


def snakemake(workdir: Path, *args: str, configfiles=(TINY,), check: bool = True,
              timeout: int = 1200, env: dict | None = None) -> subprocess.CompletedProcess:
    """``snakemake`` on the repo's Snakefile in ``workdir`` (outputs land there)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--directory", str(workdir), "--configfile", *map(str, configfiles), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                    + failure_summary(workdir, proc.stdout + proc.stderr))
    return proc


def failure_summary(workdir: Path, output: str) -> str:
    """The 'Error in rule' blocks and the tail of each failed rule's log, else the
    output's tail: what one needs to see of a failed run."""
    blocks = re.findall(r"Error in rule \w+:.*?(?=\n\[|\nShutting down|\Z)", output, re.S)
    if not blocks:
        return output[-6000:]
    parts = []
    for block in blocks:
        parts.append(block)
        m = re.search(r"log: (\S+?)(?:,| \(|\n)", block)
        log = Path(workdir, m[1]) if m else None
        if log and log.is_file():
            parts.append(f"--- {m[1]} (tail) ---\n" + "\n".join(log.read_text().splitlines()[-25:]))
    return "\n".join(parts)[-8000:]


def planned_jobs(dry_run_output: str) -> Counter:
    """Rule -> job count from the 'Job stats' table of a dry run (empty: nothing to do)."""
    jobs: Counter = Counter()
    in_table = False
    for line in dry_run_output.splitlines():
        if re.match(r"^job\s+count\s*$", line):
            in_table = True
        elif in_table and (m := re.match(r"^(\w+)\s+(\d+)\s*$", line)):
            if m[1] == "total":
                break
            jobs[m[1]] += int(m[2])
    return jobs


_RUNS: dict[str, Path | str] = {}


def tiny_run_dir(tmp_path_factory) -> Path:
    """Run `all` on the tiny config once per process; later callers get the same dir."""
    if "tiny" not in _RUNS:
        work = tmp_path_factory.mktemp("tiny_run")
        proc = snakemake(work, "--cores", "2", "all", check=False)
        _RUNS["tiny"] = work if proc.returncode == 0 else (
            f"the tiny pipeline run failed ({proc.returncode}):\n"
            + failure_summary(work, proc.stdout + proc.stderr))
    if isinstance(_RUNS["tiny"], str):
        pytest.fail(_RUNS["tiny"])
    return _RUNS["tiny"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    return tiny_run_dir(tmp_path_factory)


def tiny_report_path(tmp_path_factory) -> Path:
    """`snakemake --report` of the finished tiny run, built once per process (every
    test that inspects the report can share it); the file lies in the run's results."""
    if "report" not in _RUNS:
        work = tiny_run_dir(tmp_path_factory)
        report = work / TINY_RESULTS / "report.html"
        proc = snakemake(work, "--cores", "1", "--report", str(report), "all", check=False)
        _RUNS["report"] = report if proc.returncode == 0 and report.is_file() else (
            f"snakemake --report on the tiny run failed ({proc.returncode}):\n"
            + (proc.stdout + proc.stderr)[-6000:])
    if isinstance(_RUNS["report"], str):
        pytest.fail(_RUNS["report"])
    return _RUNS["report"]

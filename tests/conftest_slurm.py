"""The real one-node SLURM cluster and the SLURM profile as the tests use them
(imported explicitly by tests/test_slurm_*.py, not a pytest conftest)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
USER_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
CI_OVERRIDES = REPO / "tests" / "slurm" / "ci-profile.yaml"
START_SCRIPT = REPO / "tests" / "slurm" / "start-local-slurm.sh"
SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel")


def _which(name: str) -> str | None:
    # daemons live in /usr/sbin, which a non-login PATH may lack
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def start_local_slurm() -> str:
    """Start (or find running) the local cluster; skip, saying why, where impossible."""
    missing = [b for b in SLURM_BINARIES if _which(b) is None]
    if missing:
        pytest.skip(f"SLURM test skipped: {', '.join(missing)} not installed "
                    "(`make system-packages` as root installs slurm-wlm and munge)")
    if os.geteuid() != 0:
        pytest.skip("SLURM test skipped: starting munged/slurmctld/slurmd needs root "
                    f"(run {START_SCRIPT.relative_to(REPO)} as root, or `make test` as root)")
    proc = subprocess.run([str(START_SCRIPT)], capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:  # root with the packages: a failure is a real failure
        pytest.fail(f"start-local-slurm.sh failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip()


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def ci_profile(dest: Path, configfile: Path = TINY) -> tuple[Path, dict]:
    """Write profiles/slurm with the test-cluster overrides into ``dest``; returns the
    profile folder and the environment (os.environ + the profile's variables).

    The user profile sets no sizes (they are the config's ``resources:``), so the test
    node's caps become this profile's own set-resources/set-threads: every rule's size
    under ``configfile``, capped to what the node has."""
    from ecgcmr.config import load_config

    profile = yaml.safe_load(USER_PROFILE.read_text())
    ci = yaml.safe_load(CI_OVERRIDES.read_text())
    profile = _merge(profile, ci["profile"])
    sizes = load_config(configfile)["resources"]
    set_resources = profile.setdefault("set-resources", {})
    for rule, size in sizes.items():
        set_resources[rule] = {**set_resources.get(rule, {}),
                               **{k: min(v, ci["cap-resources"][k]) for k, v in size.items()}}
    profile["set-threads"] = {r: min(s["cpus_per_task"], ci["cap-threads"]) for r, s in sizes.items()}
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest, {**os.environ, **ci["environment"]}


def run_id(snakemake_output: str) -> str:
    """The SLURM plugin's run id: every job of one Snakemake run has it as job name."""
    m = re.search(r"SLURM run ID: (\S+)", snakemake_output)
    assert m, "no 'SLURM run ID' in Snakemake's output: did it use the slurm executor?"
    return m.group(1)


def slurm_jobs(name: str) -> list[dict]:
    """Every job of a run, as slurmctld remembers it (MinJobAge=3600 keeps finished ones):
    id, state, the plugin's comment ('rule_<rule>_wildcards_<...>'), GRES, exit code."""
    out = subprocess.run(["squeue", "--states=all", "--noheader", "--name", name,
                          "--format=%i|%T|%k|%b"], capture_output=True, text=True, check=True).stdout
    jobs = []
    for line in out.splitlines():
        jid, state, comment, tres = line.split("|")
        show = subprocess.run(["scontrol", "show", "job", jid], capture_output=True, text=True).stdout
        gres = re.search(r"TresPerJob=(\S+)", show)
        jobs.append({"id": jid, "state": state, "comment": comment, "tres_per_node": tres,
                     "tres_per_job": gres.group(1) if gres else "",
                     "rule": re.sub(r"^rule_|_wildcards_.*$", "", comment)})
    return jobs


def sbatch_calls(snakemake_output: str) -> list[str]:
    """The sbatch command lines the plugin ran (logged with --verbose)."""
    return re.findall(r"sbatch call: (.*)", snakemake_output)

"""profiles/slurm fits the workflow as it is (no cluster needed): every rule it names
exists, every GPU rule gets a GPU, every trainer gets the pre-kill signal its loop
handles, and Snakemake's retries reach the trainers under the cluster config. Sizes
have one home, the config's `resources:`: the profile sets none, every rule reads its
own entry, and config/ukb.yaml's sizes are what the SLURM jobs get."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from functools import cache

import pytest
import yaml

from conftest_workflow import REPO, TINY, snakemake
from ecgcmr.config import load_config

PROFILE = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
SET_RESOURCES = PROFILE["set-resources"]
# rules that train with ecgcmr.train.loop (checkpoint + resume on SIGTERM/SIGUSR1)
TRAINERS = {"train_segmenter", "pretrain_ecg", "pretrain_cmr", "align", "label_control"}
SIZE_KEYS = {"mem_mb", "mem", "mem_mib", "runtime", "cpus_per_task", "threads"}
UKB = REPO / "config" / "ukb.yaml"
SIGNAL = re.compile(r"--signal=(?:B:)?(?P<sig>USR1|SIGUSR1|TERM|SIGTERM)@(?P<lead>\d+)")

# Loads the workflow through Snakemake's API, without --cores as under the SLURM
# executor, and prints per rule its own `retries:` (None = the command line's
# --retries), the resources its .smk declares and its sizes (threads as _cores).
RULES_SCRIPT = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, ResourceSettings, StorageSettings
with SnakemakeApi() as api:
    wapi = api.workflow(resource_settings=ResourceSettings(), storage_settings=StorageSettings(),
                        config_settings=ConfigSettings(configfiles=[Path(p) for p in sys.argv[3:]]),
                        workdir=Path(sys.argv[2]), snakefile=Path(sys.argv[1]))
    wf = wapi._get_workflow()
    wf.include(wapi.snakefile, overwrite_default_target=True, print_compilation=False)
    print("RULES=" + json.dumps({r.name: {"retries": r._restart_times,
                                          "resources": sorted(r.resources.keys()),
                                          "gpu": r.resources["gpu"].raw if "gpu" in r.resources else None,
                                          "sizes": {k: v.raw for k, v in r.resources.items()
                                                    if k in ("mem_mb", "runtime", "cpus_per_task", "_cores")}}
                                 for r in wf.rules}))
"""


@cache
def workflow_rules(*configfiles: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", RULES_SCRIPT, str(REPO / "Snakefile"), str(REPO),
                           *configfiles], capture_output=True, text=True, timeout=300)
    m = re.search(r"^RULES=(.*)$", proc.stdout, re.M)
    assert m, f"could not load the workflow without --cores (as under SLURM):\n{proc.stderr[-3000:]}"
    return json.loads(m[1])


def test_every_rule_the_profile_names_exists():
    rules = set(workflow_rules())
    named = set(SET_RESOURCES) | set(PROFILE.get("set-threads", {})) | set(PROFILE.get("groups", {}))
    assert named - rules == set(), f"profile names rules the workflow lacks: {named - rules}"
    groups = set(PROFILE.get("groups", {}).values())
    assert groups == set(PROFILE.get("group-components", {})), "each group needs its component count"


def test_gpu_rules_hold_the_local_gpu_token_only_where_there_is_a_gpu():
    """The local profile's one `gpu` token serialises the GPU rules; on a host without a
    GPU (CI, the demo) they declare gpu=0 and run side by side (they declared 1 before,
    so the demo's trainers ran one at a time on 2 cores)."""
    from ecgcmr.core.gpus import visible_gpus

    declared = {name: r["gpu"] for name, r in workflow_rules().items() if "gpu" in r["resources"]}
    assert declared.keys() >= TRAINERS
    assert set(declared.values()) == {min(1, visible_gpus())}, declared


def test_gpu_rules_get_a_gpu_on_the_gpu_partition():
    gpu_rules = {name for name, r in workflow_rules().items() if "gpu" in r["resources"]}
    assert gpu_rules >= TRAINERS & set(workflow_rules()), "trainers must declare gpu=1"
    for name in gpu_rules:
        res = SET_RESOURCES.get(name)
        assert res, f"GPU rule {name} has no cluster sizing in profiles/slurm"
        assert res.get("gpu", 0) >= 1 or "gpu" in str(res.get("gres", "")), name
        assert res.get("slurm_partition") == "$ECGCMR_SLURM_GPU_PARTITION", name


def test_trainers_get_a_prekill_signal_their_loop_handles():
    from ecgcmr.train import loop

    handled = {s.name for s in loop._StopFlag.SIGNALS}
    for name in TRAINERS & set(workflow_rules()):
        res = SET_RESOURCES[name]
        m = SIGNAL.search(str(res.get("slurm_extra", "")))
        assert m, f"{name}: slurm_extra lacks --signal=USR1@<seconds>"
        assert not m[0].startswith("--signal=B:"), f"{name}: B: would signal only the batch shell"
        assert "SIG" + m["sig"].removeprefix("SIG") in handled, f"{name}: loop ignores {m['sig']}"
        # the checkpoint needs the lead time, and the job must run long before it
        # (the time limit is the rule's runtime at UK Biobank scale, config/ukb.yaml)
        assert 60 <= int(m["lead"]) <= load_config(UKB)["resources"][name]["runtime"] * 60 // 4, name


@pytest.mark.parametrize("configfile", [None, "config/ukb.yaml"])
def test_retries_reach_the_trainers(configfile):
    assert PROFILE["retries"] >= 1
    rules = workflow_rules(*([str(REPO / configfile)] if configfile else []))
    for name in TRAINERS & set(rules):
        own = rules[name]["retries"]
        # a rule's own `retries:` (even 0) overrides the profile's --retries
        assert own is None or own >= 1, (
            f"rule {name} sets `retries: {own}`, which overrides the profile's retries: "
            "a job killed at its time limit would not be resubmitted to resume")


@pytest.mark.slow
def test_snakemake_accepts_the_profile(tmp_path):
    # every key must be a Snakemake or SLURM-plugin option; -n builds the whole DAG
    # with the profile's resources and groups, without submitting anything
    proc = snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles" / "slurm"), "all",
                     configfiles=(TINY,))
    assert "Job stats" in proc.stdout + proc.stderr


def test_the_loop_stops_on_the_signals_the_profile_uses():
    from ecgcmr.train import loop

    assert {signal.SIGTERM, signal.SIGUSR1} <= set(loop._StopFlag.SIGNALS)


def test_the_profile_sets_no_sizes():
    # a size in the profile silently wins over the config's (ukb.yaml's align
    # cpus_per_task 16 ran as the profile's 8): sizes belong to the config alone
    assert "set-threads" not in PROFILE
    for where, res in [("default-resources", PROFILE.get("default-resources", {})),
                       *((f"set-resources.{r}", v) for r, v in SET_RESOURCES.items())]:
        assert not SIZE_KEYS & set(res), f"profiles/slurm {where} sets {sorted(SIZE_KEYS & set(res))}"


@pytest.mark.parametrize("configfile", [None, UKB])
def test_every_rule_has_a_size_and_threads_from_its_config_entry(configfile):
    rules = workflow_rules(*([str(configfile)] if configfile else []))
    sizes = load_config(configfile or REPO / "config" / "config.yaml")["resources"]
    for name, rule in rules.items():
        if name == "all":
            continue
        assert rule["sizes"] == {**sizes[name], "_cores": sizes[name]["cpus_per_task"]}, name
    # the schema names every rule and no other (a stale entry would size nothing)
    assert set(sizes) >= set(rules) - {"all"}
    assert set(sizes) <= set(workflow_rules()) | {"train_segmenter", "synth_cohort"}


def test_each_rule_reads_its_own_entry(tmp_path):
    # a distinct size per rule: a rule reading another's entry shows as a wrong number
    names = sorted(load_config(TINY)["resources"])
    over = tmp_path / "sizes.yaml"
    over.write_text(yaml.safe_dump({"resources": {n: {"mem_mb": 10_000 + i} for i, n in enumerate(names)}}))
    rules = workflow_rules(str(TINY), str(over))
    assert {n: r["sizes"]["mem_mb"] for n, r in rules.items() if n != "all"} == {
        n: 10_000 + i for i, n in enumerate(names) if n in rules}


def test_ukb_sizes_cover_what_the_profile_sized():
    ukb = yaml.safe_load(UKB.read_text())["resources"]
    heavy = {"ingest_ecg", "ingest_cmr", "ingest_tables", "ecg_norm_stats", "train_segmenter", "segment",
             "crop", "pretrain_ecg", "pretrain_cmr", "align", "embed", "shared_space", "probe", "probe_vit"}
    assert heavy <= set(ukb), f"config/ukb.yaml sizes none of {sorted(heavy - set(ukb))}"


@pytest.mark.slow
def test_the_slurm_jobs_get_the_sizes_ukb_yaml_gives(tmp_path):
    # the tiny DAG with config/ukb.yaml's sizes, planned under the real profile: what
    # each job would be submitted with
    ukb = yaml.safe_load(UKB.read_text())["resources"]
    sizes = tmp_path / "ukb-sizes.yaml"
    sizes.write_text(yaml.safe_dump({"resources": ukb}))
    proc = snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles" / "slurm"), "all",
                     configfiles=(TINY, sizes))
    jobs = re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", proc.stdout, re.M)
    assert jobs
    seen = set()
    for rule, line in jobs:
        res = dict(kv.split("=", 1) for kv in line.split(", "))
        if rule in ukb:
            seen.add(rule)
            assert {k: int(res[k]) for k in ukb[rule]} == ukb[rule], rule
    assert "align" in seen and re.search(r"^rule align:\n(?:    .*\n)*?    resources: .*cpus_per_task=16\b",
                                         proc.stdout, re.M)

"""Every run compares each variant with the baseline: the real `snakemake -n` of `all`
on the tiny config plans compare_gates and compare_deltas, the deltas read every Table 1
probe job and the gates, the gates read the trained models and no probe, and a run
without the baseline in Table 1 has nothing to compare."""

from __future__ import annotations

import pytest
import yaml

from conftest_workflow import TINY, TINY_RESULTS, planned_jobs, snakemake
from ecgcmr.paths import Paths

pytestmark = pytest.mark.slow   # four dry runs of the DAG, a few seconds each

TINY_CFG = yaml.safe_load(TINY.read_text())
P = Paths(TINY_RESULTS)


def planned(workdir, *targets, configfiles=(TINY,)):
    return planned_jobs(snakemake(workdir, "-n", "--quiet", "rules", "--", *targets,
                                  configfiles=configfiles).stdout)


def test_all_plans_the_comparison_and_the_gates(tmp_path):
    jobs = planned(tmp_path, "all")
    assert jobs["compare_gates"] == 1 and jobs["compare_deltas"] == 1, jobs


def test_deltas_read_every_table1_probe_job_and_the_gates_read_none(tmp_path):
    ev = TINY_CFG["evaluate"]
    deltas = planned(tmp_path, P.deltas("md"))
    assert deltas["probe"] == len(ev["representations"]) * len(ev["seeds"]), deltas
    assert deltas["compare_gates"] == 1 and "probe_vit" not in deltas, deltas
    gates = planned(tmp_path, P.gates("csv"))
    assert gates["align"] == len(ev["representations"]) - 1 and gates["pretrain_ecg"] == 1, gates
    assert gates["pretrain_cmr"] == 2, gates   # the ED and ES encoders of gate 2
    assert not {"probe", "embed", "compare_deltas"} & set(gates), gates


def test_without_the_baseline_in_table1_there_is_nothing_to_compare(tmp_path):
    no_baseline = tmp_path / "no_baseline.yaml"
    no_baseline.write_text(yaml.safe_dump({"evaluate": {"representations": ["dual_phase"]}}))
    jobs = planned(tmp_path, "all", configfiles=(TINY, no_baseline))
    assert jobs["probe"] > 0 and not {"compare_gates", "compare_deltas"} & set(jobs), jobs

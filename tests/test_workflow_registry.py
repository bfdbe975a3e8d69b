"""An alignment variant is one config entry: the "How to add" example of
docs/architecture.md, layered over the tiny config, is planned by a real `snakemake -n`
(its alignment, embedding and probes) and shows in Table 1 under its label; a name no
config declares is refused, in the config and in the probe results."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest_evaluate import probe_job, probe_jobs
from conftest_workflow import REPO, TINY, planned_jobs, snakemake
from ecgcmr.config import ConfigError, load_config, representation_labels
from ecgcmr.evaluate.tables import table1

pytestmark = pytest.mark.slow   # three dry runs of the whole DAG, a few seconds each

DOC = (REPO / "docs" / "architecture.md").read_text()
HOW_TO = DOC[DOC.index("### An alignment variant"):]
EXAMPLE = yaml.safe_load(re.search(r"```yaml\n(.*?)```", HOW_TO, re.S)[1])
NEW = next(v for v in EXAMPLE["align"]["variants"])
LABEL = EXAMPLE["align"]["variants"][NEW]["label"]


@pytest.fixture
def example_config(tmp_path):
    path = tmp_path / "new_variant.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE))
    return path


def test_the_dag_plans_a_new_variant_from_config_alone(tmp_path, example_config):
    tiny = yaml.safe_load(TINY.read_text())
    seeds = len(tiny["evaluate"]["seeds"])
    before = planned_jobs(snakemake(tmp_path, "-n", "--quiet", "rules", "all").stdout)
    after = planned_jobs(snakemake(tmp_path, "-n", "--quiet", "rules", "all",
                                   configfiles=(TINY, example_config)).stdout)
    assert NEW not in load_config(TINY)["align"]["variants"]
    assert after["align"] == before["align"] + 1
    assert after["embed"] == before["embed"] + 1
    assert after["probe"] == before["probe"] + seeds
    # its own files are targets the DAG knows (the representation wildcard pattern)
    table = f"{tiny['results_dir']}/probes/{NEW}/LVEF/seed{tiny['evaluate']['seeds'][0]}.json"
    planned = snakemake(tmp_path, "-n", "--quiet", "rules", "--", table, configfiles=(TINY, example_config))
    assert planned_jobs(planned.stdout)["probe"] == 1


def test_a_representation_no_variant_declares_stops_the_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"evaluate": {"representations": ["baseline", "dual_phas"]}}))
    proc = snakemake(tmp_path, "-n", "all", configfiles=(TINY, bad), check=False)
    assert proc.returncode != 0
    assert "evaluate.representations: unknown representation 'dual_phas'" in proc.stdout + proc.stderr
    with pytest.raises(ConfigError, match=r"bad\.yaml.*unknown representation 'dual_phas'"):
        load_config(bad)
    for name in ("vit_x", "bad-name", "baseline"):
        ill = tmp_path / "ill.yaml"
        ill.write_text(yaml.safe_dump({"align": {"variants": {name: {"label": "x", "pairs": [["ecg", "ed"]],
                                                                      "weights": [1]}}}}))
        with pytest.raises(ConfigError, match=re.escape(f"variant name {name!r} is not usable")):
            load_config(ill)


def test_table1_shows_the_new_variant_under_its_label(tmp_path, example_config):
    cfg = load_config(example_config)
    reps = cfg["evaluate"]["representations"]
    labels = representation_labels(cfg)
    # the later a row, the better its predictions: the new variant, last, is best
    noise = {rep: 1.0 / (1 + 3 * i) for i, rep in enumerate(reps)}
    paths, preds = probe_jobs(tmp_path, noise, ("LVDV", "LVEF", "AF"), [0], 60)
    assert reps[-1] == NEW
    table1(paths, preds, tmp_path / "tables", reps, {r: labels[r] for r in reps}, n_boot=200)
    md = (tmp_path / "tables" / "table1.md").read_text()
    assert f"| {LABEL} | **" in md   # best of the rows
    # a result the config does not declare is an error, not a dropped row
    stray, _ = probe_job(tmp_path, "3d_ed", 0, ("LVEF",), 0.1, 60)
    with pytest.raises(ValueError, match="unknown representation"):
        table1([*paths, *stray], preds, tmp_path / "tables", reps, {r: labels[r] for r in reps})

"""ViT sizes and CMR views are declared once, in the tables of ecgcmr.specs: the
schema, the rules' wildcard patterns and Tables 2-3 derive from them, an unknown name
stops the run at load time naming the known ones, and a view added to the table (the
"How to add" of docs/architecture.md) is picked up by every derivation."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest_workflow import REPO, TINY, planned_jobs, snakemake
from ecgcmr.config import ConfigError, load_config
from ecgcmr import specs

SIZES, VIEWS = list(specs.VIT_SIZES), list(specs.VIEWS)
# the files that listed the names again before they derived them
DERIVED = [REPO / "workflow" / "schemas" / "config.schema.yaml", REPO / "src" / "ecgcmr" / "evaluate" / "tables.py",
           *sorted((REPO / "workflow" / "rules").glob("*.smk"))]


def _overlay(tmp_path, cfg: dict):
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("names", [SIZES, VIEWS], ids=["sizes", "views"])
def test_no_workflow_file_lists_the_names_again(names):
    # two of the names side by side in an enum, a list or a regex alternation is a copy
    # (prose such as "ed3d/es3d" in a description is not)
    pair = re.compile(rf"\b{re.escape(names[0])}\s*[|,]\s*{re.escape(names[1])}\b")
    for path in DERIVED:
        assert not pair.search(path.read_text()), f"{path.relative_to(REPO)} lists {names} again"


@pytest.mark.parametrize("key,over", [
    ("pretrain_ecg.sizes", {"pretrain_ecg": {"sizes": ["tiny", "huge"]}}),
    ("align.ecg_size", {"align": {"ecg_size": "huge"}}),
    ("evaluate.vit_sizes", {"evaluate": {"vit_sizes": ["huge"]}}),
])
def test_an_unknown_size_is_one_error_naming_it_and_the_known(tmp_path, key, over):
    with pytest.raises(ConfigError, match=re.escape(f"{key}: unknown ViT size 'huge'; known: {SIZES}")):
        load_config(_overlay(tmp_path, over))


def test_an_unknown_view_or_modality_is_one_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(f"pretrain_cmr.views: unknown CMR view 'mid3d'; known: {VIEWS}")):
        load_config(_overlay(tmp_path, {"pretrain_cmr": {"views": ["mid3d"]}}))
    with pytest.raises(ConfigError, match=re.escape("align.phase_encoder: unknown phase encoder '2d'; known: ['3d', '2.5d']")):
        load_config(_overlay(tmp_path, {"align": {"phase_encoder": "2d"}}))
    bad = {"align": {"variants": {"x": {"label": "X", "pairs": [["ecg", "mid3d"]], "weights": [1]}}}}
    with pytest.raises(ConfigError, match=r"align\.variants\.x\.pairs: unknown modality 'mid3d'"):
        load_config(_overlay(tmp_path, bad))


def test_a_view_added_to_the_table_is_picked_up_by_every_derivation(tmp_path, monkeypatch):
    # the "How to add" example: one row, a new view over an existing crop
    monkeypatch.setitem(specs.VIEWS, "es2d", specs.ViewSpec("ES", "image"))
    assert re.fullmatch(specs.pattern(specs.VIEWS), "es2d")
    cfg = load_config(_overlay(tmp_path, {
        "pretrain_cmr": {"views": ["es2d"]},
        "align": {"run": ["es_2d"], "variants": {"es_2d": {"label": "ECG 2D ES", "pairs": [["ecg", "es2d"]],
                                                            "weights": [1]}}}}))
    assert cfg["pretrain_cmr"]["views"] == ["es2d"]
    assert specs.align_view("es2d", "3d") == "es2d"
    # the ed/es phase encoders stay unambiguous: a 2D view is not a phase encoder
    assert [specs.phase_view(m, k) for m in ("ed", "es") for k in ("3d", "2.5d")] == ["ed3d", "ed25d", "es3d", "es25d"]
    from ecgcmr.models.cmr_encoders import build_cmr_encoder
    import torch

    enc = build_cmr_encoder("es2d", n_targets=2, backbone="resnet10")
    assert enc.embed(torch.zeros(2, 1, 32, 32)).shape == (2, 512)


@pytest.mark.slow   # two dry runs of the DAG, a few seconds each
def test_the_dag_plans_a_view_and_a_size_no_demo_config_uses(tmp_path):
    # ed25d (2.5D) and size small are rows of the tables that tiny.yaml never names
    assert "ed25d" not in load_config(TINY)["pretrain_cmr"]["views"]
    over = _overlay(tmp_path, {"pretrain_cmr": {"views": ["ed25d"]}, "pretrain_ecg": {"sizes": ["small"]},
                               "align": {"phase_encoder": "2.5d"}})
    jobs = planned_jobs(snakemake(tmp_path, "-n", "--quiet", "rules", "all", configfiles=(TINY, over)).stdout)
    assert jobs["pretrain_cmr"] == 2     # ed25d and es25d (the 2.5D phase encoders of dual_phase)
    assert jobs["pretrain_ecg"] == 2     # small, and tiny for the alignment and the baseline
    bad = _overlay(tmp_path, {"pretrain_ecg": {"sizes": ["huge"]}})
    proc = snakemake(tmp_path, "-n", "all", configfiles=(TINY, bad), check=False)
    assert proc.returncode != 0
    assert f"pretrain_ecg.sizes: unknown ViT size 'huge'; known: {SIZES}" in proc.stdout + proc.stderr

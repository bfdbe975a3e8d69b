"""The label control (issue 14): the MAE encoder fine-tuned with an MSE on the
phenotypes, as a real stage on the pipeline's file formats; its gate; its config."""

import copy
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from ecgcmr.config import ConfigError, check_variants, compare_pairs, label_targets, load_config
from ecgcmr.evaluate import gates as G

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_label_control_stage_learns_the_targets_and_writes_an_alignment_folder(tmp_path):
    from conftest_align import shared_cohort

    from ecgcmr.models import load_ecg_encoder, save_ecg_encoder
    from ecgcmr.models.vit_mae import EcgMAE
    from ecgcmr.train.label_control import label_control

    c = shared_cohort()
    torch.manual_seed(0)
    save_ecg_encoder(EcgMAE(embed_dim=32, depth=1, num_heads=2, patch_size=500, decoder=False), tmp_path / "mae.pt")
    out = tmp_path / "align_label_control"
    train = {"epochs": 3, "batch_size": 8, "lr": 1e-3, "warmup_epochs": 1, "seed": 0}
    args = (["LVDV", "LVEF"], str(tmp_path / "mae.pt"), c["ecg_index"], c["ecg_norm_stats"], c["crop_index"],
            c["targets"], c["splits"])
    summary = label_control("label_control", *args, str(out), train=train, head_hidden=16)

    for name in ("ecg_encoder.pt", "head.pt", "metrics.json", "history.csv", "curve.png", "checkpoint.pt"):
        assert (out / name).stat().st_size > 0
    before, after = load_ecg_encoder(tmp_path / "mae.pt"), load_ecg_encoder(out / "ecg_encoder.pt")
    x = torch.randn(2, 12, 5000)
    with torch.no_grad():
        assert not torch.allclose(before.embed(x), after.embed(x))   # the encoder itself trained
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["objective"] == G.LABELS and set(metrics["val_r2"]) == {"LVDV", "LVEF"}
    hist = pd.read_csv(out / "history.csv")
    assert summary["best_val_loss"] <= hist["val_loss"].iloc[0]
    # the alignment's subjects: paired train/val with crops and an ECG
    splits = pd.read_parquet(c["splits"])
    assert metrics["n_val"] == (splits.paired_split == "val").sum()
    head = torch.load(out / "head.pt", weights_only=True)
    assert head["targets"]["columns"] == ["LVDV", "LVEF"]

    # its gates: the MAE's and its own; the LVEF gate (CMR encoders) is not its
    assert [g.gate for g in G.alignment_gates(out, 8)] == ["label control mean validation R²"]
    mae = tmp_path / "mae_dir"
    mae.mkdir()
    pd.DataFrame({"epoch": [0], "val_loss": [0.5]}).to_csv(mae / "history.csv", index=False)
    table = G.science_gates(mae, out, 8, lvef_r2=0.9)
    assert G.LVEF_GATE not in set(table["gate"]) and len(table) == 2


def test_label_gate_is_the_mean_validation_r2():
    assert G.label_gate({"a": 0.2, "b": 0.0}).value == pytest.approx(0.1)
    assert G.label_gate({"a": 0.2, "b": 0.0}).passed
    assert not G.label_gate({"a": 0.04, "b": float("nan")}).passed   # NaN (one class) left out
    assert not G.label_gate({"a": float("nan")}).passed


def demo():
    return load_config(ROOT / "config" / "config.yaml")


def test_label_control_targets_default_to_what_the_cmr_encoders_learn():
    cfg = demo()
    assert label_targets(cfg, "label_control") == cfg["pretrain_cmr"]["targets"]
    cfg["align"]["variants"]["label_control"]["targets"] = ["LVEF"]
    assert label_targets(cfg, "label_control") == ["LVEF"]


@pytest.mark.parametrize("change, message", [
    (lambda v: v["label_control"].update(pairs=[["ecg", "ed"]]), "takes no pairs"),
    (lambda v: v["label_control"].update(targets=["LVXX"]), "not in phenotype_fields"),
    (lambda v: v["dual_phase"].pop("pairs"), "needs pairs and weights"),
])
def test_variant_objectives_are_checked_at_load_time(change, message):
    cfg = copy.deepcopy(demo())
    change(cfg["align"]["variants"])
    with pytest.raises(ConfigError, match=message):
        check_variants(cfg)


def test_compare_pairs_and_projection_name_table1_clip_rows():
    cfg = copy.deepcopy(demo())
    cfg["compare"]["pairs"] = [["dual_phase", "nope"]]
    with pytest.raises(ConfigError, match="compare.pairs: unknown representation 'nope'"):
        check_variants(cfg)
    # a known arm that this run does not table is left out, not an error
    cfg["compare"]["pairs"] = [["dual_phase", "label_control"], ["dual_phase", "baseline"]]
    cfg["evaluate"]["representations"] = ["baseline", "dual_phase"]
    check_variants(cfg)
    assert compare_pairs(cfg) == [["dual_phase", "baseline"]]
    cfg = copy.deepcopy(demo())
    cfg["evaluate"]["projection_variant"] = "label_control"   # no heads into a shared space
    with pytest.raises(ConfigError, match="projection_variant"):
        check_variants(cfg)

"""The science run's four gates: thresholds fixed in advance, read from the files the
trainers write, and a failed gate makes a run "not informative", never "no effect"."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from ecgcmr.evaluate import gates as G
from ecgcmr.evaluate.stats import BETTER, NO_DIFFERENCE


def _mae_dir(root, val_losses):
    """An MAE model folder with the history.csv columns the training loop writes."""
    d = root / "ecg_mae_tiny"
    d.mkdir(parents=True)
    n = len(val_losses)
    pd.DataFrame({"epoch": range(n), "lr": 1e-4, "train_loss": np.linspace(1.0, 0.5, n),
                  "val_loss": val_losses, "time_s": 1.0}).to_csv(d / "history.csv", index=False)
    return d


def _align_dir(root, top1_ed=0.3, top1_es=0.25, n_val=40, val_loss=1.5):
    """An alignment folder with the metrics.json keys train.align writes."""
    d = root / "align_dual_phase"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({
        "variant": "dual_phase", "top1_ecg_to_ed": top1_ed, "top1_ecg_to_es": top1_es, "chance": 1 / n_val,
        "best_val_loss": val_loss, "best_epoch": 3, "epochs": 5, "stopped_early": False,
        "temperature": 0.07, "n_train": 120, "n_val": n_val}, indent=2))
    return d


def test_thresholds_are_the_issues():
    assert G.mae_gate(0.7).passed and not G.mae_gate(0.71).passed
    assert G.lvef_gate(0.8).passed and not G.lvef_gate(0.79).passed
    assert G.retrieval_gate(0.05, 0.01, "ed").passed and not G.retrieval_gate(0.049, 0.01, "ed").passed
    assert G.clip_loss_gate(0.8 * math.log(64), 64).passed
    assert not G.clip_loss_gate(0.8 * math.log(64) + 1e-6, 64).passed
    assert not G.mae_gate(float("nan")).passed          # a missing value never passes
    with pytest.raises(ValueError, match="batch_size 1"):
        G.clip_loss_gate(0.1, 1)


def test_gates_from_the_trainers_files(tmp_path):
    mae = _mae_dir(tmp_path, [1.0, 0.8, 0.62, 0.65])          # best epoch: 0.62
    align = _align_dir(tmp_path, top1_ed=0.3, top1_es=0.1, n_val=40, val_loss=2.0)
    table = G.science_gates(mae, align, align_batch_size=16, lvef_r2=0.85)
    assert list(table.columns) == ["gate", "value", "threshold", "direction", "passed", "source"]
    rows = table.set_index("gate")
    assert rows.loc["MAE validation masked MSE", "value"] == pytest.approx(0.62)
    assert rows.loc["alignment top-1 retrieval ECG→ed (validation)", "threshold"] == pytest.approx(5 / 40)
    # ES retrieves at 4 x chance: that gate fails; the loss 2.0 <= 0.8 ln 16 = 2.22 passes
    assert list(table["passed"]) == [True, True, True, False, True]
    assert G.run_status(table).startswith("not informative") and "ECG→es" in G.run_status(table)
    assert str(align / "metrics.json") in set(table["source"])


def test_the_mae_gate_reads_the_masked_mse_under_the_authors_loss(tmp_path):
    # pretrain_ecg.loss authors: val_loss is MSE(all) + (1 - NCC); the gate stays on the
    # masked MSE of the best epoch (lowest val_loss), not on the lowest masked MSE
    d = _mae_dir(tmp_path, [1.9, 1.2, 1.3])
    hist = pd.read_csv(d / "history.csv")
    hist["val_masked_mse"] = [0.9, 0.66, 0.6]
    hist.to_csv(d / "history.csv", index=False)
    assert G.mae_val_masked_mse(d) == pytest.approx(0.66)


def test_a_failed_gate_makes_the_verdict_not_informative_never_no_effect(tmp_path):
    passing = G.science_gates(_mae_dir(tmp_path / "a", [0.5]), _align_dir(tmp_path / "a"), 16, 0.9)
    failing = G.science_gates(_mae_dir(tmp_path / "b", [0.95]), _align_dir(tmp_path / "b"), 16, 0.9)
    assert G.run_status(passing) == G.INFORMATIVE
    assert G.conclusion(passing, BETTER) == BETTER
    assert G.conclusion(passing, NO_DIFFERENCE) == NO_DIFFERENCE
    for verdict in (BETTER, NO_DIFFERENCE):
        said = G.conclusion(failing, verdict)
        assert said.startswith(G.NOT_INFORMATIVE) and "MAE" in said and verdict not in said
    assert G.run_status(G.gate_table([])).startswith(G.NOT_INFORMATIVE)


def test_missing_or_broken_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="history.csv"):
        G.mae_val_masked_mse(tmp_path)
    (tmp_path / "metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json: not JSON"):
        G.alignment_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"chance": 0.1}))
    with pytest.raises(ValueError, match="best_val_loss"):
        G.alignment_metrics(tmp_path)


def test_ridge_lvef_r2_finds_a_linear_lvef_and_not_noise():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 40))
    lvef = 60 + 5 * z[:, :3].sum(axis=1) + rng.normal(0, 1, 300)
    assert G.ridge_lvef_r2(z[:200], lvef[:200], z[200:], lvef[200:]) > 0.9
    noise = rng.normal(size=(300, 40))
    assert G.ridge_lvef_r2(noise[:200], lvef[:200], noise[200:], lvef[200:]) < 0.2


def test_cmr_lvef_r2_from_encoder_files(tmp_path):
    # the pipeline's own crops and encoder files; untrained encoders, so only the
    # plumbing is checked (ED then ES, paired train/val subjects, a finite R²)
    from conftest_align import paired_cohort
    from ecgcmr.models.cmr_encoders import build_cmr_encoder, encoder_state

    c = paired_cohort(tmp_path / "cohort", n=12, with_ecg=False)   # 7 train, 2 val subjects
    paths = {}
    for view in ("ed3d", "es3d"):
        torch.manual_seed(0)
        paths[view] = tmp_path / f"cmr_{view}.pt"
        torch.save(encoder_state(build_cmr_encoder(view, backbone="resnet10")), paths[view])
    # "auto", as the pipeline's evaluate.device passes it: the GPU if there is one
    r2 = G.cmr_lvef_r2(paths["ed3d"], paths["es3d"], c["crop_index"], c["targets"], c["splits"], batch_size=8,
                       device="auto")
    assert math.isfinite(r2) and r2 <= 1
    with pytest.raises(ValueError, match="an ED and an ES encoder"):
        G.cmr_lvef_r2(paths["es3d"], paths["ed3d"], c["crop_index"], c["targets"], c["splits"])

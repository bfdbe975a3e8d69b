"""CMR encoder pretraining: the masked MSE and target standardisation, and the real
``pretrain_cmr`` stage on tiny synthetic crops (real crop files, crop dataset, loop)."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ecgcmr.models import load_cmr_encoder
from ecgcmr.train.pretrain_cmr import observed_mse, pretrain_cmr, standardise

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(1)


def test_observed_mse_ignores_missing_targets():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[0.0, float("nan")], [1.0, 1.0]])
    assert observed_mse(pred, target).item() == pytest.approx((1 + 4 + 9) / 3)
    assert observed_mse(pred, torch.full_like(pred, float("nan"))).item() == 0.0
    pred.requires_grad_(True)
    observed_mse(pred, target).backward()
    assert pred.grad[0, 1] == 0 and torch.isfinite(pred.grad).all()


def test_standardise_uses_training_subjects_only():
    t = pd.DataFrame({"eid": ["a", "b", "c", "d"], "LVEF": [50.0, 60.0, 1000.0, np.nan]})
    out, stats = standardise(t, ["a", "b"], ["LVEF"])
    assert stats["mean"] == [55.0] and stats["std"][0] == pytest.approx(np.std([50, 60], ddof=1))
    assert out["LVEF"].iloc[:2].tolist() == pytest.approx([-math.sqrt(0.5), math.sqrt(0.5)])
    assert np.isnan(out["LVEF"].iloc[3])


@pytest.mark.slow
def test_pretrain_beats_predicting_the_mean_on_validation(tmp_path):
    from conftest_align import shared_cohort

    c = shared_cohort()
    out = tmp_path / "cmr_mid2d"
    train = {"epochs": 8, "batch_size": 4, "lr": 1e-3, "weight_decay": 0.005, "warmup_epochs": 1,
             "betas": [0.9, 0.95], "seed": 0}
    pretrain_cmr("mid2d", c["crop_index"], c["targets"], c["splits"], str(out), train=train,
                 model={"backbone": "resnet10"}, target_columns=["LVDV"])
    for name in ("encoder.pt", "metrics.json", "history.csv", "curve.png", "checkpoint.pt"):
        assert (out / name).stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())

    # baseline: the training mean, i.e. 0 in standardised units, scored on validation
    targets, splits = pd.read_parquet(c["targets"]), pd.read_parquet(c["splits"])
    std, stats = standardise(targets, splits.loc[splits.paired_split == "train", "eid"], ["LVDV"])
    val = std[std["eid"].isin(splits.loc[splits.paired_split == "val", "eid"])]["LVDV"]
    baseline_mse = float((val ** 2).mean())
    assert metrics["best_val_loss"] < 0.8 * baseline_mse
    assert metrics["val_r2"]["LVDV"] > 0.2

    encoder = load_cmr_encoder(out / "encoder.pt")
    blob = torch.load(out / "encoder.pt", weights_only=True)
    assert encoder.config.view == "mid2d" and blob["meta"]["targets"]["mean"] == pytest.approx(stats["mean"])
    assert encoder.embed(torch.rand(2, 1, 24, 24)).shape == (2, encoder.embed_dim)


@pytest.mark.slow
def test_pretrain_is_reproducible_from_its_seed(tmp_path):
    """Initial weights come from train.seed, not from whatever ran before in the process."""
    from conftest_align import shared_cohort

    c = shared_cohort()
    train = {"epochs": 1, "batch_size": 4, "lr": 1e-3, "seed": 3}
    weights = []
    for run in ("a", "b"):
        torch.randn(7)   # move the global RNG between the runs
        pretrain_cmr("mid2d", c["crop_index"], c["targets"], c["splits"], str(tmp_path / run), train=train,
                     model={"backbone": "resnet10"}, target_columns=["LVDV"])
        weights.append(load_cmr_encoder(tmp_path / run / "encoder.pt").state_dict())
    for k, v in weights[0].items():
        assert torch.equal(v, weights[1][k]), k

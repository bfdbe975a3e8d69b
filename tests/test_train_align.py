"""Alignment: the trained ECG side learns to retrieve its own subject's CMR embedding
(toy encoders, real loss, heads and training loop), and the real ``align`` stage runs
end to end on a tiny synthetic cohort in the pipeline's file formats."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from ecgcmr.train.align import AlignModel, retrieval_top1, step
from ecgcmr.train.clip_loss import ClipLoss
from ecgcmr.train.loop import TrainConfig, fit
from ecgcmr.train.paired_data import PairedDataset

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(1)

DUAL_PHASE = [("ecg", "ed"), ("ecg", "es"), ("ed", "es")]


class ToyEcgEncoder(nn.Module):
    """Stands in for the ViT: same ``embed``/``config`` interface, a few thousand weights."""

    def __init__(self, n_leads=12, n_samples=50, dim=32):
        super().__init__()
        self.config = {"embed_dim": dim}
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n_leads * n_samples, 64), nn.GELU(),
                                 nn.Linear(64, dim))

    def embed(self, x):
        return self.net(x)


def toy_pairs(n, seed, mix):
    """ECGs and ED/ES embeddings that share a 6-d latent per subject (fixed maps ``mix``)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 6, generator=g)
    ecg = torch.tanh(z @ mix["ecg"]).view(n, 12, 50) + 0.1 * torch.randn(n, 12, 50, generator=g)
    cmr = {m: z @ mix[m] + 0.1 * torch.randn(n, mix[m].shape[1], generator=g) for m in ("ed", "es")}
    return PairedDataset(list(ecg), cmr)


@pytest.mark.slow
def test_alignment_makes_ecg_retrieve_its_own_cmr(tmp_path):
    g = torch.Generator().manual_seed(0)
    mix = {"ecg": torch.randn(6, 600, generator=g), "ed": torch.randn(6, 24, generator=g),
           "es": torch.randn(6, 20, generator=g)}
    train, val = toy_pairs(128, 1, mix), toy_pairs(32, 2, mix)
    torch.manual_seed(0)
    model = AlignModel(ToyEcgEncoder(), 32, {"ed": 24, "es": 20},
                       ClipLoss(DUAL_PHASE, [1, 1, 1], temperature=0.1), hidden_dim=64, out_dim=16)
    before = retrieval_top1(model, val, 32, "cpu")
    cfg = TrainConfig(epochs=6, batch_size=32, lr=3e-3, weight_decay=0.005, warmup_epochs=2, seed=0)
    summary = fit(model, train, val, step, tmp_path / "run", cfg)
    after = retrieval_top1(model, val, 32, "cpu")
    assert after["chance"] == pytest.approx(1 / 32)
    for m in ("ed", "es"):
        assert after[f"top1_ecg_to_{m}"] >= 8 * after["chance"]
        assert after[f"top1_ecg_to_{m}"] > before[f"top1_ecg_to_{m}"]
    hist = pd.read_csv(tmp_path / "run" / "history.csv")
    assert {"val_loss_ecg-ed", "val_loss_ecg-es", "val_loss_ed-es"} <= set(hist.columns)
    assert summary["best_val_loss"] < hist["val_loss"].iloc[0]


def test_align_model_rejects_pairs_without_encoder():
    with pytest.raises(ValueError, match="without an encoder"):
        AlignModel(ToyEcgEncoder(), 32, {"ed": 8}, ClipLoss(DUAL_PHASE))


def test_heads_follow_the_variant():
    model = AlignModel(ToyEcgEncoder(), 32, {"mid2d": 8}, ClipLoss([("ecg", "mid2d")]))
    assert sorted(model.heads) == ["ecg", "mid2d"]
    assert model.heads["mid2d"].in_dim == 8 and model.heads["ecg"].out_dim == 128


@pytest.mark.slow
def test_align_stage_end_to_end(tmp_path):
    """The real stage on real file formats: ECG cache, crops, MAE and CMR encoder files."""
    from conftest_align import shared_cohort

    from ecgcmr.models import load_ecg_encoder, save_ecg_encoder
    from ecgcmr.models.cmr_encoders import build_cmr_encoder, encoder_state
    from ecgcmr.models.vit_mae import EcgMAE
    from ecgcmr.train.align import align

    c = shared_cohort()
    torch.manual_seed(0)
    save_ecg_encoder(EcgMAE(embed_dim=32, depth=1, num_heads=2, decoder=False), tmp_path / "mae.pt")
    cmr = {}
    for modality, view in (("ed", "ed3d"), ("es", "es3d")):
        cmr[modality] = str(tmp_path / f"cmr_{view}.pt")
        torch.save(encoder_state(build_cmr_encoder(view, backbone="resnet10")), cmr[modality])
    out = tmp_path / "align_dual_phase"
    train = {"epochs": 2, "batch_size": 8, "lr": 1e-3, "warmup_epochs": 1, "seed": 0}
    align("dual_phase", [["ecg", "ed"], ["ecg", "es"], ["ed", "es"]], [1, 1, 1], cmr,
          str(tmp_path / "mae.pt"), c["ecg_index"], c["ecg_norm_stats"], c["crop_index"], c["splits"],
          str(out), train=train, head_hidden=32, head_out=16, embed_batch_size=4)

    for name in ("ecg_encoder.pt", "heads.pt", "metrics.json", "history.csv", "curve.png", "checkpoint.pt"):
        assert (out / name).stat().st_size > 0
    before, after = load_ecg_encoder(tmp_path / "mae.pt"), load_ecg_encoder(out / "ecg_encoder.pt")
    x = torch.randn(2, 12, 5000)
    with torch.no_grad():
        assert after.embed(x).shape == (2, 32)
        assert not torch.allclose(before.embed(x), after.embed(x))   # the ECG side trained
    heads = torch.load(out / "heads.pt", weights_only=True)
    assert heads["in_dims"] == {"ecg": 32, "ed": 512, "es": 512} and heads["out_dim"] == 16
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"top1_ecg_to_ed", "top1_ecg_to_es", "chance", "best_val_loss"}
    n_val = (pd.read_parquet(c["splits"]).paired_split == "val").sum()
    assert metrics["n_val"] == n_val and metrics["chance"] == pytest.approx(1 / n_val)

    # seeded from train.seed alone: a second run (the global RNG now elsewhere) is identical
    align("dual_phase", [["ecg", "ed"], ["ecg", "es"], ["ed", "es"]], [1, 1, 1], cmr,
          str(tmp_path / "mae.pt"), c["ecg_index"], c["ecg_norm_stats"], c["crop_index"], c["splits"],
          str(tmp_path / "again"), train=train, head_hidden=32, head_out=16, embed_batch_size=4)
    heads2 = torch.load(tmp_path / "again" / "heads.pt", weights_only=True)
    for k, v in heads["state_dict"].items():
        assert torch.equal(v, heads2["state_dict"][k]), k

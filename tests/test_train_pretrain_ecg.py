"""pretrain_ecg end to end on a real (small) ECG parquet cache: outputs, encoder,
Figure 2, and resumption of a finished run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest_pretrain_ecg import synthetic_ecgs
from ecgcmr.ecg.cache import compute_norm_stats, gather_ecg_index, shard_table
from ecgcmr.models import load_ecg_encoder
from ecgcmr.train.pretrain_ecg import pretrain_ecg

MODEL = dict(depth=1, decoder_depth=1, decoder_embed_dim=32, decoder_num_heads=2)
TRAIN = dict(epochs=2, warmup_epochs=1, batch_size=4, lr=1e-3, weight_decay=0.005,
             betas=[0.9, 0.95], seed=0, amp=True, num_workers=0, patience=5)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """12 subjects in two shards (in mV, un-normalised, float16 as ingest writes them),
    index, splits (8 train / 2 val / 2 test) and train-split norm stats."""
    d = tmp_path_factory.mktemp("ecgcache")
    x = synthetic_ecgs(12, seed=4).numpy() * 0.8 + 0.05  # ~mV, non-zero mean
    eids = [str(3_000_000 + 7 * i) for i in range(12)]
    shards = []
    for k, sl in enumerate((slice(0, 7), slice(7, 12))):
        t = shard_table(eids[sl], ["synthetic"] * len(eids[sl]), x[sl], [{}] * len(eids[sl]))
        path = d / f"shard_{k}.parquet"
        import pyarrow.parquet as pq
        pq.write_table(t, path)
        shards.append(path)
    gather_ecg_index(shards, d / "index.parquet")
    split = ["train"] * 8 + ["val"] * 2 + ["test"] * 2
    pd.DataFrame({"eid": eids, "has_ecg": True, "has_cmr": False, "paired": False,
                  "pretrain": split, "paired_split": ""}).to_parquet(d / "splits.parquet")
    compute_norm_stats(d / "index.parquet", d / "splits.parquet", d / "norm_stats.json")
    return d


@pytest.mark.slow
def test_pretrain_ecg_writes_a_loadable_encoder_and_figures(cache, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "ecg_mae_tiny"
    res = pretrain_ecg(cache / "index.parquet", cache / "norm_stats.json", cache / "splits.parquet",
                       out, "tiny", MODEL, TRAIN)
    for name in ("checkpoint.pt", "encoder.pt", "history.csv", "curve.png", "figure2.png"):
        assert (out / name).stat().st_size > 0, name
    hist = pd.read_csv(out / "history.csv")
    assert list(hist["epoch"]) == [0, 1] and np.isfinite(hist["val_loss"]).all()
    assert np.isfinite(res["test_loss"])

    enc = load_ecg_encoder(out / "encoder.pt")
    blob = torch.load(out / "encoder.pt", weights_only=True)
    assert blob["meta"]["size"] == "tiny" and blob["meta"]["n_train"] == 8
    assert enc.config["embed_dim"] == 192 and enc.config["patch_size"] == 100
    z = enc.embed(torch.randn(2, 12, 5000))
    assert z.shape == (2, 192) and torch.isfinite(z).all()
    stats = json.loads((cache / "norm_stats.json").read_text())
    assert stats["n_records"] == 8

    # a rerun (e.g. a Snakemake retry after the job died while writing encoder.pt)
    # resumes the finished checkpoint and trains nothing more
    (out / "encoder.pt").unlink()
    res2 = pretrain_ecg(cache / "index.parquet", cache / "norm_stats.json", cache / "splits.parquet",
                        out, "tiny", MODEL, TRAIN)
    assert res2["history"] == res["history"]
    enc2 = load_ecg_encoder(out / "encoder.pt")
    for k, v in enc.state_dict().items():
        assert torch.equal(v, enc2.state_dict()[k])


def test_pretrain_ecg_refuses_a_split_without_validation(cache, tmp_path):
    s = pd.read_parquet(cache / "splits.parquet")
    s["pretrain"] = "train"
    s.to_parquet(tmp_path / "splits.parquet")
    with pytest.raises(ValueError, match="train and val"):
        pretrain_ecg(cache / "index.parquet", cache / "norm_stats.json", tmp_path / "splits.parquet",
                     tmp_path / "out", "tiny", MODEL, TRAIN)


@pytest.mark.slow
def test_augmented_pretraining_trains_and_is_not_resumed_without_it(cache, tmp_path):
    # bf16 autocast (amp) with the FFT of the surrogate inside: finite losses; and the
    # augmentation is part of the checkpoint's key, so an unaugmented rerun retrains
    torch.set_num_threads(1)
    train = {**TRAIN, "epochs": 1, "warmup_epochs": 0}
    model = {**MODEL, "patch_size": 500}
    augment = {"ft_surrogate": {"p": 1.0, "phase_noise": 0.1}, "jitter": {"p": 1.0, "sigma": 0.25},
               "rescale": {"p": 1.0, "sigma": 0.5}}
    args = (cache / "index.parquet", cache / "norm_stats.json", cache / "splits.parquet",
            tmp_path / "out", "tiny", model, train)
    on = pretrain_ecg(*args, augment=augment)
    off = pretrain_ecg(*args)
    fresh = pretrain_ecg(*args[:3], tmp_path / "fresh", *args[4:], augment={})
    assert np.isfinite(on["history"][0]["train_loss"]) and np.isfinite(on["test_loss"])
    losses = [[(h["train_loss"], h["val_loss"]) for h in r["history"]] for r in (on, off, fresh)]
    assert losses[1] == losses[2] != losses[0]

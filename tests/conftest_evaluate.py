"""Hand-built inputs for the evaluation tests: embeddings with a planted signal (and
pure noise), a targets table and splits, in the pipeline's file formats."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ecgcmr.evaluate.embed import write_embeddings
from ecgcmr.evaluate.probe import ProbeResult, write_predictions, write_result
from ecgcmr.evaluate.stats import score
from ecgcmr.phenotypes import OUTCOMES, PHENOTYPES

FAST_PROBE = {"hidden_dims": [32, 16], "dropout": 0.0, "lr": 3e-3, "betas": [0.9, 0.95], "weight_decay": 0.005,
              "batch_size": 64, "max_epochs": 60, "patience": 10, "balance_outcomes": True}


def planted_cohort(root: Path, n: int = 240, dim: int = 16, seed: int = 0) -> dict[str, Path]:
    """Writes targets.parquet, splits.parquet, ecg_index.parquet and embeddings
    ``signal.parquet`` (a linear image of the latents, little noise) and
    ``noise.parquet`` (independent of everything). Returns the paths."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    eids = [str(1_000_000 + 7 * i) for i in range(n)]
    z = rng.standard_normal((n, 3))
    targets = pd.DataFrame({"eid": eids})
    for i, name in enumerate(PHENOTYPES):
        w = rng.standard_normal(3)
        targets[name] = 50 + 10 * (z @ w) / np.linalg.norm(w) + rng.normal(0, 2, n)
    targets.loc[rng.random(n) < 0.03, "LVMT"] = np.nan           # missing values, as UKB
    for name in OUTCOMES:
        p = 1 / (1 + np.exp(-(2.5 * z[:, 0] - 1.5)))
        targets[name] = (rng.random(n) < p).astype(np.int8)
    targets["SCD"] = np.int8(0)                                   # an outcome with no cases
    targets["age"] = 64 + 7 * z[:, 1] + rng.normal(0, 1, n)
    targets["sex"] = (z[:, 2] + rng.normal(0, 0.3, n) > 0).astype(np.int8)
    part = rng.choice(["train", "val", "test"], size=n, p=[0.6, 0.2, 0.2])
    splits = pd.DataFrame({"eid": eids, "has_ecg": True, "has_cmr": True, "paired": True,
                           "pretrain": part, "paired_split": part})
    index = pd.DataFrame({"eid": eids, "shard": 0, "row": np.arange(n), "path": "",
                          "qrs_duration": 90 + 10 * z[:, 1], "qrs_num": np.round(10 + 2 * z[:, 2])})
    paths = {k: root / f"{k}.parquet" for k in ("targets", "splits", "ecg_index", "signal", "noise")}
    targets.to_parquet(paths["targets"])
    splits.to_parquet(paths["splits"])
    index.to_parquet(paths["ecg_index"])
    mix = rng.standard_normal((3, dim))
    write_embeddings(eids, z @ mix + 0.05 * rng.standard_normal((n, dim)), paths["signal"])
    write_embeddings(eids, rng.standard_normal((n, dim)), paths["noise"])
    return paths


def _is_outcome(target):
    return target in OUTCOMES or target == "sex"


def _write(root, rep, target, seed, value, n, reason="", positives=None):
    metric = "auroc" if _is_outcome(target) else "r2"
    res = ProbeResult(rep, target, seed, "classification" if metric == "auroc" else "regression", metric,
                      value, reason, 70, 15, n, positives)
    path = root / "probes" / rep / target / f"seed{seed}.json"
    write_result(res, {"lr": 0.001}, path)
    return path


def probe_job(root, rep, seed, targets, noise, n, unscored=()):
    """One probe job, as the probe writes it: every target's test predictions (the same
    eids and labels for every representation; prediction = label + noise) and a result
    JSON scored on them; an ``unscored`` target (no case in the test split) has a NaN
    result with its reason and no predictions."""
    frames, results = [], []
    for i, t in enumerate(targets):
        if t in unscored:
            results.append(_write(root, rep, t, seed, math.nan, n, f"single class (0 positives of {n})"))
            continue
        binary = _is_outcome(t)
        y = (np.arange(n) % 3 == 0).astype(float) if binary else np.random.default_rng(i).normal(size=n)
        pred = y + np.random.default_rng([seed, i, len(rep)]).normal(scale=noise, size=n)
        task = "classification" if binary else "regression"
        results.append(_write(root, rep, t, seed, score(task, y, pred)[0], n,
                              positives=int(y.sum()) if binary else None))
        frames.append(pd.DataFrame({"eid": [f"{1000000 + k}" for k in range(n)], "target": t, "seed": seed,
                                    "train_seed": 0, "representation": rep, "task": task,
                                    "y_true": y, "y_pred": pred}))
    path = root / "probes" / rep / f"predictions_seed{seed}.parquet"
    write_predictions(frames, path)
    return results, path


def probe_jobs(root, noise, targets, seeds, n, unscored=()):
    """Every (representation, seed) job of ``noise`` (representation -> prediction
    noise): the result JSONs and the predictions files."""
    results, preds = [], []
    for rep, scale in noise.items():
        for s in seeds:
            r, p = probe_job(root, rep, s, targets, scale, n, unscored)
            results, preds = results + r, preds + [p]
    return results, preds

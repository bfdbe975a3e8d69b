"""Downstream probes (paper 2.2, "Prediction of CMR phenotypes and clinical outcomes"):
one 3-layer MLP with GELU per target on the frozen ECG embedding, trained on the
training split, early-stopped on validation, scored once on test. The pipeline trains
all targets of one (representation, seed) in one job (:func:`run_probes`); each target
still gets its own probe, result and weights file.

Regression targets are standardised with training statistics and scored with R²;
outcomes are scored with AUROC, their *training* set balanced by undersampling
negatives (paper 3), while validation and test keep the natural prevalence.
A target that cannot be scored (no positives in test, too few subjects, ...) gives a
result with ``value = NaN`` and a ``reason``, never an exception: one rare outcome
must not stop a cohort's tables.

Why the probes keep their own small loop rather than ``train.loop.fit`` (every trainer
uses it, the segmenter too): a probe is a small MLP fitted on a few thousand embeddings
that trains in seconds, and one job trains 18 targets x its seeds in memory.
fit's checkpoint folder, resume, signal agreement and DDP exist for jobs that outlast
a time limit; per probe they would cost more than the training, and a killed probe job
loses seconds. (Layers also forbid it: ``evaluate`` never imports ``train``.)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..phenotypes import CLASSIFICATION, ECG_DERIVED, OUTCOMES
from .embed import read_embeddings
from .stats import MIN_SUBJECTS, score

log = logging.getLogger(__name__)

# Binary targets scored by AUROC; every other target is a regression scored by R².


@dataclass(frozen=True)
class ProbeConfig:
    """Probe hyperparameters (config ``evaluate.probe``). Defaults are the authors'
    public code (fine_tune_ecg.py / ECGPredictor): hidden widths D/2 and D/4, no
    dropout, AdamW(lr 1e-3, betas 0.9/0.95, weight decay 0.005), batch 64, up to
    100 epochs, early stopping on validation loss with patience 15."""

    hidden_dims: tuple[int, int] | None = None   # None: (D // 2, D // 4) of the embedding width D
    dropout: float = 0.0
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.005
    batch_size: int = 64
    max_epochs: int = 100
    patience: int = 15
    balance_outcomes: bool = True
    train_labels: int | None = None              # None: every labelled training subject

    @classmethod
    def from_dict(cls, d: dict | None) -> "ProbeConfig":
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown probe hyperparameters: {sorted(unknown)}")
        for k in ("hidden_dims", "betas"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)

    def widths(self, in_dim: int) -> tuple[int, int]:
        return self.hidden_dims or (max(1, in_dim // 2), max(1, in_dim // 4))


class MLPProbe(nn.Module):
    """Three fully connected layers with GELU activations (paper 2.2)."""

    def __init__(self, in_dim: int, hidden_dims: tuple[int, int] = (256, 128), out_dim: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        h1, h2 = hidden_dims
        self.config = {"in_dim": in_dim, "hidden_dims": [h1, h2], "out_dim": out_dim, "dropout": dropout}
        self.net = nn.Sequential(
            nn.Linear(in_dim, h1), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(h1, h2), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(h2, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def task_of(target: str) -> str:
    return "classification" if target in CLASSIFICATION else "regression"


def balance_by_undersampling(y: np.ndarray, seed: int) -> np.ndarray:
    """Indices of all positives and an equal-sized random subset of negatives."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(neg) > len(pos):
        neg = rng.choice(neg, size=len(pos), replace=False)
    return np.sort(np.concatenate([pos, neg]))


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    # constant embedding dimensions (dead units) would divide by zero
    return mean, np.where(std > 1e-8, std, 1.0)


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              task: str, cfg: ProbeConfig, seed: int) -> tuple[MLPProbe, dict]:
    """Train on (standardised) train data, keep the weights of the epoch with the
    lowest validation loss; stop after ``patience`` epochs without improvement.
    Returns the model and its history (per-epoch train/val loss and val score)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MLPProbe(x_train.shape[1], cfg.widths(x_train.shape[1]), 1, cfg.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss() if task == "classification" else nn.MSELoss()
    xt, yt = torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train, dtype=torch.float32)
    xv, yv = torch.as_tensor(x_val, dtype=torch.float32), torch.as_tensor(y_val, dtype=torch.float32)

    best, best_state, best_epoch, history = math.inf, None, -1, []
    for epoch in range(cfg.max_epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(xt), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            pred_v = model(xv)
            val = float(loss_fn(pred_v, yv))
        history.append({"epoch": epoch, "train_loss": total / len(xt), "val_loss": val,
                        "val_score": score(task, y_val, pred_v.numpy())[0]})
        if val < best:
            best, best_epoch = val, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= cfg.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return model, {"best_epoch": best_epoch, "best_val_loss": best, "epochs": history}


def load_target_values(targets_path: str | Path, target: str,
                       ecg_index_path: str | Path | None = None) -> pd.Series:
    """Target values by eid: phenotypes, outcomes, age and sex come from the targets
    table; the ECG-derived targets of Table 2 from the ECG cache's measurement columns."""
    if target in ECG_DERIVED:
        if ecg_index_path is None:
            raise ValueError(f"target {target} needs the ECG index (measurement columns)")
        df = pd.read_parquet(ecg_index_path, columns=["eid", target])
    else:
        df = pd.read_parquet(targets_path, columns=["eid", target])
    df["eid"] = df["eid"].astype(str)
    return df.set_index("eid")[target].astype(float)


@dataclass
class ProbeResult:
    representation: str
    target: str
    seed: int
    task: str
    metric: str
    value: float
    reason: str = ""
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    n_test_positive: int | None = None
    best_epoch: int = -1
    embedding_dim: int = 0
    train_seed: int = 0   # the representation's training run (evaluate.train_seeds)


def run_probe(embeddings: str | Path, targets: str | Path, splits: str | Path, target: str,
              seed: int, representation: str, split_column: str, hyperparameters: dict,
              out_json: str | Path, out_weights: str | Path,
              ecg_index: str | Path | None = None) -> ProbeResult:
    """One (representation, target, seed): train, score on test, write the result JSON
    and the weights (with the standardisation the predictor must apply)."""
    return run_probes(embeddings, targets, splits, [target], seed, representation, split_column,
                      hyperparameters, [out_json], [out_weights], ecg_index)[0]


def run_probes(embeddings: str | Path, targets: str | Path, splits: str | Path,
               target_names: Sequence[str], seed: int, representation: str, split_column: str,
               hyperparameters: dict, out_json: Sequence[str | Path], out_weights: Sequence[str | Path],
               ecg_index: str | Path | None = None,
               out_predictions: str | Path | None = None, train_seed: int = 0) -> list[ProbeResult]:
    """Every target of one (representation, seed), each its own probe exactly as
    :func:`run_probe` trains it, in one process (``train_seed``: which training run of
    ``representation`` the embeddings come from; it is recorded, it changes no probe): the embeddings and splits are read
    once, and the pipeline pays the interpreter/torch start-up once per job instead of
    once per target. ``out_json[i]``/``out_weights[i]`` belong to ``target_names[i]``.

    ``out_predictions``: a parquet of every scored target's test subjects (see
    :data:`PREDICTION_COLUMNS`); the paired bootstrap (:mod:`.stats`) resamples these."""
    if not len(target_names) == len(out_json) == len(out_weights):
        raise ValueError(f"{len(target_names)} targets but {len(out_json)} result and "
                         f"{len(out_weights)} weight paths")
    cfg = ProbeConfig.from_dict(hyperparameters)
    eids, x = read_embeddings(embeddings)
    split = pd.read_parquet(splits, columns=["eid", split_column])
    split = split.assign(eid=split["eid"].astype(str)).set_index("eid")[split_column]
    part = split.reindex(eids).fillna("").astype(str).to_numpy()
    results, predictions = [], []
    for target, json_path, weights_path in zip(target_names, out_json, out_weights):
        y = load_target_values(targets, target, ecg_index).reindex(eids).to_numpy(float)
        res, weights, test_pred = _probe_one(x, y, part, target, int(seed), representation, cfg)
        res.train_seed = int(train_seed)
        if test_pred is not None:
            rows, pred = test_pred
            predictions.append(pd.DataFrame({"eid": np.asarray(eids)[rows], "target": target,
                                             "seed": int(seed), "train_seed": int(train_seed),
                                             "representation": representation,
                                             "task": res.task, "y_true": y[rows], "y_pred": pred}))
        write_result(res, hyperparameters, json_path)
        Path(weights_path).parent.mkdir(parents=True, exist_ok=True)
        # an untrainable target still gets a weights file (holding None) so the DAG is
        # complete; the predictor reports such a target as unavailable
        torch.save(weights, weights_path)
        results.append(res)
    if out_predictions is not None:
        write_predictions(predictions, out_predictions)
    return results


# y_pred: a regression in the target's units; an outcome's logit before the prior
# shift (AUROC depends only on the order, and this is the score the result JSON holds)
PREDICTION_COLUMNS = ["eid", "target", "seed", "train_seed", "representation", "task", "y_true", "y_pred"]


def write_predictions(frames: Sequence[pd.DataFrame], path: str | Path) -> None:
    df = (pd.concat(frames, ignore_index=True) if frames
          else pd.DataFrame({c: pd.Series(dtype=float if c.startswith("y_") else object)
                             for c in PREDICTION_COLUMNS}))
    df = df[PREDICTION_COLUMNS].astype({"eid": str, "target": str, "seed": "int64", "train_seed": "int64",
                                        "y_true": float, "y_pred": float})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


def read_predictions(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Per-subject test predictions of one or more probe jobs, in one long frame."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    frames = []
    for p in paths:
        df = pd.read_parquet(p)
        if "train_seed" not in df.columns:   # written before training runs: run 0
            df = df.assign(train_seed=np.int64(0))
        missing = set(PREDICTION_COLUMNS) - set(df.columns)
        if missing:
            raise ValueError(f"{p}: not a probe predictions file (missing columns {sorted(missing)})")
        frames.append(df.assign(eid=df["eid"].astype(str)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PREDICTION_COLUMNS)


LABEL_DRAW = 1   # the label budget's RNG stream beside the probe seed's others


def _probe_one(x: np.ndarray, y: np.ndarray, part: np.ndarray, target: str, seed: int,
               representation: str, cfg: ProbeConfig) -> tuple[ProbeResult, dict | None, tuple | None]:
    """Train and score one target (y aligned with the embedding rows x, NaN = missing;
    part: each row's split). Returns the result, the weights (None if untrainable) and
    the test predictions as (rows of x, predictions), None if untrainable."""
    task = task_of(target)
    labelled = ~np.isnan(y)
    res = ProbeResult(representation, target, seed, task,
                      "auroc" if task == "classification" else "r2", math.nan, embedding_dim=x.shape[1])
    sel = {s: np.flatnonzero(labelled & (part == s)) for s in ("train", "val", "test")}
    if cfg.train_labels is not None and len(sel["train"]) > cfg.train_labels:
        # the label budget: a draw of the labelled training subjects, its own per probe
        # seed (and before an outcome's balancing, which then works within the budget)
        draw = np.random.default_rng([seed, LABEL_DRAW]).choice(len(sel["train"]), cfg.train_labels, replace=False)
        sel["train"] = sel["train"][np.sort(draw)]
    res.n_train, res.n_val, res.n_test = (len(sel[s]) for s in ("train", "val", "test"))
    y_test = y[sel["test"]]
    prior_shift = 0.0
    problem = _cannot_train(task, y, sel)
    if task == "classification":
        res.n_test_positive = int((y_test == 1).sum())
        if cfg.balance_outcomes and target in OUTCOMES and not problem:
            prevalence = float((y[sel["train"]] == 1).mean()) if len(sel["train"]) else 0.5
            if 0 < prevalence < 1:
                # a probe trained at 50% prevalence outputs odds inflated by
                # (1-p)/p; adding logit(p) gives probabilities at the cohort's prevalence
                prior_shift = math.log(prevalence / (1 - prevalence))
            sel["train"] = sel["train"][balance_by_undersampling(y[sel["train"]], seed)]
            res.n_train = len(sel["train"])
            problem = _cannot_train(task, y, sel)
    weights, test_pred = None, None
    if problem:
        res.reason = problem
    else:
        x_mean, x_std = _standardiser(x[sel["train"]])
        xs = (x - x_mean) / x_std
        y_mean, y_std = (0.0, 1.0)
        if task == "regression":
            y_mean, y_std = float(y[sel["train"]].mean()), float(y[sel["train"]].std() or 1.0)
        ys = (y - y_mean) / y_std
        model, hist = fit_probe(xs[sel["train"]], ys[sel["train"]], xs[sel["val"]], ys[sel["val"]],
                                task, cfg, seed)
        with torch.no_grad():
            pred = model(torch.as_tensor(xs[sel["test"]], dtype=torch.float32)).numpy()
        # R² is invariant to the affine target standardisation; score in original units anyway
        pred = pred * y_std + y_mean if task == "regression" else pred
        res.value, res.reason = score(task, y_test, pred)
        test_pred = (sel["test"], pred.astype(float))
        res.best_epoch = hist["best_epoch"]
        weights = {"state_dict": model.state_dict(), "config": model.config, "task": task,
                   "target": target, "x_mean": torch.from_numpy(x_mean.astype(np.float32)),
                   "x_std": torch.from_numpy(x_std.astype(np.float32)),
                   "y_mean": y_mean, "y_std": y_std, "prior_logit_shift": prior_shift, "history": hist["epochs"]}
    log.info("%s / %s / seed %d: %s = %s %s", representation, target, seed, res.metric, res.value, res.reason)
    return res, weights, test_pred


def _cannot_train(task: str, y: np.ndarray, sel: dict[str, np.ndarray]) -> str:
    for s in ("train", "val"):
        if len(sel[s]) < MIN_SUBJECTS:
            return f"only {len(sel[s])} labelled {s} subjects"
    if task == "classification":
        n_pos = int((y[sel["train"]] == 1).sum())
        if n_pos == 0 or n_pos == len(sel["train"]):
            return f"single class in train ({n_pos} positives of {len(sel['train'])})"
    elif np.var(y[sel["train"]]) == 0:
        return "constant target in train"
    return ""


def write_result(res: ProbeResult, hyperparameters: dict, path: str | Path) -> None:
    d = asdict(res)
    d["value"] = None if math.isnan(d["value"]) else d["value"]  # JSON has no NaN
    d["hyperparameters"] = dict(hyperparameters)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(d, indent=2) + "\n")


def read_result(path: str | Path) -> dict:
    d = json.loads(Path(path).read_text())
    d["value"] = math.nan if d["value"] is None else float(d["value"])
    d.setdefault("train_seed", 0)   # written before training runs: run 0
    return d


def load_probe(path: str | Path) -> dict | None:
    """A saved probe: dict with ``model`` ready for inference, or None if the target
    could not be trained.

    Loaded with ``weights_only=True``: a probe file is tensors and primitives only, so a
    crafted pickle in a run folder is refused instead of executed."""
    w = torch.load(path, map_location="cpu", weights_only=True)
    if w is None:
        return None
    # probes saved before the standardiser was stored as tensors do not load here
    w = {**w, "x_mean": np.asarray(w["x_mean"], np.float32), "x_std": np.asarray(w["x_std"], np.float32)}
    model = MLPProbe(**w["config"])
    model.load_state_dict(w["state_dict"])
    model.eval()
    return {**w, "model": model}


def apply_probe(probe: dict, x: np.ndarray) -> np.ndarray:
    """Predictions in the target's units (regression) or probabilities (classification)."""
    xs = (np.asarray(x, np.float32) - probe["x_mean"]) / probe["x_std"]
    with torch.no_grad():
        out = probe["model"](torch.as_tensor(xs, dtype=torch.float32))
    if probe["task"] == "classification":
        return torch.sigmoid(out + probe.get("prior_logit_shift", 0.0)).numpy()
    return out.numpy() * probe["y_std"] + probe["y_mean"]

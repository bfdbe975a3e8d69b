"""The inference representation on the held-out test split, drawn: a ROC curve per
outcome and predicted-vs-true per phenotype, each with its n (and positives), so a
score in Table 1 can be seen rather than taken on trust.

Predictions are the seed-averaged probes that ``ecgcmr predict`` uses (the inference
manifest's), applied to the test subjects' embeddings of the same representation.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import r2_score, roc_auc_score, roc_curve  # noqa: E402

from ..phenotypes import OUTCOMES, PHENOTYPES  # noqa: E402


def held_out_predictions(embeddings: str | Path, targets: str | Path, splits: str | Path,
                         probe_weights: list[str | Path], split_column: str = "paired_split") -> pd.DataFrame:
    """Long table (target, y_true, y_pred) over the test split; no eids."""
    from ..evaluate.embed import read_embeddings
    from ..evaluate.probe import apply_probe, load_probe

    eids, x = read_embeddings(embeddings)
    s = pd.read_parquet(splits, columns=["eid", split_column])
    test = set(s.loc[s[split_column] == "test", "eid"].astype(str))
    keep = np.array([e in test for e in eids], bool)
    x, eids = x[keep], [e for e, k in zip(eids, keep) if k]
    t = pd.read_parquet(targets)
    t = t.assign(eid=t["eid"].astype(str)).set_index("eid").reindex(eids)
    by_target: dict[str, list] = {}
    for w in probe_weights:
        by_target.setdefault(Path(w).parent.name, []).append(w)
    parts = []
    for target, ws in by_target.items():
        probes = [p for p in map(load_probe, ws) if p is not None]
        if not probes or target not in t or not len(x):
            continue
        pred = np.mean([apply_probe(p, x).reshape(-1) for p in probes], axis=0)
        y = t[target].to_numpy(float)
        ok = np.isfinite(y)
        parts.append(pd.DataFrame({"target": target, "y_true": y[ok], "y_pred": pred[ok]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["target", "y_true", "y_pred"])


def _grid(n: int, size: float = 2.8):
    cols = min(n, 4) or 1
    rows = max(1, math.ceil(n / cols))
    # at least 5 in wide, so the title of a one-panel figure is not cut off
    fig, axes = plt.subplots(rows, cols, figsize=(max(size * cols, 5.0), size * rows + 0.4), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    return fig, axes.ravel()


def _panels(preds: pd.DataFrame, names, what: str, path: str | Path, title: str):
    """One panel per target of ``names`` present in ``preds``: yields (axes, target,
    y_true, y_pred), then titles, lays out and saves the figure."""
    present = [n for n in names if n in set(preds["target"])]
    fig, axes = _grid(max(len(present), 1))
    if not present:
        axes[0].text(0.5, 0.5, f"no {what} probe on this run", ha="center")
    for ax, name in zip(axes, present):
        d = preds[preds["target"] == name]
        yield ax, name, d["y_true"].to_numpy(float), d["y_pred"].to_numpy(float)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_roc(preds: pd.DataFrame, path: str | Path, title: str = "") -> None:
    for ax, o, y, p in _panels(preds, OUTCOMES, "outcome", path, title):
        y = y.astype(int)
        n_pos = int(y.sum())
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        if 0 < n_pos < len(y):
            fpr, tpr, _ = roc_curve(y, p)
            ax.plot(fpr, tpr, color="tab:blue")
            ax.set_title(f"{o}: AUROC {roc_auc_score(y, p):.2f}\nn = {len(y)}, {n_pos} positive", fontsize=9)
        else:
            ax.set_title(f"{o}: not scorable\nn = {len(y)}, {n_pos} positive", fontsize=9)
        ax.set_xlabel("1 − specificity", fontsize=8)
        ax.set_ylabel("sensitivity", fontsize=8)
        ax.set_aspect("equal")


def plot_scatter(preds: pd.DataFrame, path: str | Path, title: str = "") -> None:
    for ax, name, y, p in _panels(preds, PHENOTYPES, "phenotype", path, title):
        unit = PHENOTYPES[name][1]
        ax.scatter(y, p, s=8, alpha=0.6, color="tab:blue", linewidths=0)
        if len(y):
            lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
            ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--")
        r2 = r2_score(y, p) if len(y) > 1 else float("nan")
        ax.set_title(f"{name}: R² {r2:.2f}, n = {len(y)}", fontsize=9)
        ax.set_xlabel(f"CMR-derived [{unit}]", fontsize=8)
        ax.set_ylabel(f"ECG-predicted [{unit}]", fontsize=8)

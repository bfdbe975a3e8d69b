"""Figures of the evaluation: per-target probe scores and a 2-D projection of the
aligned ECG and CMR embeddings."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # batch jobs have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from ..phenotypes import CLASSIFICATION  # noqa: E402
from .embed import read_embeddings  # noqa: E402

log = logging.getLogger(__name__)


def probe_bars(table_csv: str | Path, out_png: str | Path, targets: Sequence[str]) -> pd.DataFrame:
    """One panel per target of a table (``table1.csv`` / ``table2.csv``, rows in the
    table's order, labelled by its ``name`` column): the cell's mean per representation
    with its 95 % interval as the error bar (AUROC in %), the numbers the table shows.
    Targets without any score still get a panel that says so. Returns what it drew:
    one row per (representation, target) with mean, lo, hi."""
    table = pd.read_csv(table_csv)
    drawn = []
    reps, labels = list(table["representation"]), list(table["name"])
    ncol = min(6, max(1, len(targets)))
    nrow = math.ceil(len(targets) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.6 * nrow + 0.6), squeeze=False)
    colours = plt.cm.tab10(np.arange(len(reps)) % 10)
    for ax, target in zip(axes.flat, targets):
        mean, lo, hi = (table.get(f"{target}_{v}", pd.Series(np.nan, index=table.index)).to_numpy(float)
                        for v in ("mean", "lo", "hi"))
        # no interval (a cell without predictions): no bar
        err = np.nan_to_num(np.vstack([mean - lo, hi - mean]), nan=0.0)
        drawn += [{"representation": r, "target": target, "mean": m, "lo": a, "hi": b}
                  for r, m, a, b in zip(reps, mean, lo, hi)]
        ax.bar(np.arange(len(reps)), mean, yerr=err, color=colours, capsize=3)
        ax.set_title(target, fontsize=9)
        ax.set_ylabel("AUROC [%]" if target in CLASSIFICATION else "R²", fontsize=8)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
        if not np.isfinite(mean).any():
            ax.text(0.5, 0.5, "not scored", ha="center", va="center", transform=ax.transAxes, fontsize=8)
            ax.set_yticks([])
    for ax in list(axes.flat)[len(targets):]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours]
    fig.legend(handles, labels, loc="lower center", ncol=min(5, max(1, len(reps))),
               fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return pd.DataFrame(drawn)


def embedding_projection(embeddings: dict[str, str | Path | tuple[list[str], np.ndarray]],
                         out_png: str | Path, targets: str | Path | None = None, colour_by: str = "LVEF",
                         max_lines: int = 30, seed: int = 0) -> None:
    """PCA of several embeddings that live in one shared space (e.g. the projected ECG,
    CMR-ED and CMR-ES embeddings of an alignment), fitted on all of them together.
    ``embeddings``: name -> embeddings parquet or (eids, array). Left: coloured by
    modality, with lines joining one subject's points; right: coloured by
    ``colour_by`` from the targets table."""
    loaded = {name: e if isinstance(e, tuple) else read_embeddings(e) for name, e in embeddings.items()}
    dims = {x.shape[1] for _, x in loaded.values()}
    if len(dims) != 1:
        raise ValueError(f"embeddings to project jointly must share a dimension, got {sorted(dims)}")
    xs = np.concatenate([x for _, x in loaded.values()])
    # unit-normalise as the contrastive loss does (cosine similarity)
    xs = xs / np.maximum(np.linalg.norm(xs, axis=1, keepdims=True), 1e-12)
    z = PCA(n_components=2, random_state=seed).fit_transform(xs)
    parts, start = {}, 0
    for name, (eids, x) in loaded.items():
        parts[name] = (eids, z[start:start + len(x)])
        start += len(x)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    ax = axes[0]
    first_eids, first_z = next(iter(parts.values()))
    pos = {name: dict(zip(eids, zz)) for name, (eids, zz) in parts.items()}
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(first_eids), size=min(max_lines, len(first_eids)), replace=False)
    for i in shown:
        pts = [pos[n][first_eids[i]] for n in parts if first_eids[i] in pos[n]]
        if len(pts) > 1:
            pts = np.array(pts)
            ax.plot(pts[:, 0], pts[:, 1], color="0.8", lw=0.6, zorder=1)
    for name, (_, zz) in parts.items():
        ax.scatter(zz[:, 0], zz[:, 1], s=10, label=name, zorder=2)
    ax.set_title("shared space, by modality (lines: same subject)", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1]
    if targets is not None:
        t = pd.read_parquet(targets, columns=["eid", colour_by])
        t = t.assign(eid=t["eid"].astype(str)).set_index("eid")[colour_by]
        for marker, (name, (eids, zz)) in zip("o^sDv", parts.items()):
            c = t.reindex(eids).to_numpy(float)
            sc = ax.scatter(zz[:, 0], zz[:, 1], c=c, s=10, cmap="viridis", marker=marker, label=name)
        fig.colorbar(sc, ax=ax, label=colour_by)
        ax.legend(fontsize=8)
        ax.set_title(f"coloured by {colour_by}", fontsize=9)
    else:
        ax.axis("off")
    for a in axes:
        a.set_xlabel("PC 1")
        a.set_ylabel("PC 2")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)

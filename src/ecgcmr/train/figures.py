"""Training figures: loss curves of any trainer, and the paper's Figure 2 (original vs
MAE-reconstructed 12-lead ECG of one test subject)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ecgcmr.io.record import STANDARD_LEADS  # noqa: E402


def plot_curves(history: list[dict], path: str | Path) -> None:
    """Train/val loss per epoch (left) and the learning rate (right)."""
    epochs = [r["epoch"] + 1 for r in history]
    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(9, 3.2))
    for split in ("train", "val"):
        ys = [r.get(f"{split}_loss", np.nan) for r in history]
        ax.plot(epochs, ys, marker="o", ms=3, label=split)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax_lr.plot(epochs, [r.get("lr", np.nan) for r in history], color="grey")
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel("learning rate (end of epoch)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def scale_bar_mv(span: float) -> float:
    """A round amplitude (0.1, 0.2, 0.5, 1, 2 or 5 mV) near a third of ``span``."""
    for bar in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0):
        if bar >= span / 3:
            return bar
    return 5.0


def plot_reconstruction(original: np.ndarray, reconstructed: np.ndarray, mask: np.ndarray,
                        path: str | Path, *, fs: float = 500.0, title: str = "") -> None:
    """Figure 2: each lead's original (black) and reconstruction (red); masked
    patches shaded. ``original``/``reconstructed`` (12, T) in mV, ``mask`` (12, T)
    bool. Every lead is drawn on one amplitude scale, given by the bar on the right."""
    n_leads, t = original.shape
    time = np.arange(t) / fs
    fig, axes = plt.subplots(n_leads, 1, figsize=(10, 1.1 * n_leads), sharex=True, sharey=True)
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.fill_between(time, 0, 1, where=mask[i], color="0.9", step="mid",
                        transform=ax.get_xaxis_transform(), linewidth=0)
        ax.plot(time, original[i], color="black", lw=0.6, label="original")
        ax.plot(time, reconstructed[i], color="tab:red", lw=0.6, label="reconstructed")
        ax.set_ylabel(STANDARD_LEADS[i] if i < len(STANDARD_LEADS) else str(i), rotation=0, ha="right", va="center")
        ax.set_yticks([])
    lo, hi = np.nanpercentile(original, [0.5, 99.5])
    bar = scale_bar_mv(hi - lo)
    for ax in np.atleast_1d(axes):
        ax.plot([time[-1] * 1.01] * 2, [0, bar], color="black", lw=2, clip_on=False)
    axes[0].text(time[-1] * 1.015, bar / 2, f"{bar:g} mV", fontsize=7, va="center", ha="left")
    # above the first lead, not on it: no corner of a trace is free of signal
    axes[0].legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, ncol=2, frameon=False)
    axes[-1].set_xlabel("time [s]")
    if title:
        axes[0].set_title(title, loc="right", fontsize=10)
    fig.tight_layout(h_pad=0.1)
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""The ECG normalisation: one definition for the cache reader (training and
evaluation), ``ecgcmr predict`` and the exported embedder, so the three cannot drift.

``norm_stats.json`` (written by :func:`ecgcmr.ecg.cache.compute_norm_stats`) holds the
per-lead ``mean`` and ``std`` over the pretraining train split, in lead order ``leads``,
and the ``mode`` (config ``ecg.normalisation``) the run normalises with:

- ``lead`` (the paper, and our default): each lead standardised with the training
  split's statistics of that lead;
- ``record`` (the authors' public code): each record z-scored over all its leads and
  samples together, with its own mean and std (the stored statistics unused).

The mode travels in the file, so every reader of a run normalises as its training did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.record import STANDARD_LEADS

# A lead that is flat over the whole training split (std 0) is scaled by 1e6, not by inf.
STD_FLOOR = 1e-6


MODES = ("lead", "record")


@dataclass(frozen=True)
class NormStats:
    mean: np.ndarray   # (12, 1) float32
    std: np.ndarray    # (12, 1) float32, floored at STD_FLOOR
    mode: str = "lead"

    @property
    def scale(self) -> np.ndarray:
        return 1.0 / self.std

    @classmethod
    def load(cls, path: str | Path) -> NormStats:
        """Read and check ``norm_stats.json``: 12 finite means and non-negative stds, in
        the standard lead order (a file for another order would mix leads silently)."""
        try:
            stats = json.loads(Path(path).read_text())
            mean = np.asarray(stats["mean"], np.float32)
            std = np.asarray(stats["std"], np.float32)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(path, "bad_norm_stats", f"not a norm_stats.json ({e})") from None
        mode = stats.get("mode", "lead")   # files written before the option are lead-wise
        if mode not in MODES:
            raise InputError(path, "bad_norm_stats", f"mode {mode!r}, expected one of {list(MODES)}")
        leads = stats.get("leads", list(STANDARD_LEADS))
        if list(leads) != list(STANDARD_LEADS):
            raise InputError(path, "bad_norm_stats", f"leads {leads}, expected {list(STANDARD_LEADS)}")
        if mean.shape != (12,) or std.shape != (12,) or not (np.isfinite(mean).all() and np.isfinite(std).all()) \
                or (std < 0).any():
            raise InputError(path, "bad_norm_stats", "mean and std must be 12 finite numbers each, std >= 0")
        return cls(mean[:, None], np.maximum(std, STD_FLOOR)[:, None], mode)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(..., 12, T) float32 normalised in place (and returned)."""
        mean, scale = self._moments(x)
        x -= mean
        x *= scale
        return x

    def invert(self, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """mV of normalised ``y`` (a reconstruction, say) of the record ``raw`` (mV),
        whose own moments the ``record`` mode used."""
        mean, scale = self._moments(raw)
        return y / scale + mean

    def _moments(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.mode == "lead":
            return self.mean, self.scale
        mean = x.mean(axis=(-2, -1), keepdims=True, dtype=np.float64)
        std = x.std(axis=(-2, -1), keepdims=True, dtype=np.float64)
        return mean.astype(np.float32), (1.0 / np.maximum(std, STD_FLOOR)).astype(np.float32)

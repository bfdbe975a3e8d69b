"""What the encoder was trained on: amplitude, heart rate and noise of the training ECGs.

Three per-record summaries of a *filtered* ECG (mV, as cached and as predict sees it
before normalisation), each chosen to catch one way a record can differ from the
training cohort while still reading cleanly:

- ``amplitude_mv``: the median over leads of the robust peak-to-peak (99.5th − 0.5th
  percentile); a record exported with the wrong gain (e.g. 5×) lands far outside.
- ``heart_rate_bpm``: 60 / median R-R interval, R peaks found on the summed absolute
  slope of all leads; a record read at the wrong sampling rate (e.g. a 250 Hz header on
  500 Hz samples) has a rate halved or doubled.
- ``noise_ratio``: the robust SD (1.4826·MAD) of each lead's second difference, over
  its peak-to-peak, median over leads. On a clean ECG the second difference is near
  zero but for the QRS (a minority of samples, which the MAD ignores); broadband noise
  raises it everywhere. Gain-free, so it measures noise rather than scale, and a few
  passes over the signal (a running median cost 90 ms a record).

The run stores the 0.5th-99.5th percentile of each over the pretraining train split
(``{results}/inference/training_ranges.json``, named in the inference manifest);
``ecgcmr predict`` flags a record with any summary outside its range (noise: above it
only; real recordings are often cleaner than the synthetic demo's).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy import signal as sps

FEATURES = {
    "amplitude_mv": "median lead peak-to-peak (0.5-99.5th percentile), mV",
    "heart_rate_bpm": "60 / median R-R interval, beats per minute",
    "noise_ratio": "robust SD of the second difference / peak-to-peak",
}
QUANTILES = (0.005, 0.995)
# flagged only above the range: a cleaner record than any in training is no cause for doubt
UPPER_ONLY = {"noise_ratio"}


def signal_features(x: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Per-record summaries of filtered ECGs ``x`` (N, leads, T) in mV."""
    x = np.asarray(x, np.float32)
    lo, hi = np.percentile(x, [0.5, 99.5], axis=2)
    p2p = np.maximum(hi - lo, 1e-6)
    d2 = np.diff(x, n=2, axis=2)
    mad = np.median(np.abs(d2 - np.median(d2, axis=2, keepdims=True)), axis=2)
    return {
        "amplitude_mv": np.median(p2p, axis=1),
        "heart_rate_bpm": np.array([_heart_rate(r, fs) for r in x]),
        "noise_ratio": np.median(1.4826 * mad / p2p, axis=1),
    }


def _heart_rate(record: np.ndarray, fs: float) -> float:
    slope = np.abs(np.diff(record, axis=1)).sum(axis=0)
    energy = ndimage.uniform_filter1d(slope, max(1, int(0.05 * fs)))
    height = np.percentile(energy, 50) + 0.4 * (np.percentile(energy, 99) - np.percentile(energy, 50))
    peaks, _ = sps.find_peaks(energy, height=height, distance=max(1, int(0.25 * fs)))
    if len(peaks) < 3:
        return float("nan")
    return float(60.0 / np.median(np.diff(peaks) / fs))


def ranges_of(features: dict[str, np.ndarray]) -> dict[str, dict]:
    out = {}
    for name, values in features.items():
        v = np.asarray(values, float)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        low, high = np.quantile(v, QUANTILES)
        out[name] = {"low": float(low), "high": float(high), "min": float(v.min()), "max": float(v.max()),
                     "n": int(len(v)), "description": FEATURES[name]}
    return out


def out_of_range(values: dict[str, float], ranges: dict[str, dict]) -> list[str]:
    """``name=value outside [low, high]`` for each summary outside the trained range;
    a heart rate that could not be measured (fewer than 3 beats found) is flagged too."""
    flags = []
    for name, r in ranges.items():
        v = values.get(name, float("nan"))
        if not np.isfinite(v):
            flags.append(f"{name} not measurable")
        elif name in UPPER_ONLY and v > r["high"]:
            flags.append(f"{name}={v:.3g} above {r['high']:.3g}")
        elif name not in UPPER_ONLY and not r["low"] <= v <= r["high"]:
            flags.append(f"{name}={v:.3g} outside [{r['low']:.3g}, {r['high']:.3g}]")
    return flags


def compute_training_ranges(index_path: str | Path, splits_path: str | Path, out_json: str | Path,
                            sample_rate: float, chunk: int = 256, max_records: int = 20000) -> dict:
    """Ranges over the cached records of the pretraining train split (the ECGs the
    encoder learnt from; the split the normalisation statistics use too). Above
    ``max_records`` a seeded sample of that many (~12 ms a record; percentiles of
    20,000 are as good as of 40,000)."""
    from ..ecg.cache import EcgCache
    from ..splits import subjects

    cache = EcgCache(index_path)
    train = set(subjects(splits_path, "train", of="pretrain"))
    eids = [e for e in cache.eids if e in train]
    if len(eids) > max_records:
        eids = sorted(np.random.default_rng(0).choice(eids, max_records, replace=False).tolist())
    if not eids:
        raise ValueError(f"no record of {index_path} is in the pretraining train split of {splits_path}")
    parts = [signal_features(cache.get(eids[i:i + chunk]), sample_rate) for i in range(0, len(eids), chunk)]
    feats = {k: np.concatenate([p[k] for p in parts]) for k in FEATURES}
    ranges = {"split": "pretrain=train", "n_records": len(eids), "sample_rate": sample_rate,
              "quantiles": list(QUANTILES), "features": ranges_of(feats)}
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps(ranges, indent=2) + "\n")
    return ranges

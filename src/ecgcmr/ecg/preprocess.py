"""ECG preprocessing of the paper (section 2.1) with the authors' code defaults:
zero-phase Butterworth high-pass (baseline wander), iirnotch (power line), then
Savitzky-Golay smoothing.

All filters run along the last axis of an (..., T) array, so a batch of records
(N, 12, T) is filtered in a few C loops rather than one Python call per lead. Lead-wise
normalisation is *not* done here: it needs statistics of the training split, so it is
applied when the cache is read (``ecgcmr.ecg.cache``).

Faster variants measured and rejected (issue 15; equality against this chain within
float16 precision was the condition): the high-pass and notch as one zero-phase
``sosfiltfilt`` of three sections differs by up to 38 uV in the first and last ~0.3-3 s
(the two filters' paddings and initial conditions cannot be merged); the chain in float32
differs by 0.7 uV (the high-pass poles at 0.994 amplify float32 rounding) and saved at
most a fifth of the filter time on a loaded machine; two leads as one complex signal is bit-identical but no faster. The
IIR loops are latency-bound at ~0.2 ms per pass a record, so the chain stays as it is.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal as sps
from scipy.ndimage import convolve1d

FILTER_KEYS = ("sample_rate", "highpass_hz", "highpass_order", "notch_hz", "notch_q",
               "savgol_window", "savgol_polyorder")


def filter_params(params: dict) -> dict:
    """The filter settings out of ``config['ecg']``. Every key must be there: the
    config schema (ecgcmr.config) is the one source of defaults, so a command can never
    filter differently from the workflow through a fallback of its own."""
    missing = [k for k in FILTER_KEYS if k not in params]
    if missing:
        raise ValueError(f"ECG filter settings lack {missing}: pass the validated config['ecg'] "
                         f"(ecgcmr.config.load_config)")
    return {k: params[k] for k in FILTER_KEYS}


@lru_cache(maxsize=16)
def highpass_sos(fs: float, cutoff_hz: float, order: int) -> np.ndarray:
    return sps.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")


@lru_cache(maxsize=16)
def notch_ba(fs: float, notch_hz: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    return sps.iirnotch(notch_hz, q, fs=fs)


@lru_cache(maxsize=16)
def _savgol_operators(window: int, polyorder: int):
    """Interior kernel and the linear maps of scipy's 'interp' edge handling: a
    least-squares polynomial over the first/last ``window`` samples, evaluated at the
    first/last ``window // 2`` positions."""
    coeffs = sps.savgol_coeffs(window, polyorder)
    half = window // 2
    fit = np.linalg.pinv(np.vander(np.arange(window), polyorder + 1))
    left = np.vander(np.arange(half), polyorder + 1) @ fit
    right = np.vander(np.arange(window - half, window), polyorder + 1) @ fit
    return coeffs, left, right


def savgol(x: np.ndarray, window: int, polyorder: int) -> np.ndarray:
    """``scipy.signal.savgol_filter(x, window, polyorder, axis=-1)`` (mode 'interp'),
    equal to it to rounding (tested). scipy fits the edge polynomials with a generic
    ``polyfit`` path that is ~80% of its time on an (N, 12, 5000) batch; as the fit is
    linear in the data, it is one small precomputed matrix product per edge here."""
    coeffs, left, right = _savgol_operators(window, polyorder)
    y = convolve1d(x, coeffs, axis=-1, mode="constant")
    half = window // 2
    y[..., :half] = x[..., :window] @ left.T
    y[..., -half:] = x[..., -window:] @ right.T
    return y


def filter_ecg(x: np.ndarray, sample_rate: float = 500, highpass_hz: float = 0.5, highpass_order: int = 4,
               notch_hz: float | None = 50.0, notch_q: float = 40.0, savgol_window: int = 15,
               savgol_polyorder: int = 3) -> np.ndarray:
    """Filter (..., T) signals along the last axis; returns the input's dtype and shape.

    ``highpass_hz`` / ``notch_hz`` / ``savgol_window`` of 0 or None skip that step.
    """
    x = np.asarray(x)
    y = x.astype(np.float64, copy=True)
    if highpass_hz:
        y = sps.sosfiltfilt(highpass_sos(float(sample_rate), float(highpass_hz), int(highpass_order)), y, axis=-1)
    if notch_hz:
        b, a = notch_ba(float(sample_rate), float(notch_hz), float(notch_q))
        y = sps.filtfilt(b, a, y, axis=-1)
    if savgol_window:
        y = savgol(y, int(savgol_window), int(savgol_polyorder))
    return y.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32, copy=False)


# Records filtered per call: 8 x 12 x 5000 float64 is ~4 MB, so the filters' padded
# copies stay in cache; a 64-record call ran ~1.5x slower per record (bench/ingest.py).
FILTER_CHUNK = 8


def preprocess_batch(signals: np.ndarray, params: dict) -> np.ndarray:
    """(N, 12, T) raw mV -> filtered float32, with the settings of ``config['ecg']``."""
    x = np.asarray(signals, dtype=np.float32)
    settings = filter_params(params)
    out = np.empty_like(x)
    for i in range(0, len(x), FILTER_CHUNK):
        out[i:i + FILTER_CHUNK] = filter_ecg(x[i:i + FILTER_CHUNK], **settings)
    return out

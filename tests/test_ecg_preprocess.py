"""Filters of the paper's ECG preprocessing: what each removes and what it keeps."""

from __future__ import annotations

import numpy as np
from conftest_ecg import ECG_PARAMS

from ecgcmr.ecg.preprocess import filter_ecg, highpass_sos, preprocess_batch

FS = 500
T = np.arange(5000) / FS


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def _middle(x):   # ignore the edges, where any zero-phase filter has transients
    return x[..., 500:-500]


def test_baseline_wander_is_removed():
    x = np.sin(2 * np.pi * 0.2 * T).astype(np.float32)
    y = filter_ecg(x, notch_hz=None, savgol_window=0)
    assert _rms(_middle(y)) < 0.05 * _rms(_middle(x))


def test_notch_suppresses_mains_by_30_db():
    x = np.sin(2 * np.pi * 60 * T)
    y = filter_ecg(x, highpass_hz=0, notch_hz=60, savgol_window=0)
    assert 20 * np.log10(_rms(_middle(y)) / _rms(_middle(x))) < -30


def test_qrs_band_passes_nearly_unchanged():
    x = np.sin(2 * np.pi * 10 * T) + 0.5 * np.sin(2 * np.pi * 17 * T)
    y = filter_ecg(x, **{k: v for k, v in ECG_PARAMS.items() if k in
                         ("highpass_hz", "highpass_order", "notch_hz", "notch_q", "savgol_window", "savgol_polyorder")})
    assert np.abs(_middle(y) - _middle(x)).max() < 0.05 * np.abs(x).max()


def test_shape_dtype_and_batch_equals_single():
    rng = np.random.default_rng(0)
    batch = rng.normal(0, 1, (3, 12, 5000)).astype(np.float32)
    out = preprocess_batch(batch, ECG_PARAMS)
    assert out.shape == batch.shape and out.dtype == np.float32
    singles = np.stack([preprocess_batch(b[None], ECG_PARAMS)[0] for b in batch])
    np.testing.assert_array_equal(out, singles)
    lead = preprocess_batch(batch[1:2, 4:5], ECG_PARAMS)
    np.testing.assert_array_equal(out[1:2, 4:5], lead)
    assert filter_ecg(batch[0].astype(np.float64)).dtype == np.float64


def test_filter_design_is_cached():
    assert highpass_sos(500.0, 0.5, 4) is highpass_sos(500.0, 0.5, 4)


def test_savgol_equals_scipy_including_edges():
    from scipy.signal import savgol_filter

    from ecgcmr.ecg.preprocess import savgol

    x = np.random.default_rng(2).normal(0, 1, (2, 3, 400))
    for window, order in ((15, 3), (7, 2), (31, 5)):
        np.testing.assert_allclose(savgol(x, window, order), savgol_filter(x, window, order, axis=-1),
                                   rtol=0, atol=1e-10)

"""What every ECG reader shares: XML element values, resampling to the cache's rate,
and the flat-lead check (CardioSoft, MUSE and WFDB readers alike)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from ..errors import InputError
from .record import STANDARD_LEADS


def element_text(el, tag: str) -> str:
    child = el.find(tag) if el is not None else None
    return (child.text or "").strip() if child is not None else ""


def element_number(el, tag: str, default: float = float("nan")) -> float:
    """The element's number; ``default`` when it is absent or empty, NaN when unparsable."""
    text = element_text(el, tag)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        return float("nan")


def resample_to(signal: np.ndarray, fs: float, target: int, path) -> np.ndarray:
    """Polyphase resampling to ``target`` Hz; a rate without a small rational ratio is refused."""
    if fs == target:
        return signal
    ratio = Fraction(target / fs).limit_denominator(1000)
    if abs(float(ratio) * fs - target) > 1e-6:
        raise InputError(path, "bad_sample_rate", f"{fs:g} Hz cannot be resampled to {target} Hz exactly")
    return resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)


def check_flat_leads(signal: np.ndarray, flat_lead_uv: float | None, path) -> None:
    """A lead that never moves is a disconnected electrode, not a heart."""
    if flat_lead_uv is None:
        return
    ptp_uv = np.ptp(signal, axis=-1) * 1000.0
    flat = [STANDARD_LEADS[i] for i in np.flatnonzero(ptp_uv < flat_lead_uv)]
    if flat:
        raise InputError(path, "flat_lead", f"peak-to-peak below {flat_lead_uv:g} uV in {', '.join(flat)}")

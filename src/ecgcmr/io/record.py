"""The in-memory ECG record every reader returns and every consumer takes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STANDARD_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]

MEASUREMENTS = ["ventricular_rate", "pq_interval", "p_duration", "qrs_duration", "qt_interval",
                "qtc_interval", "rr_interval", "p_axis", "r_axis", "t_axis", "qrs_num"]


@dataclass
class EcgRecord:
    """``signal`` is float32 (12, n) in mV, rows in ``STANDARD_LEADS`` order."""

    eid: str
    signal: np.ndarray
    fs: float
    leads: list[str] = field(default_factory=lambda: list(STANDARD_LEADS))
    measurements: dict[str, float] = field(default_factory=dict)
    source: str = ""

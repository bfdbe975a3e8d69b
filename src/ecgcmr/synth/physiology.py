"""Latent physiology of a synthetic cohort: the ground truth every synthetic file is
rendered from.

Three latent factors drive the heart: ``dilation`` (chamber size), ``hypertrophy``
(wall mass/thickness) and ``contractility`` (ejection, strain). Phenotypes are derived
from them with the identities cardiologists expect (SV = EDV - ESV, EF = SV/EDV,
CO = SV * HR); the ECG sees them only partially (voltage, QRS width, repolarisation),
so the ECG carries real but incomplete information about the phenotypes.
Values are loosely matched to UK Biobank reference ranges (Petersen et al. 2017).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..phenotypes import OUTCOMES

DEFAULT_PREVALENCE = {"CAD": 0.08, "AF": 0.05, "SCD": 0.02, "HF": 0.03, "MI": 0.04, "CMP": 0.02}
# The columns the ECG waveform is rendered from (``synth.ecg``; the XML header also
# carries age, sex, height and weight, which no waveform sample depends on): all an
# ECG encoder can know of a subject (``synth.ceilings``; tests/test_synth_ceilings.py
# holds the renderer to this list)
ECG_WAVEFORM_VARIABLES = ("hr_bpm", "pr_ms", "qrs_ms", "qrs_mv", "qtc_ms", "r_axis", "t_mv", "af_rhythm")


def _clip(x, lo, hi):
    return np.clip(x, lo, hi)


def sample_cohort(n: int, seed: int, eid_start: int = 1_000_000, cmr_fraction: float = 0.6,
                  n_frames: int = 50, es_fraction: float = 0.33,
                  prevalence: dict[str, float] | None = None, ecg_contractility: float = 1.0) -> pd.DataFrame:
    """One row per subject: demographics, latents, the 12 phenotypes, ECG intervals,
    outcome labels, CMR availability and the true ED/ES frames.

    ``ecg_contractility`` scales every path from contractility to the ECG (heart rate,
    QTc, T amplitude). 0 gives a negative-control cohort: the heart's function is as
    before, but the ECG carries nothing of contractility, so no alignment with CMR can
    teach the ECG encoder more about it (the expected functional gain is 0). 1 (the
    default) leaves every value as it was."""
    rng = np.random.default_rng(seed)
    prevalence = {**DEFAULT_PREVALENCE, **(prevalence or {})}

    # eids: random, unique, 7 digits like UKB's, not consecutive (so order leaks nothing)
    eids = eid_start + rng.choice(9_000_000 - 1, size=n, replace=False)
    sex = rng.integers(0, 2, n)                                # 1 = male (UKB field 31)
    age = _clip(rng.normal(64, 7.5, n), 45, 82)
    height = rng.normal(np.where(sex == 1, 176, 163), 7)
    weight = _clip(rng.normal(np.where(sex == 1, 84, 70), 12), 45, 150)
    bsa = np.sqrt(height * weight / 3600)                      # Mosteller

    dil, hyp, con = rng.standard_normal((3, n))
    hyp = hyp + 0.02 * (age - 64)                              # wall thickens with age
    ecg_con = con * ecg_contractility                          # contractility as the ECG sees it
    hr = _clip(rng.normal(66, 9, n) - 3 * ecg_con + 2 * dil, 42, 120)

    lvedv = 72 * bsa * (1 + 0.15 * sex) * np.exp(0.16 * dil) * (1 - 0.004 * (age - 64))
    lvef = _clip(0.60 + 0.055 * con - 0.02 * dil + rng.normal(0, 0.015, n), 0.15, 0.80)
    lvesv = lvedv * (1 - lvef)
    lvsv = lvedv - lvesv
    lvco = lvsv * hr / 1000
    lvmm = 42 * bsa * (1 + 0.30 * sex) * np.exp(0.17 * hyp + 0.05 * dil)
    lvmt = _clip(5.4 + 0.9 * sex + 0.75 * hyp + rng.normal(0, 0.25, n), 3.0, 14.0)
    rvedv = lvedv * np.exp(0.05 * rng.standard_normal(n)) * (1.10 + 0.04 * sex)
    rvef = _clip(0.56 + 0.04 * con + rng.normal(0, 0.025, n), 0.15, 0.80)
    rvesv = rvedv * (1 - rvef)
    rvsv = rvedv - rvesv
    lvgcs = -(19.0 + 28 * (lvef - 0.60) - 0.6 * hyp + rng.normal(0, 0.8, n))
    lvgls = -(17.5 + 20 * (lvef - 0.60) - 0.8 * hyp + rng.normal(0, 0.9, n))
    lvgrs = 42.0 + 70 * (lvef - 0.60) + 1.5 * hyp + rng.normal(0, 3.0, n)

    # ECG intervals and morphology, each seeing the heart only in part
    qrs_ms = _clip(88 + 7 * hyp + 5 * dil + 4 * sex + rng.normal(0, 6, n), 65, 170)
    pr_ms = _clip(158 + 0.6 * (age - 64) + rng.normal(0, 18, n), 100, 280)
    rr_s = 60 / hr
    qtc_ms = _clip(412 + 8 * hyp - 6 * ecg_con - 8 * sex + rng.normal(0, 12, n), 340, 520)
    qt_ms = qtc_ms * np.sqrt(rr_s)                            # Bazett
    # QRS voltage rises with LV mass and with the LV blood volume (Brody effect), and
    # falls with body size (tissue attenuation)
    qrs_mv = _clip(1.25 * (lvmm / 110) ** 0.8 * (lvedv / 150) ** 0.4 * (75 / weight) ** 0.5
                   * np.exp(rng.normal(0, 0.12, n)), 0.3, 4.5)
    t_mv = _clip(0.30 + 0.07 * ecg_con - 0.05 * hyp + rng.normal(0, 0.04, n), -0.25, 0.8)
    r_axis = _clip(45 - 18 * hyp + rng.normal(0, 20, n), -90, 150)

    # outcomes: logistic risk of the latents, intercepts set for the target prevalence
    z_age = (age - 64) / 7.5
    risk = {
        "CAD": 0.9 * z_age + 0.6 * sex + 0.4 * hyp - 0.3 * con,
        "AF": 0.9 * z_age + 0.5 * dil + 0.5 * hyp,
        "SCD": 0.6 * z_age - 0.9 * con + 0.6 * hyp,
        "HF": 0.5 * z_age - 1.4 * con + 0.8 * dil,
        "MI": 0.7 * z_age + 0.6 * sex - 0.7 * con,
        "CMP": -1.2 * con + 1.0 * dil + 0.8 * hyp,
    }
    labels = {}
    for name, lin in risk.items():
        p = _calibrated_probability(lin, prevalence[name])
        labels[name] = (rng.random(n) < p).astype(np.int8)
    labels["CAD"] = np.maximum(labels["CAD"], labels["MI"])    # MI is a form of CAD

    af_rhythm = (labels["AF"] == 1) & (rng.random(n) < 0.5)    # half the AF cases are in AF now
    has_cmr = rng.random(n) < cmr_fraction
    es_frame = np.rint(es_fraction * n_frames + rng.normal(0, 1.0, n) - 2.5 * (con / 3)).astype(int)
    es_frame = np.clip(es_frame, 8, n_frames - 8)

    df = pd.DataFrame({
        "eid": eids.astype(str), "sex": sex.astype(np.int8), "age": age, "height_cm": height,
        "weight_kg": weight, "bsa": bsa, "dilation": dil, "hypertrophy": hyp,
        "contractility": con, "hr_bpm": hr,
        "LVDV": lvedv, "LVESV": lvesv, "LVSV": lvsv, "LVMM": lvmm, "RVDV": rvedv,
        "RVESV": rvesv, "RVSV": rvsv, "LVMT": lvmt, "LVGCS": lvgcs, "LVGLS": lvgls,
        "LVGRS": lvgrs, "LVEF": 100 * lvef, "LVCO": lvco, "RVEF": 100 * rvef,
        "qrs_ms": qrs_ms, "pr_ms": pr_ms, "qt_ms": qt_ms, "qtc_ms": qtc_ms, "rr_s": rr_s,
        "qrs_mv": qrs_mv, "t_mv": t_mv, "r_axis": r_axis, "af_rhythm": af_rhythm,
        "has_cmr": has_cmr, "ed_frame": 0, "es_frame": es_frame,
        **{k: labels[k] for k in OUTCOMES},
    })
    return df


def _calibrated_probability(lin: np.ndarray, prevalence: float) -> np.ndarray:
    """Shift a linear risk so its mean probability equals ``prevalence`` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(lin + mid)))) < prevalence:
            lo = mid
        else:
            hi = mid
    return 1 / (1 + np.exp(-(lin + (lo + hi) / 2)))

"""Synthetic 12-lead ECGs rendered from the latent physiology, written as CardioSoft XML.

Beat model: a cardiac dipole (vectorcardiogram). Each wave (P; Q, R, S; T) is a
Gaussian-shaped pulse along a 3-D direction; the 12 leads are projections of the dipole
on fixed lead vectors, with III, aVR, aVL, aVF derived from I and II exactly as an
electrocardiograph does, so Einthoven/Goldberger relations hold like in real data
(II = I + III to the LSB). Morphology follows the subject's latents (``sample_cohort``):
QRS width ``qrs_ms``, R amplitude ``qrs_mv``, T amplitude/sign ``t_mv``, PR ``pr_ms``,
QT from ``qtc_ms`` per beat with the preceding RR (Bazett), frontal axis ``r_axis``,
rate ``hr_bpm`` with respiratory sinus arrhythmia; ``af_rhythm`` gives irregular RR,
no P waves and fibrillatory f-waves. Baseline wander, mains interference and white
noise are added per electrode so the preprocessing filters have real work to do.

Each subject draws from ``default_rng([seed, eid])``: subjects are independent, so the
cohort is byte-identical whatever the number of worker processes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..io.record import MEASUREMENTS, STANDARD_LEADS, EcgRecord
from ..io.cardiosoft_write import CardioSoftExtras, write_cardiosoft_xml

# coordinates: x = patient's left, y = inferior (feet), z = anterior
_INDEPENDENT = [0, 1, 6, 7, 8, 9, 10, 11]        # I, II, V1..V6: the leads a device records
_P_DURATION_S = 0.100
_FD_SECONDS_DEFAULT = 27


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _frontal(deg: float, z: float = 0.0) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([np.cos(a), np.sin(a), z])


def _lead_vectors() -> np.ndarray:
    """(8, 3) vectors of the independent leads I, II, V1..V6 (hexaxial frontal leads,
    precordial leads around the chest with V2-V4 closest to the heart)."""
    chest_deg = [120, 95, 75, 55, 30, 5]                 # horizontal-plane angle from +x towards +z
    chest_gain = [1.5, 2.0, 2.0, 1.8, 1.4, 1.1]
    chest = [g * np.array([np.cos(np.deg2rad(d)), 0.12 * i / 5, np.sin(np.deg2rad(d))])
             for i, (d, g) in enumerate(zip(chest_deg, chest_gain))]
    return np.array([_frontal(0), _frontal(60), *chest])


LEAD_VECTORS = _lead_vectors()


def derive_limb_leads(indep: np.ndarray) -> np.ndarray:
    """(8, n) I, II, V1..V6 -> (12, n) standard order, III/aVR/aVL/aVF computed from
    I and II as the electrocardiograph does (works on float mV or integer counts)."""
    i, ii = indep[0], indep[1]
    integer = np.issubdtype(indep.dtype, np.integer)
    r = np.rint if integer else (lambda a: a)
    derived = [ii - i, r(-(i + ii) / 2), r(i - ii / 2), r(ii - i / 2)]
    out = np.empty((12, indep.shape[1]), dtype=indep.dtype)
    out[0], out[1] = i, ii
    out[2:6] = np.array(derived).astype(indep.dtype)
    out[6:] = indep[2:]
    return out


class BeatModel:
    """Per-subject wave shapes: the dipole direction, amplitude and timing of each wave."""

    def __init__(self, row: pd.Series, rng: np.random.Generator):
        self.af = bool(row.af_rhythm)
        self.qrs_s = float(row.qrs_ms) / 1000
        self.pr_s = float(row.pr_ms) / 1000
        self.qtc_s = float(row.qtc_ms) / 1000
        self.rr_s = 60.0 / float(row.hr_bpm)
        jitter = lambda s: rng.normal(0, s)                # noqa: E731  per-subject anatomy
        self.r_axis = float(row.r_axis)
        self.r_dir = _unit(_frontal(self.r_axis, -0.45 + jitter(0.1)))
        self.q_dir = _unit([-0.35, 0.3, 0.9])
        self.s_dir = _unit([-0.45 + jitter(0.1), -0.55, -0.7])
        self.t_axis = 0.5 * self.r_axis + 22 + jitter(8)
        self.t_dir = _unit(_frontal(self.t_axis, 0.35 + jitter(0.1)))
        self.p_axis = 55 + jitter(12)
        self.p_dir = _unit(_frontal(self.p_axis, 0.25))
        self.r_mv = float(row.qrs_mv)
        self.t_mv = float(row.t_mv)
        self.p_mv = 0.0 if self.af else float(np.clip(rng.normal(0.14, 0.03), 0.05, 0.3))

    def components(self, r_times: np.ndarray, rr_prev: np.ndarray):
        """Gaussian pulses of all beats: (centres s, widths s, 3-D amplitudes mV)."""
        w = self.qrs_s
        qt = self.qtc_s * np.sqrt(rr_prev)                  # per-beat QT follows the preceding RR
        onset = r_times - 0.5 * w
        sig_t = 0.10 * qt
        t_peak = onset + qt - 2.3 * sig_t
        rows = [  # (centre, sigma, direction, amplitude)
            (r_times - 0.32 * w, np.full_like(r_times, 0.07 * w), self.q_dir, 0.12 * self.r_mv),
            (r_times, np.full_like(r_times, 0.12 * w), self.r_dir, self.r_mv),
            (r_times + 0.28 * w, np.full_like(r_times, 0.08 * w), self.s_dir, 0.35 * self.r_mv),
            (t_peak, sig_t, self.t_dir, self.t_mv),
            (t_peak - 1.2 * sig_t, 1.5 * sig_t, self.t_dir, 0.3 * self.t_mv),
        ]
        if not self.af:
            p_centre = onset - self.pr_s + _P_DURATION_S / 2
            rows.append((p_centre, np.full_like(r_times, _P_DURATION_S / 5), self.p_dir, self.p_mv))
        centres = np.concatenate([r[0] for r in rows])
        sigmas = np.concatenate([r[1] for r in rows])
        amps = np.concatenate([np.outer(np.full(len(r_times), r[3]), r[2]) for r in rows])
        return centres, sigmas, amps


def beat_times(model: BeatModel, duration_s: float, rng: np.random.Generator):
    """R-peak times covering [-1 s, duration + 1 s]; returns (times, preceding RR)."""
    n = int((duration_s + 2) / (0.6 * model.rr_s)) + 4
    if model.af:   # irregularly irregular: independent log-normal intervals
        rr = model.rr_s * np.exp(rng.normal(0, 0.22, n))
    else:          # respiratory sinus arrhythmia (~0.25 Hz) + small beat-to-beat noise
        k = np.arange(n)
        phase = rng.uniform(0, 2 * np.pi)
        rr = model.rr_s * (1 + 0.04 * np.sin(2 * np.pi * 0.25 * model.rr_s * k + phase)
                           + rng.normal(0, 0.012, n))
    t = np.cumsum(rr) - rng.uniform(0, model.rr_s) - 1.0
    keep = t <= duration_s + 1.0
    return t[keep], rr[keep]


def render_dipole(centres, sigmas, amps, n: int, fs: float) -> np.ndarray:
    """Sum of Gaussian pulses -> (3, n) dipole; each pulse evaluated only within ±4 σ."""
    half = int(np.ceil(4 * sigmas.max() * fs))
    idx = np.rint(centres * fs).astype(np.int64)[:, None] + np.arange(-half, half + 1)
    g = np.exp(-0.5 * ((idx / fs - centres[:, None]) / sigmas[:, None]) ** 2)
    comp, col = np.nonzero((idx >= 0) & (idx < n))
    idx, g = idx[comp, col], g[comp, col]
    return np.stack([np.bincount(idx, weights=g * amps[comp, d], minlength=n) for d in range(3)])


def render_leads(model: BeatModel, duration_s: float, fs: float, cfg: dict, rng: np.random.Generator):
    """(8, n) independent leads in mV with noise, and the R-peak times used."""
    n = int(round(duration_s * fs))
    r_times, rr_prev = beat_times(model, duration_s, rng)
    dip = render_dipole(*model.components(r_times, rr_prev), n, fs)
    t = np.arange(n) / fs
    if model.af:   # f-waves: 4-9 Hz atrial activity along the atrial axis
        f = np.zeros(n)
        for _ in range(3):
            f += rng.uniform(0.01, 0.03) * np.sin(2 * np.pi * rng.uniform(4, 9) * t + rng.uniform(0, 6.3))
        dip += np.outer(_unit([0.3, 0.6, 0.75]), f)
    leads = LEAD_VECTORS @ dip
    uv = 1e-3
    wander_f = rng.uniform(0.05, 0.45, (8, 2))            # respiration / electrode drift < 0.5 Hz
    wander = (rng.uniform(0.3, 1.0, (8, 2, 1)) * np.sin(2 * np.pi * wander_f[..., None] * t
                                                          + rng.uniform(0, 6.3, (8, 2, 1)))).sum(1)
    leads += cfg.get("wander_uv", 150) * uv * wander
    mains = np.sin(2 * np.pi * cfg.get("mains_hz", 50) * t + rng.uniform(0, 6.3, (8, 1)))
    leads += cfg.get("mains_uv", 40) * uv * rng.uniform(0.3, 1.0, (8, 1)) * mains
    leads += cfg.get("noise_uv", 15) * uv * rng.standard_normal((8, n))
    return leads, r_times


def _quantised(indep_mv: np.ndarray, res_uv: float) -> np.ndarray:
    counts = np.rint(indep_mv * (1000.0 / res_uv)).astype(np.int64)
    return derive_limb_leads(counts) * (res_uv / 1000.0)


def _median_beat(model: BeatModel, fs: float, n: int = 600, q_onset_s: float = 0.428):
    """Noise-free averaged beat at the mean RR, QRS onset at ``q_onset_s`` like 12SL's."""
    r = np.array([q_onset_s + model.qrs_s / 2])
    dip = render_dipole(*model.components(r, np.array([model.rr_s])), n, fs)
    return derive_limb_leads(LEAD_VECTORS @ dip)


def _lead_table(median_mv: np.ndarray, fs: float, q_on: float, q_off: float) -> dict[str, list[float]]:
    """R/S/T/J amplitudes per lead from the median beat, blanks where a wave is absent."""
    i0, i1 = int(q_on * fs), int(q_off * fs)
    qrs = median_mv[:, i0:i1 + 1] * 1000
    r_amp = np.where(qrs.max(1) > 20, qrs.max(1), np.nan)
    s_amp = np.where(qrs.min(1) < -20, -qrs.min(1), np.nan)
    t_seg = median_mv[:, i1 + int(0.1 * fs):] * 1000
    t_amp = t_seg[np.arange(12), np.abs(t_seg).argmax(1)]
    return {"RAmplitude": list(r_amp), "SAmplitude": list(s_amp), "TAmplitude": list(t_amp),
            "JAmplitude": list(median_mv[:, i1] * 1000)}


def _axis(deg: float) -> float:
    return (deg + 180) % 360 - 180


def device_measurements(model: BeatModel, row: pd.Series, r_times: np.ndarray, duration_s: float,
                        missing_rate: float, rng: np.random.Generator) -> dict[str, float]:
    """What the 12SL analysis would print: the truth plus measurement error, some blanks."""
    inside = r_times[(r_times - model.qrs_s / 2 >= 0) & (r_times + model.qrs_s / 2 <= duration_s)]
    rr_ms = 1000 * float(np.mean(np.diff(inside))) if len(inside) > 1 else 1000 * model.rr_s
    qt_ms = 1000 * model.qtc_s * np.sqrt(model.rr_s) + rng.normal(0, 6)
    m = {
        "ventricular_rate": round(60000 / rr_ms + rng.normal(0, 0.7)),
        "pq_interval": round(model.pr_s * 1000 + rng.normal(0, 5)),
        "p_duration": round(_P_DURATION_S * 1000 + rng.normal(0, 6)),
        "qrs_duration": round(float(row.qrs_ms) + rng.normal(0, 3)),
        "qt_interval": round(qt_ms),
        "qtc_interval": round(qt_ms / np.sqrt(rr_ms / 1000)),   # 12SL reports Bazett
        "rr_interval": round(rr_ms),
        "p_axis": round(_axis(model.p_axis + rng.normal(0, 8))),
        "r_axis": round(_axis(model.r_axis + rng.normal(0, 6))),
        "t_axis": round(_axis(model.t_axis + (180 if model.t_mv < 0 else 0) + rng.normal(0, 10))),
        "qrs_num": len(inside),
    }
    m = {k: float(v) for k, v in m.items()}
    if model.af:
        m["pq_interval"] = m["p_duration"] = m["p_axis"] = np.nan
    blank = rng.random(len(MEASUREMENTS)) < missing_rate
    for key, b in zip(MEASUREMENTS, blank):
        if b and key != "qrs_num":
            m[key] = np.nan
    return m


def write_subject_ecg(row: pd.Series, path: str | Path, cfg: dict, seed: int) -> None:
    """Render one subject's resting ECG and write it as a CardioSoft XML export.

    ``row`` is one row of ``sample_cohort``; ``cfg`` is ``config['synth']['ecg']``.
    """
    rng = np.random.default_rng([int(seed), int(row.eid)])
    fs = float(cfg.get("sample_rate", 500))
    duration = float(cfg.get("duration_s", 10))
    res = float(cfg.get("resolution_uv", 5))
    model = BeatModel(row, rng)

    indep, r_times = render_leads(model, duration, fs, cfg, rng)
    meas = device_measurements(model, row, r_times, duration, float(cfg.get("missing_measurement_rate", 0.03)), rng)
    fd_seconds = int(cfg.get("full_disclosure_s", _FD_SECONDS_DEFAULT))
    fd, fd_beats = (None, np.array([]))
    if fd_seconds > 0:   # a separate stretch of rhythm: the strip is not a slice of it (as in UKB)
        fd_indep, fd_r = render_leads(model, fd_seconds, fs, cfg, rng)
        fd = _quantised(fd_indep, res)
        fd_beats = fd_r[(fd_r >= 0) & (fd_r < fd_seconds)]

    q_on = 0.428
    q_off = q_on + model.qrs_s
    median = _median_beat(model, fs, int(cfg.get("median_samples", 600)), q_on)
    qt = model.qtc_s * np.sqrt(model.rr_s)
    fid = {"QOnset": q_on, "QOffset": q_off, "TOffset": q_on + qt}
    if not model.af:
        fid |= {"POnset": q_on - model.pr_s, "POffset": q_on - model.pr_s + _P_DURATION_S}
    fid_ms = {k: round(1000 * v + rng.normal(0, 2)) for k, v in fid.items()}
    strip_beats = r_times[(r_times >= 0) & (r_times < duration)]
    rhythm = "Atrial fibrillation" if model.af else "Sinus rhythm"
    axis = ("Left axis deviation" if model.r_axis < -30 else
            "Right axis deviation" if model.r_axis > 90 else None)
    year = int(rng.integers(2014, 2020))
    extras = CardioSoftExtras(
        median=median, full_disclosure=fd, fiducials_ms=fid_ms,
        lead_table=_lead_table(median, fs, q_on, q_off),
        beat_times_ms=list(1000 * strip_beats), full_disclosure_beats_s=list(fd_beats),
        extra_measurements={"PPInterval": np.nan if model.af else meas["rr_interval"]},
        patient={"pid": row.eid, "age": int(row.age), "sex": int(row.sex), "height_cm": float(row.height_cm),
                 "weight_kg": float(row.weight_kg), "birth_year": year - int(row.age)},
        interpretation=[rhythm, *([axis] if axis else []), "---",
                        "Arrhythmia results of the full-disclosure ECG", f"   QRS Complexes: {len(fd_beats)}"],
        acquired=(year, int(rng.integers(1, 13)), int(rng.integers(1, 29)), int(rng.integers(8, 18)),
                  int(rng.integers(0, 60)), int(rng.integers(0, 60))),
    )
    record = EcgRecord(eid=str(row.eid), signal=_quantised(indep, res), fs=fs,
                       leads=list(STANDARD_LEADS), measurements=meas, source=str(path))
    write_cardiosoft_xml(path, record, extras, resolution_uv=res)

"""Ventricular volume curves, ED/ES selection and the rules that reject a curve.

ED is the frame of largest LV blood-pool volume, ES the frame of smallest, over the
whole cine (UK Biobank cines are ECG-triggered and cover one cycle from the R wave,
so ED sits near frame 0 and ES near a third of the cycle; no ordering is imposed, so
arrhythmic or mis-triggered cines are not forced into a shape they do not have).
Ties: the *first* frame among equal volumes (``np.argmax``/``np.argmin`` semantics),
so the choice is deterministic.

A curve is rejected (``InputError``, which the segment stage turns into an exclusion
row) in this order, the first rule that fires giving the reason:

1. ``too_few_slices`` — fewer slices than ``min_slices`` (no volume, no 6-slice crop);
2. ``too_few_frames`` — fewer frames than ``min_frames`` (no cycle to find ES in);
3. ``no_heart_found`` — peak LV blood-pool volume below ``min_lv_ml``;
4. ``flat_curve`` — LV stroke volume (max − min) below ``min_stroke_ml``: the
   segmentation does not move with the heart;
5. ``ef_out_of_range`` — LVEF outside ``ef_range`` (percent), not a physiological heart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

LV_BLOOD_POOL, LV_MYOCARDIUM, RV_BLOOD_POOL = 1, 2, 3


@dataclass(frozen=True)
class CurveRules:
    """Plausibility limits of a volume curve (config ``segmentation.qc``)."""

    min_slices: int = 6
    min_frames: int = 10
    min_lv_ml: float = 10.0
    min_stroke_ml: float = 5.0
    ef_range: tuple[float, float] = (10.0, 90.0)

    @classmethod
    def from_config(cls, qc: dict) -> "CurveRules":
        return cls(int(qc["min_slices"]), int(qc["min_frames"]), float(qc["min_lv_ml"]),
                   float(qc["min_stroke_ml"]), tuple(float(v) for v in qc["ef_range"]))


def voxel_volume_ml(affine: np.ndarray) -> float:
    """Volume of one voxel in mL from the NIfTI affine.

    The third column's length is the distance between slice *centres* (thickness +
    gap, 10 mm in UKB), so counting voxels × this volume is the summation-of-discs
    volume the UKB reference pipeline reports, with the gap counted as tissue.
    """
    a = np.asarray(affine, float)[:3, :3]
    return float(abs(np.linalg.det(a))) / 1000.0


def volume_curve(labels: np.ndarray, label: int, affine: np.ndarray) -> np.ndarray:
    """Per-frame volume (mL) of one label in a (x, y, z, t) label map."""
    counts = (labels == label).sum(axis=(0, 1, 2), dtype=np.int64)
    return counts.astype(np.float64) * voxel_volume_ml(affine)


def select_phases(lv_ml: np.ndarray) -> tuple[int, int]:
    """(ED, ES) frame indices: max and min LV volume, first frame among ties."""
    lv_ml = np.asarray(lv_ml, float)
    return int(np.argmax(lv_ml)), int(np.argmin(lv_ml))


def check_curve(lv_ml: np.ndarray, n_slices: int, rules: CurveRules, path: str = "") -> None:
    """Raise ``InputError`` with the first failing rule (see module docstring)."""
    lv_ml = np.asarray(lv_ml, float)
    if n_slices < rules.min_slices:
        raise InputError(path, "too_few_slices", f"{n_slices} slices < {rules.min_slices}")
    if lv_ml.size < rules.min_frames:
        raise InputError(path, "too_few_frames", f"{lv_ml.size} frames < {rules.min_frames}")
    edv, esv = float(lv_ml.max()), float(lv_ml.min())
    if edv < rules.min_lv_ml:
        raise InputError(path, "no_heart_found", f"peak LV volume {edv:.1f} mL < {rules.min_lv_ml} mL")
    if edv - esv < rules.min_stroke_ml:
        raise InputError(path, "flat_curve", f"LV stroke volume {edv - esv:.1f} mL < {rules.min_stroke_ml} mL")
    ef = 100.0 * (edv - esv) / edv
    lo, hi = rules.ef_range
    if not lo <= ef <= hi:
        raise InputError(path, "ef_out_of_range", f"LVEF {ef:.1f}% outside [{lo}, {hi}]")


def phase_summary(lv_ml: np.ndarray, rv_ml: np.ndarray) -> dict:
    """The seg-table row fields derived from the curves."""
    ed, es = select_phases(lv_ml)
    edv, esv = float(lv_ml[ed]), float(lv_ml[es])
    return {"ed_frame": ed, "es_frame": es, "lvedv_ml": edv, "lvesv_ml": esv,
            "lvef": 100.0 * (edv - esv) / edv if edv > 0 else float("nan"),
            # RV volumes at the RV's own extremes, as the UKB reference pipeline reports them
            "rvedv_ml": float(np.max(rv_ml)), "rvesv_ml": float(np.min(rv_ml))}

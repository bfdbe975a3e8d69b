"""ED/ES selection, volume curves and the curve rules that exclude a subject."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_cmr_volumes import render_subjects

from ecgcmr.cmr.phases import (CurveRules, check_curve, phase_summary, select_phases, volume_curve,
                               voxel_volume_ml)
from ecgcmr.errors import InputError


def test_ed_max_es_min_first_frame_among_ties():
    lv = np.array([100.0, 120, 120, 80, 60, 60, 90, 120])
    assert select_phases(lv) == (1, 4)


@pytest.mark.parametrize("curve, n_slices, reason", [
    (np.full(20, 100.0) - np.r_[0, np.arange(19)], 3, "too_few_slices"),
    (np.array([120.0, 50, 100]), 10, "too_few_frames"),
    (np.linspace(5, 2, 20), 10, "no_heart_found"),
    (120 - np.abs(np.sin(np.linspace(0, 3, 20))), 10, "flat_curve"),
    (np.r_[120.0, np.full(19, 6.0)], 10, "ef_out_of_range"),
    (np.r_[120.0, np.full(19, 115.0)], 10, "ef_out_of_range"),
])
def test_implausible_curves_are_rejected_with_their_reason(curve, n_slices, reason):
    with pytest.raises(InputError) as e:
        check_curve(curve, n_slices, CurveRules(), "x.nii.gz")
    assert e.value.reason == reason and e.value.path == "x.nii.gz"


def test_plausible_curve_passes_and_summary():
    lv = 100 + 50 * np.cos(np.linspace(0, 2 * np.pi, 50, endpoint=False))
    rv = lv * 1.1
    check_curve(lv, 10, CurveRules(), "")
    s = phase_summary(lv, rv)
    assert (s["ed_frame"], s["es_frame"]) == (0, 25)
    assert s["lvedv_ml"] == pytest.approx(150) and s["lvesv_ml"] == pytest.approx(50)
    assert s["lvef"] == pytest.approx(100 * 100 / 150)
    assert s["rvedv_ml"] == pytest.approx(165)


def test_voxel_volume_counts_the_slice_spacing():
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    affine = np.eye(4)
    affine[:3, :3] = q @ np.diag([1.8, 1.8, 10.0])
    assert voxel_volume_ml(affine) == pytest.approx(1.8 * 1.8 * 10 / 1000)
    labels = np.zeros((4, 4, 3, 2), np.uint8)
    labels[:2, :2, :, 0] = 1
    assert volume_curve(labels, 1, affine).tolist() == pytest.approx([12 * 0.0324, 0.0])


def test_truth_masks_give_the_true_phases_and_volumes():
    """On the synthetic ground-truth masks, ED/ES land within ±1 frame of the latent
    ED/ES for >= 90% of subjects and LVEDV matches the latent LVDV."""
    subjects = render_subjects(12, seed=3)
    hits, rel_err = 0, []
    for row, _, labels, affine in subjects:
        s = phase_summary(volume_curve(labels, 1, affine), volume_curve(labels, 3, affine))
        hits += abs(s["ed_frame"] - row.ed_frame) <= 1 and abs(s["es_frame"] - row.es_frame) <= 1
        rel_err.append(abs(s["lvedv_ml"] / row.LVDV - 1))
    assert hits / len(subjects) >= 0.9
    assert max(rel_err) < 0.02

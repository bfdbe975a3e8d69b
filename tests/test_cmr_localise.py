"""The training-free localiser (segmentation.method: localise): heart boxes and ED/ES
on synthetic cines against the generator's truth, its exclusion reasons, and a real
public MR image through ingest -> localise -> crop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest_cmr_volumes import crop_params, render_subjects, segmentation_params, write_subjects
from test_cmr_seg import _real_mr_cine

from ecgcmr import exclusions
from ecgcmr.cmr.crop import crop_shard, heart_box, lv_centre_slice, slice_window
from ecgcmr.cmr.labelled import segmentation_method
from ecgcmr.cmr.localise import localise_cine
from ecgcmr.cmr.phases import LV_BLOOD_POOL, LV_MYOCARDIUM, select_phases, volume_curve
from ecgcmr.cmr.segment import segment_shard
from ecgcmr.errors import InputError


def _frame_error(a: int, b: int, n: int) -> int:
    return min((a - b) % n, (b - a) % n)


@pytest.fixture(scope="module")
def subjects():
    return render_subjects(4, seed=5)


def test_box_holds_the_myocardium_and_phases_match_truth(subjects):
    crop = crop_params()
    for row, image, truth, affine in subjects:
        labels = localise_cine(image, affine)
        ed, es = select_phases(volume_curve(labels, LV_BLOOD_POOL, affine))
        nt = image.shape[3]
        assert _frame_error(ed, row.ed_frame, nt) <= 2 and _frame_error(es, row.es_frame, nt) <= 2, row.eid
        z0 = slice_window(lv_centre_slice(labels[..., ed]), image.shape[2], crop["n_slices"])
        pix = np.linalg.norm(affine[:3, :2], axis=0)
        margin = tuple(int(math.ceil(crop["margin_mm"] / p)) for p in pix)
        x0, x1, y0, y1 = heart_box(labels[:, :, z0:z0 + crop["n_slices"]], crop["heart_labels"], margin)
        myo = (truth[:, :, z0:z0 + crop["n_slices"]] == LV_MYOCARDIUM).any(axis=(2, 3))
        outside = myo.copy()
        outside[x0:x1, y0:y1] = False
        assert myo.any() and not outside.any(), row.eid


def test_static_cine_has_no_moving_region(subjects):
    _, image, _, affine = subjects[0]
    still = np.repeat(image[..., :1], image.shape[3], axis=3)
    with pytest.raises(InputError) as e:
        localise_cine(still, affine, path="still.nii.gz")
    assert e.value.reason == "no_moving_region" and e.value.path == "still.nii.gz"


def test_two_equally_moving_regions_are_ambiguous():
    """Two discs beating alike at opposite sides of the centre: the localiser cannot
    tell which is the heart, and says so rather than picking one."""
    n, nt = 64, 20
    xx, yy = np.indices((n, n))
    image = np.full((n, n, 6, nt), 100.0, np.float32)
    for t in range(nt):
        r = 5 + 2 * np.cos(2 * np.pi * t / nt)
        for cx in (14, 50):
            image[((xx - cx) ** 2 + (yy - 32) ** 2) < r * r, :, t] = 600.0
    with pytest.raises(InputError) as e:
        localise_cine(image, np.diag([2.0, 2.0, 10.0, 1.0]))
    assert e.value.reason == "several_candidates"


def test_segment_shard_localises_and_crops_and_excludes_a_real_single_slice(subjects, tmp_path):
    index, _ = write_subjects(subjects[:2], tmp_path)
    real = _real_mr_cine(tmp_path)
    idx = pd.concat([pd.read_parquet(index), pd.DataFrame([{"eid": "2000000", "path": str(real)}])])
    idx.to_parquet(tmp_path / "index.parquet")
    params = {**segmentation_params(), "method": "localise", "localise": {}}
    seg = segment_shard(str(tmp_path / "index.parquet"), 0, 1, None, str(tmp_path / "seg.parquet"),
                        str(tmp_path / "seg_ex.csv"), str(tmp_path / "masks"), params)
    assert sorted(seg.eid) == sorted(str(r.eid) for r, *_ in subjects[:2])
    for r in seg.itertuples():
        truth = next(s[0] for s in subjects if str(s[0].eid) == r.eid)
        assert _frame_error(r.ed_frame, truth.ed_frame, 50) <= 2 and _frame_error(r.es_frame, truth.es_frame, 50) <= 2
    ex = exclusions.read(tmp_path / "seg_ex.csv")
    assert ex.eid.tolist() == ["2000000"] and ex.reason.tolist() == ["too_few_slices"]
    crops = crop_shard(str(tmp_path / "seg.parquet"), str(tmp_path / "index.parquet"), str(tmp_path / "crops"),
                       str(tmp_path / "crops.parquet"), str(tmp_path / "crop_ex.csv"), crop_params())
    assert len(crops) == 2 and not crops.box_truncated.any()


def test_real_single_slice_allowed_through_is_excluded_as_not_moving(tmp_path):
    """With the slice rule off, the real (one-frame) MR image reaches the localiser,
    which excludes it with its own reason instead of failing."""
    real = _real_mr_cine(tmp_path)
    pd.DataFrame([{"eid": "2000000", "path": str(real)}]).to_parquet(tmp_path / "index.parquet")
    params = segmentation_params()
    params = {**params, "method": "localise", "qc": {**params["qc"], "min_slices": 1}}
    seg = segment_shard(str(tmp_path / "index.parquet"), 0, 1, None, str(tmp_path / "seg.parquet"),
                        str(tmp_path / "ex.csv"), str(tmp_path / "masks"), params)
    ex = exclusions.read(tmp_path / "ex.csv")
    assert seg.empty and ex.reason.tolist() == ["no_moving_region"] and ex.path.tolist() == [str(real)]


@pytest.mark.parametrize("seg, synthetic, expected", [
    ({"method": "auto", "weights": None, "labelled": None}, False, "localise"),
    ({"method": "auto", "weights": None, "labelled": {"images_dir": None, "masks_dir": None}}, False, "localise"),
    ({"method": "auto", "weights": None, "labelled": {"images_dir": None, "masks_dir": None}}, True, "unet"),
    ({"method": "auto", "weights": "model.pt", "labelled": None}, False, "unet"),
    ({"method": "auto", "weights": None, "labelled": [{"format": "acdc", "path": "/acdc"}]}, False, "unet"),
    ({"method": "localise", "weights": "model.pt", "labelled": None}, True, "localise"),
])
def test_method_auto_is_the_localiser_without_weights_or_labels(seg, synthetic, expected):
    assert segmentation_method(seg, synthetic, "truth") == expected

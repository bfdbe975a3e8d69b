"""The training-free localiser (segmentation.method: localise): heart boxes and ED/ES
on synthetic cines against the generator's truth, its exclusion reasons, and a real
public MR image through ingest -> localise -> crop."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pydicom
import pytest
from conftest_cmr import rezip
from conftest_cmr_volumes import crop_params, render_subjects, segmentation_params, write_subjects
from test_cmr_seg import _real_mr_cine

from ecgcmr import exclusions
from ecgcmr.cmr.crop import crop_shard, heart_box, lv_centre_slice, slice_window
from ecgcmr.cmr.labelled import segmentation_method
from ecgcmr.cmr.localise import localise_cine
from ecgcmr.cmr.phases import LV_BLOOD_POOL, LV_MYOCARDIUM, select_phases, volume_curve
from ecgcmr.cmr.segment import segment_shard
from ecgcmr.cmr.ingest import write_cine_nifti
from ecgcmr.errors import InputError
from ecgcmr.io.ukb_cmr_zip import read_cmr_zip
from pydicom.data import get_testdata_file


def _frame_error(a: int, b: int, n: int) -> int:
    return min((a - b) % n, (b - a) % n)


@pytest.fixture(scope="module")
def subjects():
    return render_subjects(3, seed=5)


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


def _real_mr_stack(tmp_path, n_slices=6, n_frames=12, beat=True):
    """A multi-slice cine zip from pydicom's real MR_small.dcm: every slice the real
    image (a new series, 10 mm apart), every frame the image zoomed about its centre by
    a periodic factor (``beat``), as one UK Biobank-style zip through the real ingest."""
    from scipy import ndimage

    base = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    pixels = base.pixel_array.astype(float)
    items = []
    for k in range(n_slices):
        for t in range(n_frames):
            ds = base.copy()
            zoom = 1 + (0.12 * np.cos(2 * np.pi * t / n_frames) if beat else 0.0)
            centre = (np.asarray(pixels.shape) - 1) / 2
            frame = ndimage.affine_transform(pixels, np.eye(2) / zoom, offset=centre - centre / zoom, order=1)
            ds.PixelData = np.clip(frame, 0, 32767).astype(np.int16).tobytes()
            ds.SeriesDescription = f"CINE_segmented_SAX_b{k + 1}"
            ds.SeriesNumber = 20 + k
            ds.SeriesInstanceUID = f"2.25.1000{k}"
            ds.SOPInstanceUID = f"2.25.1000{k}.{t + 1}"
            ds.InstanceNumber = t + 1
            ds.TriggerTime = str(70 * t)
            ds.ImagePositionPatient = [-83.9063, -91.2, 6.6406 + 10.0 * k]
            ds.SliceLocation = 6.6406 + 10.0 * k
            buf = io.BytesIO()
            ds.save_as(buf)
            items.append((f"{k}_{t}.dcm", buf.getvalue()))
    cine = read_cmr_zip(rezip(tmp_path / "2000001_20209_2_0.zip", items))
    write_cine_nifti(cine, tmp_path / "2000001.nii.gz")
    return tmp_path / "2000001.nii.gz"


@pytest.mark.parametrize("beat", [True, False])
def test_real_multi_slice_cine_is_localised_and_cropped_or_excluded_with_a_reason(tmp_path, beat):
    cine = _real_mr_stack(tmp_path, beat=beat)
    pd.DataFrame([{"eid": "2000001", "path": str(cine)}]).to_parquet(tmp_path / "index.parquet")
    params = segmentation_params()
    params = {**params, "method": "localise", "qc": {**params["qc"], "min_frames": 10}}
    seg = segment_shard(str(tmp_path / "index.parquet"), 0, 1, None, str(tmp_path / "seg.parquet"),
                        str(tmp_path / "ex.csv"), str(tmp_path / "masks"), params)
    ex = exclusions.read(tmp_path / "ex.csv")
    assert len(seg) + len(ex) == 1
    if not beat:  # the same real anatomy, standing still
        assert ex.reason.tolist() == ["no_moving_region"]
        return
    if len(ex):
        assert ex.reason[0] in {"no_moving_region", "several_candidates", "no_heart_found", "flat_curve",
                                "ef_out_of_range"}, ex
        assert ex.path[0] == str(cine) and ex.detail[0]
    else:
        crops = crop_shard(str(tmp_path / "seg.parquet"), str(tmp_path / "index.parquet"), str(tmp_path / "crops"),
                           str(tmp_path / "crops.parquet"), str(tmp_path / "crop_ex.csv"), crop_params())
        assert len(crops) + len(exclusions.read(tmp_path / "crop_ex.csv")) == 1

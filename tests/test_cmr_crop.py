"""Six-slice crops: the whole LV inside, the configured shape, affines that keep every
voxel at its world position; the crop index, the encoders' dataset and the QC figure."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest_cmr_volumes import CONFIG, crop_params, render_subjects, write_subjects

from ecgcmr import exclusions
from ecgcmr.cmr.crop import crop_shard, crop_subject, gather_crop_index, slice_window
from ecgcmr.cmr.dataset import CmrCropDataset
from ecgcmr.cmr.phases import volume_curve
from ecgcmr.cmr.qc import qc_montage
from ecgcmr.errors import InputError


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("crop")
    subjects = render_subjects(3, seed=7)
    index, masks = write_subjects(subjects, root)
    return root, subjects, index, masks


def _voxels_in(crop_affine, cine_affine, ijk):
    """Crop-voxel coordinates of cine voxels ``ijk`` (n, 3)."""
    world = cine_affine @ np.c_[ijk, np.ones(len(ijk))].T
    return (np.linalg.inv(crop_affine) @ world)[:3].T


def test_slice_window_centres_on_the_lv():
    assert slice_window(4.5, 10, 6) == 2          # slices 2..7, centre 4.5
    assert slice_window(4.4, 10, 6) == 2 and slice_window(5.1, 10, 6) == 3
    assert slice_window(0.3, 10, 6) == 0 and slice_window(9.0, 10, 6) == 4
    with pytest.raises(InputError, match="too_few_slices"):
        slice_window(2.0, 5, 6)


@pytest.mark.parametrize("spacing, shape", [(None, None), (2.0, [96, 88])])
def test_crops_hold_the_whole_lv_at_the_right_world_positions(cohort, tmp_path, spacing, shape):
    root, subjects, _, masks = cohort
    params = crop_params(spacing_mm=spacing, shape=shape or CONFIG["crop"]["shape"])
    h, w = params["shape"]
    for row, image, labels, affine in subjects:
        es = int(row.es_frame)
        out = crop_subject(row.eid, str(root / "nifti" / f"{row.eid}.nii.gz"),
                           str(masks / f"{row.eid}_labels.nii.gz"), 0, es, tmp_path, params)
        z0 = out["z_start"]
        ed_img, es_img = nib.load(out["path_ED"]), nib.load(out["path_ES"])
        assert ed_img.shape == es_img.shape == (h, w, 6)
        assert nib.load(out["path_2D"]).shape == (h, w)
        assert nib.load(out["path_2DT"]).shape == (h, w, 1, image.shape[3])
        assert np.allclose(ed_img.affine, es_img.affine) and not out["box_truncated"]
        zooms = np.linalg.norm(ed_img.affine[:3, :3], axis=0)
        assert zooms == pytest.approx([spacing or 3.2, spacing or 3.2, 10.0], abs=1e-3)
        for frame, img in ((0, ed_img), (es, es_img)):
            lv = np.argwhere(np.isin(labels[:, :, z0:z0 + 6, frame], (1, 2))) + [0, 0, z0]
            where = _voxels_in(img.affine, affine, lv)
            assert (where[:, :2] >= 0).all() and (where[:, 0] <= h - 1).all() and (where[:, 1] <= w - 1).all()
            assert np.allclose(where[:, 2], lv[:, 2] - z0, atol=1e-6)   # slice k of the crop is slice z0+k
            data = np.asarray(img.dataobj)
            if spacing is None:   # native grid: crop voxels are cine voxels, scaled
                idx = np.rint(where).astype(int)
                assert np.allclose(where, idx, atol=1e-6)
                crop_vals = data[idx[:, 0], idx[:, 1], idx[:, 2]]
                cine_vals = image[lv[:, 0], lv[:, 1], lv[:, 2], frame]
                assert np.corrcoef(crop_vals, cine_vals)[0, 1] > 0.999
            assert data.min() >= 0 and data.max() <= 1
        # 2D and 2D+t: the mid slice (inside the window), same grid, ED frame first
        two_d, two_dt = nib.load(out["path_2D"]), nib.load(out["path_2DT"])
        assert z0 <= out["mid_slice"] < z0 + 6
        assert np.allclose(two_d.affine, two_dt.affine)
        cine_pos = _voxels_in(affine, two_d.affine, [[0, 0, 0], [h - 1, w - 1, 0]])
        assert np.allclose(cine_pos[:, 2], out["mid_slice"], atol=1e-6)
        a, b = np.asarray(two_d.dataobj), np.asarray(two_dt.dataobj)[:, :, 0, 0]
        assert np.corrcoef(a[a > 0], b[a > 0])[0, 1] > 0.99


def _seg_table(root, subjects, masks, extra=()):
    rows = [{"eid": str(r.eid), "ed_frame": 0, "es_frame": int(r.es_frame),
             "mask_path": str(masks / f"{r.eid}_labels.nii.gz"),
             "lv_volume_ml": volume_curve(lab, 1, aff).tolist(), "rv_volume_ml": volume_curve(lab, 3, aff).tolist()}
            for r, _, lab, aff in subjects]
    extra = [{"lv_volume_ml": [0.0], "rv_volume_ml": [0.0], **e} for e in extra]
    return pd.DataFrame(rows + extra)


def test_crop_shard_index_dataset_and_qc(cohort, tmp_path):
    root, subjects, index, masks = cohort
    # a one-slice, one-frame subject (a single real-size MR image) must be excluded
    flat = np.zeros((64, 64, 1, 1), np.float32)
    nib.save(nib.Nifti1Image(flat + 1, np.eye(4)), tmp_path / "1.nii.gz")
    nib.save(nib.Nifti1Image(flat.astype(np.uint8), np.eye(4)), tmp_path / "1_labels.nii.gz")
    idx = pd.concat([pd.read_parquet(index), pd.DataFrame([{"eid": "1", "path": str(tmp_path / "1.nii.gz")}])])
    idx.to_parquet(tmp_path / "index.parquet")
    seg = _seg_table(root, subjects, masks, [{"eid": "1", "ed_frame": 0, "es_frame": 0,
                                              "mask_path": str(tmp_path / "1_labels.nii.gz")}])
    seg.to_parquet(tmp_path / "seg.parquet")
    df = crop_shard(str(tmp_path / "seg.parquet"), str(tmp_path / "index.parquet"), str(tmp_path / "crops"),
                    str(tmp_path / "shard_0.parquet"), str(tmp_path / "ex.csv"), crop_params())
    assert sorted(df.eid) == sorted(str(r.eid) for r, *_ in subjects)
    ex = exclusions.read(tmp_path / "ex.csv")
    assert ex.eid.tolist() == ["1"] and ex.stage.tolist() == ["crop"]
    assert ex.reason.tolist() == ["no_heart_found"]    # empty mask: nothing to centre on
    gathered = gather_crop_index([str(tmp_path / "shard_0.parquet")], str(tmp_path / "crops.parquet"))
    assert gathered.eid.tolist() == sorted(gathered.eid)

    eids = list(gathered.eid)
    h, w = CONFIG["crop"]["shape"]
    targets = pd.DataFrame({"eid": eids, "LVEF": [55.0, 60.0, np.nan], "LVDV": [1.0, 2.0, 3.0]})
    ds = CmrCropDataset(tmp_path / "crops.parquet", eids, "ED", targets, ["LVEF", "LVDV"])
    item = ds[1]
    assert item["image"].shape == (1, h, w, 6) and item["image"].dtype.is_floating_point
    assert item["eid"] == eids[1] and item["target"].tolist() == [60.0, 2.0]
    assert CmrCropDataset(tmp_path / "crops.parquet", eids, "ES")[0]["image"].shape == (1, h, w, 6)
    assert CmrCropDataset(tmp_path / "crops.parquet", eids, "2D")[0]["image"].shape == (1, h, w)
    t = CmrCropDataset(tmp_path / "crops.parquet", eids, "2DT")[0]["image"]
    assert t.shape == (subjects[0][1].shape[3], 1, h, w)
    assert "target" not in CmrCropDataset(tmp_path / "crops.parquet", eids, "2D")[0]
    with pytest.raises(KeyError):
        CmrCropDataset(tmp_path / "crops.parquet", ["nope"], "ED")

    seg.to_parquet(tmp_path / "seg.parquet")
    shown = qc_montage(str(tmp_path / "shard_0.parquet"), str(tmp_path / "seg.parquet"), str(tmp_path / "qc.png"), 2)
    assert (tmp_path / "qc.png").stat().st_size > 10_000
    assert shown["legend"] == ["LV", "myocardium", "RV"] and len(shown["subjects"]) == 2
    for subj in shown["subjects"]:  # the chosen frames in the titles and on the volume curve
        r = df.set_index("eid").loc[subj["eid"]]
        assert subj["frames"] == {"ED": int(r.ed_frame), "ES": int(r.es_frame)} and subj["curve_frames"] == 50


def test_dataset_targets_are_writable_copies_without_warnings(tmp_path):
    """float32 phenotype columns come out of pandas (copy-on-write) as read-only views:
    an item must still be a tensor of its own memory, with no non-writable warning."""
    import warnings

    path = tmp_path / "1_2D.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4), np.float32), np.eye(4)), path)
    pd.DataFrame({"eid": ["1"], "path_2D": [str(path)]}).to_parquet(tmp_path / "crops.parquet")
    targets = pd.DataFrame({"eid": ["1"], "LVEF": np.float32([55.0]), "LVDV": np.float32([120.0])})
    ds = CmrCropDataset(tmp_path / "crops.parquet", ["1"], "2D", targets, ["LVEF", "LVDV"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        item = ds[0]
    item["target"] += 1.0
    assert ds[0]["target"].tolist() == [55.0, 120.0] and targets["LVEF"].tolist() == [55.0]


@pytest.mark.parametrize("crop, shape", [("ED", (5, 4, 6)), ("2D", (5, 4)), ("2DT", (5, 4, 1, 7))])
def test_in_memory_crops_are_the_items_read_from_disk(tmp_path, crop, shape):
    rng = np.random.default_rng(0)
    paths = []
    for e in ("1", "2", "3"):
        paths.append(tmp_path / f"{e}_{crop}.nii.gz")
        nib.save(nib.Nifti1Image(rng.normal(size=shape).astype(np.float32), np.eye(4)), paths[-1])
    pd.DataFrame({"eid": ["1", "2", "3"], f"path_{crop}": list(map(str, paths))}).to_parquet(tmp_path / "c.parquet")
    on_disk = CmrCropDataset(tmp_path / "c.parquet", ["3", "1", "2"], crop)
    in_memory = CmrCropDataset(tmp_path / "c.parquet", ["3", "1", "2"], crop, in_memory=True)
    for i in range(3):
        assert torch.equal(on_disk[i]["image"], in_memory[i]["image"]) and in_memory[i]["eid"] == on_disk[i]["eid"]
    in_memory[0]["image"].mul_(0)   # an in-place augmentation of an item ...
    assert torch.equal(in_memory[0]["image"], on_disk[0]["image"])   # ... never reaches the array

    nib.save(nib.Nifti1Image(np.zeros((3, 3) + shape[2:], np.float32), np.eye(4)), paths[1])
    with pytest.raises(InputError, match="crop_shape_mismatch") as e:
        CmrCropDataset(tmp_path / "c.parquet", ["1", "2"], crop, in_memory=True)
    assert e.value.path == str(paths[1])

"""The segmenter (MONAI U-Net) and the segment stage: held-out Dice on synthetic
subjects, ED/ES from predicted masks, the shard outputs and exclusions (a real public
MR image routed through ingest -> segment -> crop), the train_segmenter rule function."""

from __future__ import annotations

import json
import logging
import os

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest
import torch
from conftest_cmr import as_sax_slice, rezip
from conftest_cmr_volumes import (TEST_ARCH, TEST_TRAIN, crop_params, render_subjects, segmentation_params,
                                  write_subjects)
from pydicom.data import get_testdata_file

from ecgcmr import exclusions
from ecgcmr.cmr.crop import crop_shard
from ecgcmr.cmr.ingest import write_cine_nifti
from ecgcmr.cmr.phases import select_phases, volume_curve
from ecgcmr.cmr.segment import segment_cine, segment_shard
from ecgcmr.cmr.segmenter import (build_unet, evaluate_dice, labelled_images, load_segmenter, normalise,
                                  predict_labels, save_segmenter, split_subjects)
from ecgcmr.train.segmenter import train_model, train_segmenter
from ecgcmr.io.ukb_cmr_zip import read_cmr_zip


def _ed_es_slices(subjects):
    """All slices at the true ED and ES frames, normalised per cine: (N, 1, X, Y)."""
    x, y, g = [], [], []
    for k, (row, image, labels, _) in enumerate(subjects):
        image = normalise(image)
        for t in (int(row.ed_frame), int(row.es_frame)):
            x.append(image[:, :, :, t].transpose(2, 0, 1))
            y.append(labels[:, :, :, t].transpose(2, 0, 1))
            g += [k] * image.shape[2]
    return np.concatenate(x)[:, None], np.concatenate(y)[:, None], np.asarray(g)


@pytest.fixture(scope="module")
def trained():
    """16 training subjects x (ED, ES), 12 epochs: ~10 s of one core."""
    torch.set_num_threads(1)
    subjects = render_subjects(22, seed=1)
    x, y, _ = _ed_es_slices(subjects[:16])
    model = train_model(x, y, TEST_ARCH, TEST_TRAIN, seed=0)
    return model, subjects[16:]


@pytest.mark.slow
def test_held_out_dice(trained):
    model, held_out = trained
    x, y, g = _ed_es_slices(held_out)
    dice = evaluate_dice(model, x, y, g)
    assert set(dice) == {"lv_blood_pool", "lv_myocardium", "rv_blood_pool"}
    assert dice["lv_blood_pool"] > 0.85, dice


@pytest.mark.slow
def test_predicted_masks_give_the_true_phases(trained):
    model, held_out = trained
    hits = 0
    for row, image, _, affine in held_out:
        labels = segment_cine(model, image, TEST_ARCH["intensity_percentiles"], device="cpu")
        ed, es = select_phases(volume_curve(labels, 1, affine))
        # ED at the cycle's last frame is next to frame 0: distances are circular
        d = lambda a, b: min(abs(a - b), image.shape[3] - abs(a - b))  # noqa: E731
        hits += d(ed, row.ed_frame) <= 1 and d(es, row.es_frame) <= 1
    assert hits / len(held_out) >= 0.9


def _real_mr_cine(tmp_path):
    """pydicom's real MR_small.dcm through the project's own ingest: a one-slice,
    one-frame cine."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    cine = read_cmr_zip(rezip(tmp_path / "2000000_20209_2_0.zip", [("1.dcm", as_sax_slice(ds))]))
    write_cine_nifti(cine, tmp_path / "2000000.nii.gz")
    return tmp_path / "2000000.nii.gz"


@pytest.mark.slow
def test_segment_and_crop_shard_with_a_real_single_slice(trained, tmp_path):
    model, held_out = trained
    save_segmenter(model, TEST_ARCH, tmp_path / "model.pt")
    index, _ = write_subjects(held_out[:2], tmp_path)
    real = _real_mr_cine(tmp_path)
    idx = pd.concat([pd.read_parquet(index), pd.DataFrame([{"eid": "2000000", "path": str(real)}])])
    idx.to_parquet(tmp_path / "index.parquet")
    df = segment_shard(str(tmp_path / "index.parquet"), 0, 1, str(tmp_path / "model.pt"),
                       str(tmp_path / "seg.parquet"), str(tmp_path / "seg_ex.csv"), str(tmp_path / "masks"),
                       segmentation_params())
    on_disk = pd.read_parquet(tmp_path / "seg.parquet")
    assert sorted(on_disk.eid) == sorted(str(r.eid) for r, *_ in held_out[:2])
    for r in on_disk.itertuples():
        row = next(h[0] for h in held_out if str(h[0].eid) == r.eid)
        assert len(r.lv_volume_ml) == len(r.rv_volume_ml) == r.n_frames == 50
        assert r.lvedv_ml == pytest.approx(row.LVDV, rel=0.15) and r.lvef == pytest.approx(row.LVEF, abs=8)
        mask = nib.load(r.mask_path)
        assert mask.shape == (64, 64, 10, 50) and np.allclose(mask.affine, nib.load(
            idx.set_index("eid").loc[r.eid, "path"]).affine)
    ex = exclusions.read(tmp_path / "seg_ex.csv")
    assert ex.eid.tolist() == ["2000000"] and ex.reason.tolist() == ["too_few_slices"]
    assert ex.stage.tolist() == ["segment"] and ex.path.tolist() == [str(real)]
    assert len(df) == 2

    crops = crop_shard(str(tmp_path / "seg.parquet"), str(tmp_path / "index.parquet"), str(tmp_path / "crops"),
                       str(tmp_path / "crops.parquet"), str(tmp_path / "crop_ex.csv"), crop_params())
    assert len(crops) == 2 and not crops.box_truncated.any()


def test_real_single_slice_is_excluded_before_inference(tmp_path):
    """No trained model needed: the slice count is checked before the net runs."""
    save_segmenter(build_unet(**TEST_ARCH), TEST_ARCH, tmp_path / "model.pt")
    real = _real_mr_cine(tmp_path)
    pd.DataFrame([{"eid": "2000000", "path": str(real)}]).to_parquet(tmp_path / "index.parquet")
    df = segment_shard(str(tmp_path / "index.parquet"), 0, 1, str(tmp_path / "model.pt"),
                       str(tmp_path / "seg.parquet"), str(tmp_path / "ex.csv"), str(tmp_path / "masks"),
                       segmentation_params())
    assert df.empty and pd.read_parquet(tmp_path / "seg.parquet").empty
    ex = exclusions.read(tmp_path / "ex.csv")
    assert ex.reason.tolist() == ["too_few_slices"] and "1 slices" in ex.detail[0]


def test_predict_pads_any_size_and_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_unet(**TEST_ARCH).eval()
    images = np.random.default_rng(0).random((3, 50, 37), np.float32)
    pred = predict_labels(model, images, batch_size=2)
    assert pred.shape == (3, 50, 37) and pred.dtype == np.uint8
    save_segmenter(model, TEST_ARCH, tmp_path / "m.pt")
    loaded, arch = load_segmenter(tmp_path / "m.pt")
    assert arch == TEST_ARCH and np.array_equal(predict_labels(loaded, images), pred)


def test_split_subjects_keeps_paired_splits_and_never_uses_test():
    splits = pd.DataFrame({"eid": ["a", "b", "c"], "paired_split": ["train", "val", "test"]})
    out = split_subjects(["a", "b", "c", "x1", "x2", "x3", "x4"], splits, val_fraction=0.5)
    assert "a" in out["train"] and "b" in out["val"] and "c" not in out["train"] + out["val"]
    assert sorted(out["train"] + out["val"]) == ["a", "b", "x1", "x2", "x3", "x4"]


@pytest.mark.slow
def test_train_segmenter_rule_writes_model_and_metrics_and_resumes(tmp_path, caplog):
    torch.set_num_threads(1)
    subjects = render_subjects(3, seed=2)
    index, masks = write_subjects(subjects, tmp_path)
    eids = [str(r.eid) for r, *_ in subjects]
    pd.DataFrame({"eid": eids, "paired_split": ["train", "train", "val"]}).to_parquet(tmp_path / "splits.parquet")
    labelled = {"masks_dir": str(masks), "mask_suffix": "_labels", "val_fraction": 0.15}
    model = {k: v for k, v in TEST_ARCH.items() if k != "intensity_percentiles"}
    train = {**TEST_TRAIN, "seed": 0, "frames_per_subject": 2, "patch": 64, "max_train_subjects": None, "epochs": 1}
    images = labelled_images(None, str(index), "_labels")
    args = (images, labelled, str(tmp_path / "splits.parquet"), str(tmp_path / "seg" / "model.pt"),
            str(tmp_path / "seg" / "metrics.json"), model)
    metrics = train_segmenter(*args, train, [1.0, 99.0])
    on_disk = json.loads((tmp_path / "seg" / "metrics.json").read_text())
    assert on_disk == metrics and on_disk["n_train_subjects"] == 2 and on_disk["n_val_subjects"] == 1
    assert set(on_disk["dice"]) == {"lv_blood_pool", "lv_myocardium", "rv_blood_pool"}
    net, arch = load_segmenter(tmp_path / "seg" / "model.pt")
    assert arch["channels"] == TEST_ARCH["channels"] and arch["intensity_percentiles"] == [1.0, 99.0]
    assert arch["patch"] == 64  # inference pads slices to it
    # the same run again (a Snakemake retry) resumes its checkpoint instead of starting over
    with caplog.at_level(logging.INFO, logger="ecgcmr.train.loop"):
        train_segmenter(*args, train, [1.0, 99.0])
    assert "holds a finished training of this same config and inputs" in caplog.text
    # a changed hyperparameter or a rewritten labelled file trains from scratch
    for change in ("mask", "patch"):
        caplog.clear()
        if change == "mask":
            m = masks / f"{eids[0]}_labels.nii.gz"
            os.utime(m, ns=(m.stat().st_atime_ns, m.stat().st_mtime_ns + 10**9))
        with caplog.at_level(logging.INFO, logger="ecgcmr.train.loop"):
            train_segmenter(*args, {**train, "patch": 32} if change == "patch" else train, [1.0, 99.0])
        assert "another config/signature" in caplog.text and "finished training" not in caplog.text, change

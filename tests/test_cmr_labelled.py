"""Labelled sets in their own layouts (ACDC, M&Ms, M&Ms-2, this project's NIfTI
folder): the readers, their label conventions, in-plane resampling to one spacing,
and a segmenter trained from ACDC- and M&Ms-layout sets matching one trained on the
project's own layout."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch
from conftest_cmr_volumes import TEST_ARCH, TEST_TRAIN, render_subjects, write_subjects
from conftest_labelled import write_acdc, write_mnms, write_mnms2

from ecgcmr.cmr.labelled import normalise_sources, read_acdc, read_mnms, read_sources
from ecgcmr.cmr.phases import LV_BLOOD_POOL
from ecgcmr.cmr.segment import cine_labels
from ecgcmr.cmr.resample import back_to_grid, to_spacing
from ecgcmr.cmr.segmenter import evaluate_dice, load_segmenter, sample_slices
from ecgcmr.errors import InputError
from ecgcmr.train.segmenter import train_model, train_segmenter


def _sources(tmp_path, subjects):
    write_subjects(subjects, tmp_path / "own")
    return {
        "nifti": [{"format": "nifti", "path": str(tmp_path / "own" / "nifti"), "masks_dir": str(tmp_path / "own" / "masks")}],
        "acdc": [{"format": "acdc", "path": str(write_acdc(subjects, tmp_path / "acdc"))}],
        "mnms": [{"format": "mnms", "path": str(write_mnms(subjects, tmp_path / "mnms"))}],
        "mnms2": [{"format": "mnms", "path": str(write_mnms2(subjects, tmp_path / "mnms2"))}],
    }


def test_every_layout_gives_the_same_labelled_slices(tmp_path):
    subjects = render_subjects(2, seed=4, n_frames=20)
    out = {}
    for name, src in _sources(tmp_path, subjects).items():
        read = read_sources(normalise_sources(src, None, False))
        assert len(read) == 2, name
        out[name] = sample_slices(read, 2, 64, (1.0, 99.0), seed=0)
    ref_x, ref_y, ref_g = out["nifti"]
    assert set(np.unique(ref_y)) == {0, 1, 2, 3}
    for name, (x, y, g) in out.items():
        # labels identical: ACDC's 1 RV / 3 LV mapped to the project's, ED and ES found
        assert np.array_equal(y, ref_y) and np.array_equal(g, ref_g), name
        # intensities: each set is normalised over the frames it holds (2 vs 50)
        assert np.abs(x - ref_x).mean() < 0.03, name


@pytest.mark.slow
def test_acdc_and_mnms_layouts_train_to_the_held_out_dice_of_the_own_layout(tmp_path):
    """16 subjects, 8 in ACDC layout and 8 in M&Ms layout, trained exactly as
    test_cmr_seg's ``trained`` fixture trains the same 16 in the project's layout
    (render_subjects(22, seed=1), TEST_TRAIN; held-out LV Dice 0.89-0.93 there), scored
    on the same 6 held-out subjects read from the project's layout, against the same 16
    trained from the project's layout: ~20 s of one core."""
    torch.set_num_threads(1)
    subjects = render_subjects(22, seed=1)
    train, held = subjects[:16], subjects[16:]
    write_subjects(held, tmp_path / "own")
    own = read_sources(normalise_sources([{"format": "nifti", "path": str(tmp_path / "own" / "nifti"),
                                           "masks_dir": str(tmp_path / "own" / "masks")}], None, False))
    public = read_sources(normalise_sources([
        {"format": "acdc", "path": str(write_acdc(train[:8], tmp_path / "acdc"))},
        {"format": "mnms", "path": str(write_mnms(train[8:], tmp_path / "mnms"))}], None, False))
    assert sorted({s.source for s in public}) == ["acdc", "mnms"] and len(public) == 16
    write_subjects(train, tmp_path / "own_train")
    own_train = read_sources(normalise_sources([{"format": "nifti", "path": str(tmp_path / "own_train" / "nifti"),
                                                 "masks_dir": str(tmp_path / "own_train" / "masks")}], None, False))
    vx, vy, vg = sample_slices(own, 2, 64, (1.0, 99.0), seed=1)
    dice = {}
    for name, read in (("public", public), ("own", own_train)):
        x, y, _ = sample_slices(read, 2, 64, (1.0, 99.0), seed=0)
        dice[name] = evaluate_dice(train_model(x, y, TEST_ARCH, TEST_TRAIN, seed=0), vx, vy, vg)["lv_blood_pool"]
    # same subjects, seed and schedule: the layouts differ only in intensity scaling
    # (each set normalised over the frames it holds), so held-out Dice must agree
    assert dice["public"] >= 0.85 and abs(dice["public"] - dice["own"]) <= 0.03, dice


def test_train_segmenter_reads_a_list_of_sources_and_records_the_spacing(tmp_path):
    subjects = render_subjects(6, seed=2, n_frames=20)
    src = [{"format": "acdc", "path": str(write_acdc(subjects[:3], tmp_path / "acdc"))},
           {"format": "mnms", "path": str(write_mnms(subjects[3:], tmp_path / "mnms")), "val_fraction": 0.5}]
    train = {**TEST_TRAIN, "seed": 0, "frames_per_subject": 2, "patch": 48, "epochs": 1, "max_train_subjects": 2}
    arch = {k: v for k, v in TEST_ARCH.items() if k != "intensity_percentiles"}
    metrics = train_segmenter({}, src, None, str(tmp_path / "seg" / "model.pt"), str(tmp_path / "m.json"),
                              arch, train, [1.0, 99.0], spacing_mm=4.0)
    assert metrics["spacing_mm"] == 4.0 and set(metrics["sources"]) <= {"acdc", "mnms"}
    assert json.loads((tmp_path / "m.json").read_text())["n_train_subjects"] == 2
    model, cfg = load_segmenter(tmp_path / "seg" / "model.pt")
    assert cfg["spacing_mm"] == 4.0
    # inference resamples the 3.2 mm cine to the net's 4.0 mm and the labels back
    (row, image, _, affine), = subjects[:1]
    labels = cine_labels(model, cfg, image, affine, {"batch_size": 64, "largest_component": True}, "cpu")
    assert labels.shape == image.shape and labels.dtype == np.uint8


def test_resampling_to_a_spacing_and_back(tmp_path):
    """A 1.6 mm cine's labels at 3.2 mm hold the same LV area in mm^2, and come back
    onto the 1.6 mm grid."""
    (row, image, labels, affine), = render_subjects(1, seed=3, matrix=128, pixel_spacing_mm=1.6)
    coarse, coarse_affine = to_spacing(labels, affine, 3.2, "nearest")
    # MONAI rounds the resampled extent up: 128 x 1.6 mm -> 64 or 65 voxels of 3.2 mm
    assert all(abs(n - 64) <= 1 for n in coarse.shape[:2]) and coarse.shape[2:] == labels.shape[2:]
    assert np.allclose(np.linalg.norm(coarse_affine[:3, :2], axis=0), 3.2)
    area = lambda lab, mm: (lab == LV_BLOOD_POOL).sum() * mm * mm  # noqa: E731
    assert area(np.rint(coarse), 3.2) == pytest.approx(area(labels, 1.6), rel=0.05)
    back = back_to_grid(np.rint(coarse).astype(np.uint8), coarse_affine, affine, labels.shape)
    assert back.shape == labels.shape
    lv, lv_back = labels == LV_BLOOD_POOL, back == LV_BLOOD_POOL
    assert 2 * (lv & lv_back).sum() / (lv.sum() + lv_back.sum()) > 0.9
    img, _ = to_spacing(image, affine, 3.2, "bilinear")
    assert img.shape == coarse.shape and img.dtype == np.float32


def test_bad_public_layouts_name_the_file_and_reason(tmp_path):
    subjects = render_subjects(1, seed=6)
    root = write_acdc(subjects, tmp_path / "acdc")
    info = next(root.rglob("Info.cfg"))
    info.write_text("Group: NOR\n")
    with pytest.raises(InputError) as e:
        read_acdc(str(root))
    assert e.value.reason == "bad_info_cfg" and e.value.path == str(info)

    root = write_mnms(subjects, tmp_path / "mnms")
    csv = next(root.glob("*.csv"))
    csv.write_text("External code,ED,ES\nZZZ,0,10\n")
    with pytest.raises(InputError) as e:
        read_mnms(str(root))
    assert e.value.reason == "missing_phases"

    root = write_acdc(subjects, tmp_path / "acdc2")
    subj, = read_acdc(str(root), label_map=[0, 1, 2])  # label 3 has no target
    with pytest.raises(InputError) as e:
        subj.load()
    assert e.value.reason == "unknown_label" and "_gt" in e.value.path
    assert nib.load(subj.frames[0][0]).shape == subjects[0][1].shape[:3]

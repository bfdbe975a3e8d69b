"""Synthetic cines: label volumes follow the latent physiology; files are deterministic
and the ground-truth labels sit on the ingested cine's grid."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from conftest_cmr import TINY, mask_volumes_ml, tiny_cohort, write_tiny

from ecgcmr.cmr.ingest import write_cine_nifti
from ecgcmr.io.dicom_cine import cine_affine
from ecgcmr.io.ukb_cmr_zip import read_cmr_zip
from ecgcmr.synth.cmr import render_cine
from ecgcmr.synth.cmr_anatomy import volume_curve
from ecgcmr.synth.physiology import sample_cohort


def _circular_distance(a: int, b: int, n: int) -> int:
    d = abs(a - b) % n
    return min(d, n - d)


@pytest.mark.parametrize("cfg", [TINY, {**TINY, "matrix": 64, "pixel_spacing_mm": 3.2, "n_frames": 20}])
def test_label_volumes_track_latents(cfg):
    cohort = sample_cohort(4, 3, n_frames=cfg["n_frames"])
    rng = np.random.default_rng(7)
    for row in cohort.itertuples():
        image, labels, geometry = render_cine(row, cfg, rng)
        nt = cfg["n_frames"]
        assert image.shape == labels.shape == (cfg["matrix"], cfg["matrix"], cfg["n_slices"], nt)
        assert image.dtype == np.float32 and labels.dtype == np.uint8
        assert set(np.unique(labels)) <= {0, 1, 2, 3}
        affine = cine_affine(geometry)
        lv = mask_volumes_ml(labels, affine, 1)
        rv = mask_volumes_ml(labels, affine, 3)
        assert lv[row.ed_frame] == pytest.approx(row.LVDV, rel=0.15)
        assert lv[row.es_frame] == pytest.approx(row.LVESV, rel=0.15)
        assert rv[row.ed_frame] == pytest.approx(row.RVDV, rel=0.15)
        assert rv[row.es_frame] == pytest.approx(row.RVESV, rel=0.15)
        assert _circular_distance(int(lv.argmax()), row.ed_frame, nt) <= 1
        assert _circular_distance(int(lv.argmin()), row.es_frame, nt) <= 1
        myo_g = mask_volumes_ml(labels, affine, 2)[row.ed_frame] * 1.05
        assert myo_g == pytest.approx(row.LVMM, rel=0.25)
        # slices beyond the heart exist: the stack covers more than the ventricles
        per_slice = (labels[..., row.ed_frame] > 0).sum(axis=(0, 1))
        assert per_slice[0] == 0 or per_slice[-1] == 0
        # blood is bright against myocardium (what a segmenter learns from)
        ed = row.ed_frame
        assert image[..., ed][labels[..., ed] == 1].mean() > 2 * image[..., ed][labels[..., ed] == 2].mean()


def test_volume_curve_shape():
    v = volume_curve(150.0, 60.0, 16, 50)
    assert v[0] == pytest.approx(150.0) and v[16] == pytest.approx(60.0)
    assert v.argmax() == 0 and v.argmin() == 16
    assert np.all(np.diff(v[:17]) < 0) and np.all(np.diff(v[16:]) > 0)


def test_es_frame_must_fit_the_cine():
    row = next(tiny_cohort(1).assign(es_frame=40).itertuples())
    with pytest.raises(ValueError, match="n_frames"):
        render_cine(row, TINY, np.random.default_rng(0))


def test_same_seed_same_bytes(tmp_path):
    row = next(tiny_cohort(1).itertuples())
    z1, l1 = write_tiny(tmp_path / "a", row, seed=5, quirks={"inline_vf": 1.0, "repeat_slice": 1.0})
    z2, l2 = write_tiny(tmp_path / "b", row, seed=5, quirks={"inline_vf": 1.0, "repeat_slice": 1.0})
    z3, _ = write_tiny(tmp_path / "c", row, seed=6, quirks={"inline_vf": 1.0, "repeat_slice": 1.0})
    assert z1.read_bytes() == z2.read_bytes()
    assert l1.read_bytes() == l2.read_bytes()
    assert z1.read_bytes() != z3.read_bytes()


@pytest.mark.parametrize("quirks", [{}, {"repeat_slice": 1.0, "inline_vf": 1.0}, {"mixed_series": 1.0}])
def test_labels_on_the_ingested_grid(tmp_path, quirks):
    row = next(tiny_cohort(2, seed=1).itertuples())
    zpath, lpath = write_tiny(tmp_path, row, seed=2, quirks=quirks)
    cine = read_cmr_zip(zpath)
    write_cine_nifti(cine, tmp_path / "cine.nii.gz")
    cine_img, label_img = nib.load(tmp_path / "cine.nii.gz"), nib.load(lpath)
    assert cine_img.shape == label_img.shape
    assert np.array_equal(cine_img.affine, label_img.affine)
    assert cine_img.header.get_zooms() == pytest.approx(label_img.header.get_zooms())
    # and the ingested pixels are the rendered image the labels describe
    image, labels, _ = render_cine(row, TINY, np.random.default_rng([2, int(row.eid)]))
    assert np.array_equal(np.asarray(label_img.dataobj), labels)
    assert np.array_equal(cine.data, np.clip(np.rint(image), 0, 4095).astype(np.uint16))

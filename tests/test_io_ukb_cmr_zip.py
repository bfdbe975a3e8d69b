"""UKB short-axis zip reader: geometry, ordering, quirks, real DICOM transfer syntaxes
and bad input (every bad zip is an InputError with a reason, never a crash)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pydicom
import pytest
from conftest_cmr import (TINY, as_sax_slice, dicom_items, header, members, rezip, tiny_cohort,
                          write_tiny)
from pydicom.data import get_testdata_file

from ecgcmr.errors import InputError
from ecgcmr.io.ukb_cmr_zip import parse_manifest, read_cmr_zip
from ecgcmr.synth.cmr import render_cine

LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])


@pytest.fixture(scope="module")
def subject(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmrzip")
    row = next(tiny_cohort(2, seed=4).itertuples())
    zpath, _ = write_tiny(tmp, row, seed=1)
    image, _, _ = render_cine(row, TINY, np.random.default_rng([1, int(row.eid)]))
    return row, zpath, np.clip(np.rint(image), 0, 4095).astype(np.uint16)


def _reason(path, **kw) -> str:
    with pytest.raises(InputError) as e:
        read_cmr_zip(path, **kw)
    assert str(path) in str(e.value)
    return e.value.reason


def test_round_trip_geometry_and_pixels(subject):
    row, zpath, stored = subject
    cine = read_cmr_zip(zpath)
    assert cine.data.shape == (32, 32, 6, 16) and cine.data.dtype == np.uint16
    assert np.array_equal(cine.data, stored)
    assert np.all(np.diff(cine.slice_positions_mm) > 0) and np.all(np.diff(cine.trigger_times_ms) > 0)
    assert cine.frame_interval_ms == pytest.approx(60000 / row.hr_bpm / 16, abs=0.02)
    assert cine.zooms == pytest.approx((6.4, 6.4, 10.0), abs=1e-3)
    # every DICOM's own header places its pixels where the cine's affine says (in RAS)
    for name, data in dicom_items(members(zpath))[::7]:
        ds = pydicom.dcmread(io.BytesIO(data))
        ipp, iop = np.array(ds.ImagePositionPatient, float), np.array(ds.ImageOrientationPatient, float)
        ps = np.array(ds.PixelSpacing, float)
        k = int(np.argmin(np.abs(cine.slice_positions_mm - ipp @ np.cross(iop[:3], iop[3:]))))
        t = int(np.argmin(np.abs(cine.trigger_times_ms - float(ds.TriggerTime))))
        for i, j in [(0, 0), (31, 0), (5, 17), (31, 31)]:
            world_lps = ipp + i * ps[1] * iop[:3] + j * ps[0] * iop[3:]
            assert cine.affine @ [i, j, k, 1] == pytest.approx([*(world_lps * LPS_TO_RAS), 1], abs=1e-4)
            assert cine.data[i, j, k, t] == ds.pixel_array[j, i]


def test_member_and_instance_order_do_not_matter(subject, tmp_path):
    _, zpath, stored = subject
    items = members(zpath)[::-1]
    rng = np.random.default_rng(0)
    shuffled = []
    for n, d in items:
        if n.endswith(".dcm"):            # InstanceNumber no longer follows TriggerTime
            ds = pydicom.dcmread(io.BytesIO(d))
            ds.InstanceNumber = int(rng.integers(1, 10_000))
            buf = io.BytesIO()
            ds.save_as(buf)
            d = buf.getvalue()
        shuffled.append((n, d))
    cine = read_cmr_zip(rezip(tmp_path / "1_20209_2_0.zip", shuffled, zipfile.ZIP_STORED))
    assert np.array_equal(cine.data, stored)


def test_manifest_comma_in_date(subject):
    _, zpath, _ = subject
    raw = dict(members(zpath))["manifest.cvs"]
    header_line, first = raw.decode().splitlines()[:2]
    assert "series discription" in header_line
    assert len(first.split(",")) == len(header_line.split(",")) + 1      # the quirk itself
    rows = parse_manifest(raw)
    assert len(rows) == len(dicom_items(members(zpath)))
    assert rows[0]["date"].count(",") == 1 and rows[0]["series discription"].startswith("CINE_segmented_SAX_b")
    assert not [n for n in read_cmr_zip(zpath).notes if "manifest" in n]


def test_inline_vf_excluded(tmp_path, subject):
    row, _, stored = subject
    zpath, _ = write_tiny(tmp_path, row, seed=1, quirks={"inline_vf": 1.0})
    cine = read_cmr_zip(zpath)
    assert np.array_equal(cine.data, stored)
    assert all("InlineVF" not in s["description"] for s in cine.series)
    assert cine.n_series_total == 7 and any("InlineVF" in n for n in cine.notes)


def test_repeated_acquisition_keeps_last(tmp_path, subject):
    row, _, stored = subject
    zpath, _ = write_tiny(tmp_path, row, seed=1, quirks={"repeat_slice": 1.0})
    last = read_cmr_zip(zpath)
    assert np.array_equal(last.data, stored)
    assert any("repeated acquisition" in n for n in last.notes)
    first = read_cmr_zip(zpath, prefer_repeat="first")
    differs = [k for k in range(6) if not np.array_equal(first.data[:, :, k], stored[:, :, k])]
    assert len(differs) == 1
    assert first.series[differs[0]]["number"] < last.series[differs[0]]["number"]


def test_mixed_series_split_by_position(tmp_path, subject):
    row, _, stored = subject
    zpath, _ = write_tiny(tmp_path, row, seed=1, quirks={"mixed_series": 1.0})
    cine = read_cmr_zip(zpath)
    assert np.array_equal(cine.data, stored)
    assert cine.n_series_total == 1 and {s["description"] for s in cine.series} == {"CINE_segmented_SAX"}


def test_not_a_zip_and_truncated_zip(tmp_path, subject):
    (tmp_path / "a.zip").write_text("not a zip")
    assert _reason(tmp_path / "a.zip") == "corrupt_zip"
    data = subject[1].read_bytes()
    (tmp_path / "b.zip").write_bytes(data[: len(data) // 2])
    assert _reason(tmp_path / "b.zip") == "corrupt_zip"
    assert _reason(tmp_path / "missing.zip") == "not_found"


def test_no_dicom_and_no_sax(tmp_path, subject):
    items = members(subject[1])
    assert _reason(rezip(tmp_path / "a.zip", [("manifest.cvs", b"filename\n"), ("notes.txt", b"x")])) == "no_dicom"
    lax = []
    for n, d in dicom_items(items):
        ds = pydicom.dcmread(io.BytesIO(d))
        lax.append((n, as_sax_slice(ds, "CINE_segmented_LAX_4Ch")))
    assert _reason(rezip(tmp_path / "b.zip", lax)) == "no_sax_series"


def test_missing_frames_and_inconsistent_matrix(tmp_path, subject):
    items = dicom_items(members(subject[1]))
    target = header(items[0][1]).SeriesInstanceUID
    one_less = [it for it in items if it is not items[0]]
    assert _reason(rezip(tmp_path / "a.zip", one_less)) == "missing_frames"
    other_spacing = []
    for n, d in items:
        if header(d).SeriesInstanceUID == target:
            ds = pydicom.dcmread(io.BytesIO(d))
            ds.PixelSpacing = [3.0, 3.0]
            buf = io.BytesIO()
            ds.save_as(buf)
            d = buf.getvalue()
        other_spacing.append((n, d))
    assert _reason(rezip(tmp_path / "b.zip", other_spacing)) == "inconsistent_matrix"


def test_truncated_dicom_member(tmp_path, subject):
    items = members(subject[1])
    name, data = dicom_items(items)[3]
    damaged = [(n, d if n != name else d[: len(d) - 100]) for n, d in items]
    assert _reason(rezip(tmp_path / "a.zip", damaged)) == "truncated_dicom"
    header_cut = [(n, d if n != name else d[:300]) for n, d in items]
    assert _reason(rezip(tmp_path / "b.zip", header_cut)) == "truncated_dicom"


@pytest.mark.parametrize("bad_name", ["../evil.dcm", "/abs.dcm", "sub/../../evil2.dcm"])
def test_unsafe_member_names_rejected_and_nothing_written(tmp_path, subject, bad_name):
    items = members(subject[1])
    zdir = tmp_path / "zips"
    zdir.mkdir()
    zpath = rezip(zdir / "a.zip", items + [(bad_name, items[0][1])])
    assert _reason(zpath) == "unsafe_member_name"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.zip", "zips"]


def test_zip_bomb_bounded(tmp_path, subject):
    items = members(subject[1])
    bomb = rezip(tmp_path / "a.zip", items + [("bomb.dcm", bytes(24 * 2**20))])
    assert bomb.stat().st_size < 2**20                      # tiny on disk, 24 MB inflated
    assert _reason(bomb, max_member_mb=8) == "zip_bomb"
    assert _reason(subject[1], max_total_mb=0.1) == "zip_bomb"


def _real(name: str) -> bytes:
    return as_sax_slice(pydicom.dcmread(get_testdata_file(name)))


def test_real_transfer_syntaxes(tmp_path):
    reference = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    for name in ["MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm"]:
        cine = read_cmr_zip(rezip(tmp_path / f"{name}.zip", [("1.dcm", _real(name))]))
        assert cine.data.shape == (64, 64, 1, 1) and cine.data.dtype.isnative
        assert np.array_equal(cine.data[:, :, 0, 0], reference.T), name
        assert cine.zooms[:2] == pytest.approx((0.3125, 0.3125))


@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"])
def test_compressed_decoded_or_reported(tmp_path, name):
    """Decoded exactly when a plugin is installed, else an undecodable_pixels exclusion."""
    reference = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    zpath = rezip(tmp_path / "a.zip", [("1.dcm", _real(name))])
    try:
        cine = read_cmr_zip(zpath)
    except InputError as e:
        assert e.reason == "undecodable_pixels" and "JPEG" in e.detail
    else:
        assert np.array_equal(cine.data[:, :, 0, 0], reference.T)


def test_real_truncated_file(tmp_path):
    assert _reason(rezip(tmp_path / "a.zip", [("1.dcm", _real("MR_truncated.dcm"))])) == "truncated_dicom"

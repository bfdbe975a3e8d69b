"""CMR ingest's fast paths (issue 15) give what the slow ones gave."""

from __future__ import annotations

import gzip
import io
import zipfile

import nibabel as nib
import numpy as np
import pydicom
import pytest
from conftest_cmr import members, rezip, tiny_cohort, write_tiny
from pydicom.data import get_testdata_file

from ecgcmr.cmr.ingest import write_cine_nifti
from ecgcmr.io.dicom_files import decode_pixels, parse_header
from ecgcmr.io.ukb_cmr_zip import read_cmr_zip
from ecgcmr.io.zip_inflate import read_deflated


@pytest.fixture(scope="module")
def zpath(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("z")
    stored = write_tiny(tmp, next(tiny_cohort(1).itertuples()))[0]
    return rezip(tmp / "deflated.zip", members(stored), method=zipfile.ZIP_DEFLATED)


def test_isal_inflate_equals_zipfile_and_refuses_what_it_cannot_check(zpath, tmp_path):
    with zipfile.ZipFile(zpath) as zf:
        for info in zf.infolist():
            assert read_deflated(zf, info, 1 << 30) == zf.read(info)
        info = zf.infolist()[0]
        assert len(read_deflated(zf, info, 100)) == 101          # bounded: the caller sees "too big"
    stored = rezip(tmp_path / "stored.zip", members(zpath), method=zipfile.ZIP_STORED)
    with zipfile.ZipFile(stored) as zf:
        assert read_deflated(zf, zf.infolist()[0], 1 << 30) is None
    bad = bytearray(zpath.read_bytes())                         # a flipped CRC in both headers
    with zipfile.ZipFile(zpath) as zf:
        crc = zf.infolist()[0].CRC.to_bytes(4, "little")
    bad = bad.replace(crc, bytes(4))
    (tmp_path / "crc.zip").write_bytes(bytes(bad))
    with zipfile.ZipFile(tmp_path / "crc.zip") as zf:
        assert read_deflated(zf, zf.infolist()[0], 1 << 30) is None


def test_header_only_read_gives_the_pixels_pydicom_gives():
    data = open(get_testdata_file("CT_small.dcm"), "rb").read()
    im = parse_header(data, "CT_small.dcm")
    assert im.pixel_bytes is not None and "PixelData" not in im.dataset   # pixels never parsed by pydicom
    full = pydicom.dcmread(io.BytesIO(data))
    assert np.array_equal(decode_pixels(im, "x"), full.pixel_array * float(full.RescaleSlope) + float(full.RescaleIntercept))


def test_cine_is_fortran_ordered_and_its_nifti_is_nibabels(zpath, tmp_path):
    cine = read_cmr_zip(zpath)
    assert cine.data.flags.f_contiguous
    write_cine_nifti(cine, tmp_path / "fast.nii.gz")
    img = nib.Nifti1Image(np.ascontiguousarray(cine.data), cine.affine)
    img.header.set_xyzt_units("mm", "msec")
    img.header.set_zooms(img.header.get_zooms()[:3] + (cine.frame_interval_ms,))
    img.to_filename(tmp_path / "nibabel.nii.gz")
    assert gzip.open(tmp_path / "fast.nii.gz").read() == gzip.open(tmp_path / "nibabel.nii.gz").read()
    write_cine_nifti(cine, tmp_path / "level0.nii.gz", compresslevel=0)
    assert (tmp_path / "level0.nii.gz").stat().st_size > (tmp_path / "fast.nii.gz").stat().st_size


def test_the_same_cine_gives_the_same_nifti_bytes(zpath, tmp_path):
    """The CMR index records each cine's SHA-256: two runs (or a SLURM and a local run)
    must write identical files, so the gzip header carries no time stamp or name."""
    import os
    import time

    cine = read_cmr_zip(zpath)
    write_cine_nifti(cine, tmp_path / "a.nii.gz")
    time.sleep(1.1)   # gzip's header time has one-second resolution
    os.makedirs(tmp_path / "b")
    write_cine_nifti(cine, tmp_path / "b" / "other.nii.gz")
    assert (tmp_path / "a.nii.gz").read_bytes() == (tmp_path / "b" / "other.nii.gz").read_bytes()

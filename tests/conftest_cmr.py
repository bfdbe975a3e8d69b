"""Helpers for the CMR ingest tests (imported explicitly, not a pytest conftest):
tiny synthetic cines and zips rewritten member by member."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pydicom

from ecgcmr.synth.cmr import write_subject_cmr
from ecgcmr.synth.physiology import sample_cohort

# small enough for a test to render a subject in ~10 ms; FOV still ~200 mm like the demo
TINY = {"matrix": 32, "pixel_spacing_mm": 6.4, "n_slices": 6, "n_frames": 16,
        "slice_thickness_mm": 8.0, "slice_gap_mm": 2.0, "noise": 0.05,
        "zip_compression": "deflated"}


def tiny_cohort(n: int = 3, seed: int = 0):
    return sample_cohort(n, seed, n_frames=TINY["n_frames"])


def write_tiny(tmp: Path, row, seed: int = 0, **overrides) -> tuple[Path, Path]:
    cfg = {**TINY, **overrides}
    zpath = Path(tmp) / f"{row.eid}_20209_2_0.zip"
    lpath = Path(tmp) / "masks" / f"{row.eid}_labels.nii.gz"
    write_subject_cmr(row, zpath, lpath, cfg, seed)
    return zpath, lpath


def members(zpath: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(zpath) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def rezip(dst: Path, items: list[tuple[str, bytes]], method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(dst, "w", method) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return Path(dst)


def dicom_items(items):
    return [(n, d) for n, d in items if n.endswith(".dcm")]


def header(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def as_sax_slice(ds: pydicom.Dataset, description: str = "CINE_segmented_SAX_b1") -> bytes:
    """A real test file relabelled as one frame of a short-axis slice series."""
    ds.SeriesDescription = description
    ds.TriggerTime = "0"
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def mask_volumes_ml(labels: np.ndarray, affine: np.ndarray, label: int) -> np.ndarray:
    """Per-frame volume of one label: voxel count x voxel volume (from the affine)."""
    voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000.0
    return (labels == label).sum(axis=(0, 1, 2)) * voxel_ml

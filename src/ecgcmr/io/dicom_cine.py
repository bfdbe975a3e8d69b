"""Short-axis cine geometry shared by the synthetic writer and the zip reader.

One function, :func:`cine_affine`, turns DICOM slice geometry into the NIfTI affine, so
the ground-truth label maps written by the synthetic cohort and the cines ingested from
its zips sit on exactly the same grid.

Conventions (docs/architecture.md): array axes are x = Columns index, y = Rows index,
z = slices ordered along the slice normal (row cosine x column cosine), t = frames by
TriggerTime. DICOM patient coordinates are LPS; NIfTI world coordinates are RAS.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

import numpy as np
from pydicom import dcmwrite
from pydicom.tag import Tag

# DICOM LPS -> NIfTI RAS: negate the first two world axes
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class CineGeometry:
    """Geometry of a stack of parallel slices, in DICOM terms.

    ``iop``: ImageOrientationPatient (row cosine, then column cosine), LPS.
    ``ipp``: ImagePositionPatient per slice, shape (nz, 3), LPS, in stack order.
    ``pixel_spacing``: DICOM PixelSpacing (row spacing, column spacing) in mm.
    """

    iop: np.ndarray
    ipp: np.ndarray
    pixel_spacing: tuple[float, float]
    rows: int
    columns: int
    slice_thickness: float
    spacing_between_slices: float

    @property
    def row_cosine(self) -> np.ndarray:
        return np.asarray(self.iop[:3], dtype=float)

    @property
    def column_cosine(self) -> np.ndarray:
        return np.asarray(self.iop[3:6], dtype=float)

    @property
    def normal(self) -> np.ndarray:
        n = np.cross(self.row_cosine, self.column_cosine)
        return n / np.linalg.norm(n)

    def positions_along_normal(self) -> np.ndarray:
        return np.asarray(self.ipp, dtype=float) @ self.normal


def slice_normal(iop) -> np.ndarray:
    iop = np.asarray(iop, dtype=float)
    n = np.cross(iop[:3], iop[3:6])
    return n / np.linalg.norm(n)


def cine_affine(geometry: CineGeometry) -> np.ndarray:
    """4x4 RAS affine of the (x=Columns, y=Rows, z=slice) grid; slices must already be
    in stack order (ascending along the normal).

    DICOM: P(i, j) = IPP + i * PixelSpacing[1] * row_cosine + j * PixelSpacing[0] * column_cosine,
    with i the column index and j the row index. The z column is the mean step between
    consecutive slice origins (so a stack with gaps still maps slice k onto its own
    IPP); a single slice steps along the normal by the slice spacing.
    """
    ipp = np.asarray(geometry.ipp, dtype=float).reshape(-1, 3)
    row_spacing, col_spacing = (float(v) for v in geometry.pixel_spacing)
    lps = np.eye(4)
    lps[:3, 0] = geometry.row_cosine * col_spacing
    lps[:3, 1] = geometry.column_cosine * row_spacing
    if len(ipp) > 1:
        lps[:3, 2] = (ipp[-1] - ipp[0]) / (len(ipp) - 1)
    else:
        step = geometry.spacing_between_slices or geometry.slice_thickness or 1.0
        lps[:3, 2] = geometry.normal * float(step)
    lps[:3, 3] = ipp[0]
    return LPS_TO_RAS @ lps


@dataclass
class Cine:
    """A short-axis cine assembled from DICOM.

    ``data``: (x, y, z, t) array in the stored pixel dtype (float32 when a non-identity
    rescale was applied). ``affine``: RAS mm. ``trigger_times_ms``: per frame (from the
    first slice; all slices share the frame count). ``slice_positions_mm``: along the normal.
    """

    data: np.ndarray
    affine: np.ndarray
    geometry: CineGeometry
    trigger_times_ms: np.ndarray
    slice_positions_mm: np.ndarray
    series: list[dict] = field(default_factory=list)   # per kept slice: uid, description, number
    notes: list[str] = field(default_factory=list)     # quirks handled, cross-check remarks
    n_series_total: int = 0

    @property
    def frame_interval_ms(self) -> float:
        t = np.asarray(self.trigger_times_ms, dtype=float)
        return float(np.median(np.diff(t))) if len(t) > 1 else 0.0

    @property
    def zooms(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))


# --------------------------------------------------------------------------- writing
def format_ds(value: float, digits: int = 8) -> str:
    """A DICOM DS string (at most 16 characters)."""
    s = f"{float(value):.{digits}g}"
    while len(s) > 16:
        digits -= 1
        s = f"{float(value):.{digits}g}"
    return s


class InstanceTemplate:
    """Serialises many instances of one slice series fast.

    pydicom's writer costs ~0.5 ms per file, i.e. ~0.25 s for one 500-image cine, which
    alone would miss the synthetic cohort's speed target. So pydicom writes the series'
    dataset once (placeholder values of fixed width), and each instance is that byte
    string with the per-instance values patched in place: SOPInstanceUID (file meta and
    dataset), InstanceNumber, TriggerTime and the pixel bytes. The tests read every
    instance back with pydicom.
    """

    def __init__(self, dataset, uid_length: int) -> None:
        ds = dataset
        self.n_pixel_bytes = len(ds.PixelData)
        ds.SOPInstanceUID = "1" * uid_length
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = "1" * 6
        ds.TriggerTime = "0" * 12
        buf = io.BytesIO()
        dcmwrite(buf, ds, enforce_file_format=True)
        self.blob = buf.getvalue()
        head = self.blob[: len(self.blob) - self.n_pixel_bytes]

        def value_slot(tag: int, vr: bytes) -> tuple[int, int]:
            t = Tag(tag)
            pattern = struct.pack("<HH", t.group, t.element) + vr
            at = head.find(pattern)
            if at < 0 or head.find(pattern, at + 1) >= 0:
                raise RuntimeError(f"template element {t} not found exactly once")
            (length,) = struct.unpack("<H", head[at + 6: at + 8])
            return at + 8, length

        self.uid_slots = [value_slot(0x00020003, b"UI"), value_slot(0x00080018, b"UI")]
        self.number_slot = value_slot(0x00200013, b"IS")
        self.trigger_slot = value_slot(0x00181060, b"DS")
        self.pixel_offset = len(self.blob) - self.n_pixel_bytes

    def instance(self, sop_uid: str, number: int, trigger_ms: float, pixels: bytes) -> bytes:
        out = bytearray(self.blob)
        uid = sop_uid.encode("ascii")
        for off, n in self.uid_slots:
            _patch(out, off, n, uid, b"\0")
        _patch(out, *self.number_slot, str(int(number)).encode(), b" ")
        _patch(out, *self.trigger_slot, f"{trigger_ms:.4f}".encode(), b" ")
        if len(pixels) != self.n_pixel_bytes:
            raise ValueError("pixel bytes do not match the template")
        out[self.pixel_offset:] = pixels
        return bytes(out)


def _patch(buf: bytearray, offset: int, length: int, value: bytes, pad: bytes) -> None:
    if len(value) > length:
        raise ValueError(f"value {value!r} longer than its template slot ({length})")
    buf[offset: offset + length] = value.ljust(length, pad)

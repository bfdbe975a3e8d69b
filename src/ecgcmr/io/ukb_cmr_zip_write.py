"""Write a UK Biobank short-axis cine zip (field 20209): one DICOM per image plus
``manifest.cvs``, as the UKB bulk release ships them.

The reader is :mod:`ecgcmr.io.ukb_cmr_zip`; the synthetic cohort
(:mod:`ecgcmr.synth.cmr`) is the only caller of this writer.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, MRImageStorage

from .dicom_cine import CineGeometry, InstanceTemplate, format_ds

# Column names as UK Biobank writes them, including its typo "series discription".
MANIFEST_COLUMNS = ["filename", "patientid", "studyid", "aet", "host", "date", "time",
                    "seriesid", "series discription"]


@dataclass
class SeriesSpec:
    """One DICOM series of the zip: slices at given positions, each a (x, y, t) uint16
    stack with one image per frame."""

    description: str
    number: int
    time: str                                     # SeriesTime, HHMMSS.ffffff
    ipp: list[np.ndarray]                         # per slice, LPS
    frames: list[np.ndarray]                      # per slice, (x, y, t) uint16
    derived: bool = False
    trigger_index: list[np.ndarray] | None = None  # per slice, which trigger time each frame has
    uid: str = ""


def write_cmr_zip(path: str | Path, eid: str, series: list[SeriesSpec], geometry: CineGeometry,
                  trigger_times_ms: np.ndarray, rr_ms: float, uid_root: str,
                  study_date: str = "20170426", compression: str = "deflated",
                  member_order: np.ndarray | None = None) -> None:
    """Write ``path``. ``uid_root`` is a subject-specific UID prefix (deterministic, so
    the same seed gives a byte-identical zip). ``member_order`` permutes the zip members
    (UKB zips are not ordered by slice or frame)."""
    study_uid = f"{uid_root}.1"
    frame_uid = f"{uid_root}.2"
    members: list[tuple[str, bytes]] = []
    manifest_rows = []
    date_text = _manifest_date(study_date)
    for s_idx, spec in enumerate(series):
        spec.uid = spec.uid or f"{uid_root}.{1000 + s_idx}"
        for k, (ipp, stack) in enumerate(zip(spec.ipp, spec.frames)):
            ds = _series_dataset(eid, spec, geometry, ipp, rr_ms, len(trigger_times_ms),
                                 study_uid, frame_uid, study_date)
            ds.PixelData = np.zeros(geometry.rows * geometry.columns, np.uint16).tobytes()
            uid0 = _instance_uid(uid_root, s_idx, k, 0)
            template = InstanceTemplate(ds, len(uid0))
            tindex = spec.trigger_index[k] if spec.trigger_index is not None else np.arange(stack.shape[-1])
            for f in range(stack.shape[-1]):
                uid = _instance_uid(uid_root, s_idx, k, f)
                number = k * stack.shape[-1] + f + 1 if len(spec.ipp) > 1 else f + 1
                # (x, y) -> DICOM (Rows, Columns) row-major pixel order
                pixels = np.ascontiguousarray(stack[:, :, f].T, dtype="<u2").tobytes()
                blob = template.instance(uid, number, float(trigger_times_ms[tindex[f]]), pixels)
                name = f"{uid}.dcm"
                members.append((name, blob))
                manifest_rows.append([name, eid, study_uid, "ANONYMOUS", "UKBB", date_text,
                                      "12:00:00", spec.uid, spec.description])
    order = np.arange(len(members)) if member_order is None else np.asarray(member_order)
    method = {"stored": zipfile.ZIP_STORED, "deflated": zipfile.ZIP_DEFLATED}[compression]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method, compresslevel=1 if method == zipfile.ZIP_DEFLATED else None) as zf:
        for i in order:
            _writestr(zf, *members[int(i)])
        _writestr(zf, "manifest.cvs", _manifest_bytes(manifest_rows))
    path.write_bytes(buf.getvalue())


def _writestr(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    # fixed timestamp: the same seed must give byte-identical zips
    info = zipfile.ZipInfo(name, date_time=(2017, 4, 26, 12, 0, 0))
    info.compress_type = zf.compression
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _instance_uid(root: str, series: int, slice_: int, frame: int) -> str:
    # fixed-width components without leading zeros: every UID of a subject has one length
    return f"{root}.{1000 + series}.{1000 + slice_}.{1000 + frame}"


def _manifest_date(study_date: str) -> str:
    import datetime as dt

    d = dt.date(int(study_date[:4]), int(study_date[4:6]), int(study_date[6:8]))
    return d.strftime("%b %d, %Y")      # "Apr 26, 2017": the comma UKB leaves unquoted


def _manifest_bytes(rows: list[list[str]]) -> bytes:
    # UKB writes the date unquoted although it holds a comma, so a data row has one more
    # comma-separated field than the header (the quirk readers must handle).
    lines = [",".join(MANIFEST_COLUMNS)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _series_dataset(eid: str, spec: SeriesSpec, g: CineGeometry, ipp: np.ndarray, rr_ms: float,
                    n_frames: int, study_uid: str, frame_uid: str, study_date: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = "1"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = (["DERIVED", "SECONDARY", "M", "NORM", "DIS2D"] if spec.derived
                    else ["ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"])
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = "1"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = study_date
    ds.StudyTime = "120000.000000"
    ds.SeriesTime = spec.time
    ds.Modality = "MR"
    ds.Manufacturer = "SIEMENS"
    ds.ManufacturerModelName = "Aera"
    ds.StudyDescription = "CardiacMR"
    ds.SeriesDescription = spec.description
    ds.PatientName = str(eid)
    ds.PatientID = str(eid)
    ds.ScanningSequence = "GR"
    ds.SequenceVariant = ["SK", "SS"]
    ds.MRAcquisitionType = "2D"
    ds.SliceThickness = format_ds(g.slice_thickness)
    ds.RepetitionTime = "2.6"
    ds.EchoTime = "1.1"
    ds.MagneticFieldStrength = "1.5"
    ds.SpacingBetweenSlices = format_ds(g.spacing_between_slices)
    ds.TriggerTime = "0"
    ds.NominalInterval = str(int(round(rr_ms)))
    ds.CardiacNumberOfImages = str(n_frames)
    ds.ProtocolName = spec.description
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = spec.uid
    ds.StudyID = "1"
    ds.SeriesNumber = str(spec.number)
    ds.InstanceNumber = "1"
    ds.ImagePositionPatient = [format_ds(v) for v in ipp]
    ds.ImageOrientationPatient = [format_ds(v) for v in g.iop]
    ds.FrameOfReferenceUID = frame_uid
    ds.SliceLocation = format_ds(float(np.dot(ipp, g.normal)))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = g.rows
    ds.Columns = g.columns
    ds.PixelSpacing = [format_ds(v) for v in g.pixel_spacing]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    return ds

"""UK Biobank CMR zips (field 20209) that are damaged, crafted or just unusual: each
must become an exclusion row with its reason (or an ingested cine with the quirk noted),
and the work per zip stays bounded."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom

from ecgcmr import exclusions
from ecgcmr.cmr.ingest import ingest_cmr_shard
from ecgcmr.io.ukb_cmr_zip import read_cmr_zip

from . import data
from .registry import Silent, case, excluded

AREA = "CMR zips"


def _items(tmp) -> tuple[Path, list[tuple[str, bytes]]]:
    from conftest_cmr import members

    z = data.cmr_zip(tmp)
    return z, members(z)


def _write(z: Path, items, method=zipfile.ZIP_DEFLATED) -> Path:
    from conftest_cmr import rezip

    z.unlink()
    return rezip(z, items, method)


def _ingest(tmp, **params) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = Path(tmp)
    index = ingest_cmr_shard(t / "cmr", 0, 1, t / "nii", t / "idx.parquet", t / "x.csv",
                             {**data.cmr_params(), **params})
    return index, exclusions.read(t / "x.csv")


def _edit(items, pick, fn):
    """Members whose header satisfies ``pick(ds, k)`` rewritten by ``fn(ds)``."""
    out = []
    k = 0
    for name, d in items:
        if name.endswith(".dcm"):
            ds = pydicom.dcmread(io.BytesIO(d))
            if pick(ds, k):
                fn(ds)
                buf = io.BytesIO()
                ds.save_as(buf)
                d = buf.getvalue()
            k += 1
        out.append((name, d))
    return out


def _first_series(items):
    from conftest_cmr import header

    return header(next(d for n, d in items if n.endswith(".dcm"))).SeriesInstanceUID


def excluded_case(name, fault, reason, build, **params):
    def run(tmp):
        z, items = _items(tmp)
        new = build(items, tmp)
        if new is not None:
            _write(z, new)
        index, ex = _ingest(tmp, **params)
        excluded(ex, data.eid_of(z), reason, str(z))
        if len(index):
            raise Silent(f"the damaged zip was also ingested: {index['eid'].tolist()}")
    case(name, AREA, fault, f"excluded: {reason}")(run)


def _mid_series(field, value):
    def build(items, tmp):
        uid = _first_series(items)
        return _edit(items, lambda ds, k: ds.SeriesInstanceUID == uid and int(ds.InstanceNumber) > 8,
                     lambda ds: setattr(ds, field, value))
    return build


excluded_case("dicom_rows_differ_mid_series", "frames 9+ of one slice declare Rows 40 (pixel data unchanged)",
              "inconsistent_matrix", _mid_series("Rows", 40))
excluded_case("dicom_columns_differ_mid_series", "frames 9+ of one slice declare Columns 24",
              "inconsistent_matrix", _mid_series("Columns", 24))
excluded_case("dicom_spacing_differs_mid_series", "frames 9+ of one slice have another PixelSpacing",
              "inconsistent_matrix", _mid_series("PixelSpacing", [3.0, 3.0]))
excluded_case("dicom_orientation_differs", "one slice's frames tilted (ImageOrientationPatient)",
              "inconsistent_geometry", _mid_series("ImageOrientationPatient", [0, 1, 0, 0, 0, 1]))
excluded_case("dicom_no_position", "one slice lacks ImagePositionPatient", "inconsistent_geometry",
              lambda items, tmp: _edit(items, lambda ds, k: k == 3, lambda ds: delattr(ds, "ImagePositionPatient")))


def _rows_and_pixels(items, tmp):
    """A frame mid-series really 40 rows tall (header and pixels agree)."""
    uid = _first_series(items)

    def grow(ds):
        arr = np.zeros((40, int(ds.Columns)), np.uint16)
        ds.Rows = 40
        ds.PixelData = arr.tobytes()
    return _edit(items, lambda ds, k: ds.SeriesInstanceUID == uid and int(ds.InstanceNumber) == 9, grow)


excluded_case("dicom_real_rows_differ_mid_series", "one frame mid-series is a 40-row image", "inconsistent_matrix",
              _rows_and_pixels)
excluded_case("dicom_frame_missing", "one frame of one slice missing", "missing_frames",
              lambda items, tmp: [it for i, it in enumerate(items) if i != 2])
excluded_case("dicom_member_truncated", "one DICOM member cut 100 bytes short", "truncated_dicom",
              lambda items, tmp: [(n, d[:-100] if i == 4 else d) for i, (n, d) in enumerate(items)])
excluded_case("dicom_header_cut", "one DICOM member cut inside its header", "truncated_dicom",
              lambda items, tmp: [(n, d[:300] if i == 4 else d) for i, (n, d) in enumerate(items)])
excluded_case("dicom_pixels_short", "PixelData shorter than Rows x Columns", "truncated_dicom",
              lambda items, tmp: _edit(items, lambda ds, k: k == 5, lambda ds: setattr(ds, "PixelData", ds.PixelData[:64])))


def _jpeg_syntax(ds):
    ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8 not a jpeg \xff\xd9"])


excluded_case("dicom_undecodable_syntax", "a frame declares JPEG baseline but holds garbage", "undecodable_pixels",
              lambda items, tmp: _edit(items, lambda ds, k: k == 0, _jpeg_syntax))
excluded_case("zip_no_sax_series", "every series renamed to a localiser", "no_sax_series",
              lambda items, tmp: _edit(items, lambda ds, k: True, lambda ds: setattr(ds, "SeriesDescription", "localiser")))
excluded_case("zip_no_dicom", "a zip of text files", "no_dicom",
              lambda items, tmp: [("a.txt", b"hello"), ("b.txt", b"world")])
excluded_case("zip_empty", "a zip with no members", "no_dicom", lambda items, tmp: [])
excluded_case("zip_slip_parent", "a member named ../evil.dcm", "unsafe_member_name",
              lambda items, tmp: items + [("../evil.dcm", items[1][1])])
excluded_case("zip_slip_absolute", "a member named /abs.dcm", "unsafe_member_name",
              lambda items, tmp: items + [("/abs.dcm", items[1][1])])
excluded_case("zip_slip_windows", "a member named C:\\x.dcm", "unsafe_member_name",
              lambda items, tmp: items + [("C:\\x.dcm", items[1][1])])
excluded_case("zip_bomb_member", "a 24 MB member of zeros (deflates to KBs), max_member_mb 8", "zip_bomb",
              lambda items, tmp: items + [("bomb.dcm", bytes(24 * 2**20))], max_member_mb=8)
excluded_case("zip_bomb_total", "a zip over max_total_mb", "zip_bomb", lambda items, tmp: None, max_total_mb=0.05)
excluded_case("zip_too_many_members", "more members than cmr.max_members", "too_many_members",
              lambda items, tmp: None, max_members=50)
excluded_case("zip_too_slow", "a zip whose parsing outlasts cmr.zip_time_budget_s", "zip_too_slow",
              lambda items, tmp: None, zip_time_budget_s=1e-6)
excluded_case("zip_many_tiny_members", "10 000 one-byte members (parse-time bomb)", "too_many_members",
              lambda items, tmp: items + [(f"f{i}.txt", b"x") for i in range(10_000)])


def _raw(name, fault, content):
    def run(tmp):
        z = data.cmr_zip(tmp)
        z.write_bytes(content(z.read_bytes()))
        index, ex = _ingest(tmp)
        excluded(ex, data.eid_of(z), "corrupt_zip", str(z))
    case(name, AREA, fault, "excluded: corrupt_zip")(run)


_raw("zip_truncated", "a zip cut to half its size", lambda b: b[: len(b) // 2])
_raw("zip_empty_file", "a zero-byte .zip", lambda b: b"")
_raw("zip_not_a_zip", "a text file named .zip", lambda b: b"not a zip\n" * 100)
_raw("zip_central_directory_damaged", "random bytes over the central directory",
     lambda b: b[:-200] + bytes(np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8)))


def _quirk(name, fault, build, needle):
    def run(tmp):
        z, items = _items(tmp)
        _write(z, build(items))
        index, ex = _ingest(tmp)
        if len(index) != 1:
            raise Silent(f"zip not ingested: {ex.values.tolist()}")
        if needle not in index["quirks"][0]:
            raise Silent(f"quirk not recorded: {index['quirks'][0]!r}")
    case(name, AREA, fault, f"ingested from the DICOM headers, quirk noted ({needle!r})")(run)


def _manifest_plus(items):
    """The manifest's last row repeated under a file name the zip does not hold."""
    out = []
    for n, d in items:
        if n.startswith("manifest"):
            last = d.rstrip(b"\r\n").splitlines()[-1]
            d = d.rstrip(b"\r\n") + b"\n" + b"ghost" + last[last.index(b","):] + b"\n"
        out.append((n, d))
    return out


_quirk("manifest_lists_missing_files", "manifest.cvs lists a file the zip lacks", _manifest_plus, "manifest lists")
_quirk("manifest_missing", "no manifest.cvs", lambda items: [it for it in items if not it[0].startswith("manifest")],
       "no manifest")
_quirk("manifest_garbage", "manifest.cvs is random bytes",
       lambda items: [(n, bytes(range(256)) * 4 if n.startswith("manifest") else d) for n, d in items], "manifest")
_quirk("extra_non_dicom_member", "a README.txt among the DICOMs", lambda items: items + [("README.txt", b"hi")],
       "not DICOM")


@case("zip_bad_one_of_two", AREA, "a shard of two zips, one truncated", "the good zip ingested, the bad one excluded")
def _one_of_two(tmp):
    good, bad = data.cmr_zip(tmp, 0), data.cmr_zip(tmp, 1)
    bad.write_bytes(bad.read_bytes()[:1000])
    index, ex = _ingest(tmp)
    if index["eid"].tolist() != [data.eid_of(good)]:
        raise Silent(f"good zip not ingested: {index['eid'].tolist()}")
    excluded(ex, data.eid_of(bad), "corrupt_zip")


_RSS_CHILD = """
import sys
from pathlib import Path
from ecgcmr.io.ukb_cmr_zip import read_cmr_zip
import pydicom.pixels  # noqa: F401 - imported on first decode; not per-zip memory

def status(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key))
    return int(line.split()[1]) * 1024

Path("/proc/self/clear_refs").write_text("5")   # reset the peak (VmHWM) to the current RSS
before = status("VmRSS")
cine = read_cmr_zip(sys.argv[1])
print(status("VmHWM") - before, cine.data.nbytes)
"""


@case("zip_memory_bounded", AREA, "peak memory of one zip's read vs its DICOM bytes (the 16 x 63 MB case, scaled "
      "to 96 x 0.5 MB frames)", "peak RSS growth within 1.3 x the zip's uncompressed DICOM bytes (documented bound)")
def _memory(tmp):
    import subprocess
    import sys

    z, items = _items(tmp)
    out, rng = [], np.random.default_rng(0)
    for n, d in items:
        if n.endswith(".dcm"):
            ds = pydicom.dcmread(io.BytesIO(d))
            ds.Rows = ds.Columns = 512
            ds.PixelData = rng.integers(0, 4000, (512, 512), dtype=np.uint16).tobytes()
            buf = io.BytesIO()
            ds.save_as(buf)
            d = buf.getvalue()
        out.append((n, d))
    _write(z, out, zipfile.ZIP_STORED)
    total = sum(len(d) for n, d in out if n.endswith(".dcm"))
    del out, items
    proc = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(z)], capture_output=True, text=True, check=True)
    grown, nbytes = map(int, proc.stdout.split())
    if grown > 1.3 * total:
        raise Silent(f"peak RSS grew {grown / 2**20:.0f} MB reading {total / 2**20:.0f} MB of DICOM "
                     f"({grown / total:.2f} x; cine {nbytes / 2**20:.0f} MB)")

"""Read a UK Biobank short-axis cine zip (field 20209) into a :class:`Cine`.

Members are read in memory (never extracted by name); the DICOM headers decide what is
used and ``manifest.cvs`` is only a cross-check. Choices, each recorded in
``Cine.notes`` when it applies:

- Series: ``CINE_segmented_SAX_b<N>`` (one slice each) or a single mixed
  ``CINE_segmented_SAX`` series split by slice position; every other series (the
  derived ``CINE_segmented_SAX_InlineVF``, localisers, ...) is left out. When both
  layouts are present the per-slice ``_b<N>`` series win.
- Repeated acquisitions of one slice position (several SeriesInstanceUIDs there): keep
  the last acquired (SeriesTime, then SeriesNumber), as the UKB community's converters
  commonly do (a slice is re-acquired because the first try failed);
  ``prefer_repeat="first"`` keeps the first.
- Slices are ordered by position along the slice normal (row x column cosine), frames
  by TriggerTime with InstanceNumber breaking ties.
- Slices with different frame counts exclude the subject (``missing_frames``): keeping
  only common frames would misalign the cardiac phases, which ED/ES and the time-series
  views depend on.
- A member that starts like DICOM but whose header cannot be parsed, or whose pixel data
  is short, excludes the subject (``truncated_dicom``).

Work per zip is bounded: at most ``max_members`` members (``too_many_members``), a
wall-clock budget of ``time_budget_s`` checked after every member parsed and every frame
decoded (``zip_too_slow``), and memory: frames are decoded one at a time straight into
the cine array, each member's pixel bytes released (and handed back to the OS every
4 MB) as it is copied, so the peak stays within ``1.3 x`` the zip's uncompressed DICOM
bytes, itself at most ``max_total_mb`` (measured 1.18 x on a 48 MB zip, the fault
campaign's ``zip_memory_bounded``; the old decode-then-copy held 4.1 x). The decoded
cine must also fit in ``max_total_mb`` (a compressed member can inflate).

Errors are :class:`ecgcmr.errors.InputError` with reasons: not_found, corrupt_zip,
unsafe_member_name, zip_bomb, too_many_members, zip_too_slow, no_dicom, truncated_dicom, no_sax_series,
inconsistent_geometry, inconsistent_matrix, missing_frames, undecodable_pixels.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from pydicom.errors import InvalidDicomError

from ..errors import InputError
from .dicom_cine import Cine, CineGeometry, cine_affine, slice_normal
from .dicom_files import DicomImage, decode_pixels, parse_header
from .zip_inflate import read_deflated

SAX_SLICE = re.compile(r"^CINE_segmented_SAX_b(\d+)$")
SAX_MIXED = "CINE_segmented_SAX"
MANIFEST_NAMES = {"manifest.cvs", "manifest.csv"}
DEFAULT_MAX_TOTAL_MB = 1024.0       # a real UKB SAX zip holds ~60-100 MB of DICOM
DEFAULT_MAX_MEMBER_MB = 64.0
DEFAULT_MAX_MEMBERS = 4000          # UKB SAX zips hold ~500-1500 (slices x 50 frames, + InlineVF)
DEFAULT_TIME_BUDGET_S = 120.0       # a real UKB zip takes ~1-2 s
TRIM_BYTES = 4 * 2**20              # freed pixel bytes handed back to the OS in steps of this
POSITION_TOL_MM = 0.5               # slice positions closer than this are one slice


def read_cmr_zip(path: str | Path, prefer_repeat: str = "last",
                 max_total_mb: float = DEFAULT_MAX_TOTAL_MB,
                 max_member_mb: float = DEFAULT_MAX_MEMBER_MB, max_members: int = DEFAULT_MAX_MEMBERS,
                 time_budget_s: float = DEFAULT_TIME_BUDGET_S) -> Cine:
    """Assemble the short-axis cine of one UKB zip. Raises InputError on bad input."""
    budget = _Budget(Path(path), float(time_budget_s))
    if prefer_repeat not in ("last", "first"):
        raise ValueError(f"prefer_repeat must be 'last' or 'first', not {prefer_repeat!r}")
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "not_found", "no such file")
    notes: list[str] = []
    images, manifest = _read_members(path, max_total_mb, max_member_mb, notes, int(max_members), budget)
    if not images:
        raise InputError(path, "no_dicom", "the zip holds no DICOM file")
    _cross_check_manifest(manifest, images, notes)
    n_series_total = len({im.series_uid for im in images})
    slices = _select_slices(path, images, prefer_repeat, notes)
    return _assemble(path, slices, notes, n_series_total, int(max_total_mb * 2**20), budget)


class _Budget:
    """Wall-clock budget of one zip, checked between members and frames (a member
    pydicom parses slowly costs at most one member's time beyond the budget)."""

    def __init__(self, path: Path, seconds: float):
        self.path, self.seconds, self.t0 = path, seconds, time.monotonic()

    def check(self, done: str) -> None:
        spent = time.monotonic() - self.t0
        if spent > self.seconds:
            raise InputError(self.path, "zip_too_slow",
                             f"{spent:.1f} s spent ({done}), over the budget of {self.seconds:g} s "
                             f"(cmr.zip_time_budget_s)")


# --------------------------------------------------------------------------- members
def _unsafe(name: str) -> bool:
    p, w = PurePosixPath(name), PureWindowsPath(name)
    return (p.is_absolute() or w.is_absolute() or bool(w.drive) or name.startswith(("/", "\\"))
            or ".." in p.parts or ".." in w.parts)


def _read_members(path: Path, max_total_mb: float, max_member_mb: float, notes: list[str],
                  max_members: int, budget: _Budget) -> tuple[list[DicomImage], bytes | None]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise InputError(path, "corrupt_zip", str(e)) from e
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        bad = [i.filename for i in infos if _unsafe(i.filename)]
        if bad:
            # a UKB zip has flat member names; absolute or parent-relative ones mean a
            # crafted or foreign archive, so the whole zip is refused (nothing is extracted)
            raise InputError(path, "unsafe_member_name", f"{len(bad)} member(s), e.g. {bad[0]!r}")
        if len(infos) > max_members:
            raise InputError(path, "too_many_members",
                             f"{len(infos)} members, more than cmr.max_members = {max_members}")
        limit_total, limit_member = int(max_total_mb * 2**20), int(max_member_mb * 2**20)
        declared = sum(i.file_size for i in infos)
        if declared > limit_total or any(i.file_size > limit_member for i in infos):
            raise InputError(path, "zip_bomb", f"declared uncompressed size {declared} bytes exceeds the bound")
        images, manifest, total, skipped = [], None, 0, []
        for info in infos:
            data = _read_bounded(zf, info, limit_member, path)
            total += len(data)
            if total > limit_total:
                raise InputError(path, "zip_bomb", "uncompressed size exceeds the bound")
            name = PurePosixPath(info.filename).name
            if name.lower() in MANIFEST_NAMES:
                manifest = data
                continue
            if len(data) < 132 or data[128:132] != b"DICM":
                skipped.append(info.filename)
                continue
            try:
                image = parse_header(data, info.filename)
            except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, AttributeError,
                    OverflowError, UnicodeDecodeError, IndexError) as e:
                raise InputError(path, "truncated_dicom", f"{info.filename}: header unreadable ({e})") from e
            if image is None:
                skipped.append(info.filename)
            else:
                # pydicom keeps the BytesIO it parsed (a second copy of every member):
                # only the parsed elements are needed from here on
                image.dataset.buffer = None
                images.append(image)
            budget.check(f"{len(images)} of {len(infos)} members parsed")
        if skipped:
            notes.append(f"skipped {len(skipped)} member(s) that are not DICOM images")
        return images, manifest


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: Path) -> bytes:
    """Read one member, never inflating more than ``limit`` bytes whatever its header
    claims (the declared size of a crafted zip can lie)."""
    try:
        data = read_deflated(zf, info, limit)
        if data is None:
            with zf.open(info) as fh:
                data = fh.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise InputError(path, "corrupt_zip", f"{info.filename}: {e}") from e
    if len(data) > limit:
        raise InputError(path, "zip_bomb", f"{info.filename} inflates beyond {limit} bytes")
    return data


def parse_manifest(data: bytes) -> list[dict]:
    """Rows of a UKB ``manifest.cvs``. Its ``date`` value ("Apr 26, 2017") holds an
    unquoted comma, so a data row has one field more than the header: the two date
    pieces are joined again."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))))
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    date_at = header.index("date") if "date" in header else None
    out = []
    for r in rows[1:]:
        if not r:
            continue
        if len(r) == len(header) + 1 and date_at is not None:
            r = r[:date_at] + [f"{r[date_at]},{r[date_at + 1]}"] + r[date_at + 2:]
        if len(r) != len(header):
            raise ValueError(f"manifest row with {len(r)} fields for {len(header)} columns")
        out.append(dict(zip(header, (v.strip() for v in r))))
    return out


def _cross_check_manifest(manifest: bytes | None, images: list[DicomImage], notes: list[str]) -> None:
    if manifest is None:
        notes.append("no manifest")
        return
    try:
        rows = parse_manifest(manifest)
    except (ValueError, UnicodeDecodeError, csv.Error) as e:
        notes.append(f"manifest unreadable ({e})")
        return
    listed = {r.get("filename", ""): r.get("series discription", "") for r in rows}
    members = {PurePosixPath(im.member).name: im.description for im in images}
    if set(listed) != set(members):
        notes.append(f"manifest lists {len(listed)} files, zip holds {len(members)} DICOM")
    mismatched = sum(1 for n, d in members.items() if n in listed and listed[n] != d)
    if mismatched:
        notes.append(f"manifest series description differs from DICOM for {mismatched} file(s)")


# --------------------------------------------------------------------------- selection
def _select_slices(path: Path, images: list[DicomImage], prefer_repeat: str,
                   notes: list[str]) -> list[list[DicomImage]]:
    """One list of frames per kept slice position, in stack order."""
    by_series: dict[str, list[DicomImage]] = {}
    for im in images:
        by_series.setdefault(im.series_uid, []).append(im)
    per_slice = {u: s for u, s in by_series.items() if SAX_SLICE.match(s[0].description)}
    mixed = {u: s for u, s in by_series.items() if s[0].description == SAX_MIXED}
    if per_slice and mixed:
        notes.append("mixed CINE_segmented_SAX series ignored: per-slice series present")
    chosen = per_slice or mixed
    if not chosen:
        found = sorted({s[0].description for s in by_series.values()})
        raise InputError(path, "no_sax_series", f"series found: {found}")
    if mixed and not per_slice:
        notes.append("mixed CINE_segmented_SAX series split by slice position")
    left_out = sorted({s[0].description for u, s in by_series.items() if u not in chosen})
    if left_out:
        notes.append(f"series left out: {left_out}")

    for s in chosen.values():
        for im in s:
            if im.ipp is None or im.iop is None or im.pixel_spacing is None:
                raise InputError(path, "inconsistent_geometry",
                                 f"{im.member}: no ImagePositionPatient/ImageOrientationPatient/PixelSpacing")
    iop = np.asarray(next(iter(chosen.values()))[0].iop, dtype=float)
    for s in chosen.values():
        for im in s:
            if np.max(np.abs(np.asarray(im.iop) - iop)) > 1e-3:
                raise InputError(path, "inconsistent_geometry",
                                 f"series {im.description}: orientation differs within the stack")
    normal = slice_normal(iop)

    # candidate acquisitions: (series, position) groups
    candidates = []
    for s in chosen.values():
        for group in _split_by_position(s, normal):
            candidates.append(group)
    candidates.sort(key=lambda g: float(np.dot(g[0].ipp, normal)))
    slices: list[list[DicomImage]] = []
    i = 0
    while i < len(candidates):
        pos = float(np.dot(candidates[i][0].ipp, normal))
        same = [candidates[i]]
        while i + 1 < len(candidates) and abs(float(np.dot(candidates[i + 1][0].ipp, normal)) - pos) < POSITION_TOL_MM:
            i += 1
            same.append(candidates[i])
        if len(same) > 1:
            same.sort(key=lambda g: (g[0].series_time, g[0].series_number))
            keep = same[-1] if prefer_repeat == "last" else same[0]
            notes.append(f"repeated acquisition at {pos:.1f} mm ({len(same)} series): kept "
                         f"{prefer_repeat} (series {keep[0].series_number})")
            same = [keep]
        slices.append(sorted(same[0], key=lambda im: (im.trigger_time, im.instance_number)))
        i += 1
    return slices


def _split_by_position(series: list[DicomImage], normal: np.ndarray) -> list[list[DicomImage]]:
    pos = np.array([float(np.dot(im.ipp, normal)) for im in series])
    order = np.argsort(pos, kind="stable")
    groups, last = [], None
    for j in order:
        if last is None or pos[j] - last >= POSITION_TOL_MM:
            groups.append([])
        groups[-1].append(series[j])
        last = pos[j]
    return groups


# --------------------------------------------------------------------------- assembly
def _assemble(path: Path, slices: list[list[DicomImage]], notes: list[str], n_series_total: int,
              limit_bytes: int, budget: _Budget) -> Cine:
    counts = [len(s) for s in slices]
    if len(set(counts)) > 1:
        raise InputError(path, "missing_frames", f"frames per slice differ: {counts}")
    first = slices[0][0]
    for s in slices:
        for im in s:
            if (im.rows, im.columns) != (first.rows, first.columns) or \
                    np.max(np.abs(np.subtract(im.pixel_spacing, first.pixel_spacing))) > 1e-4:
                raise InputError(path, "inconsistent_matrix",
                                 f"{im.member}: {im.rows}x{im.columns} at {im.pixel_spacing} mm vs "
                                 f"{first.rows}x{first.columns} at {first.pixel_spacing} mm")
    expected = first.cardiac_number_of_images
    if expected and counts[0] < expected:
        notes.append(f"{counts[0]} frames per slice, CardiacNumberOfImages says {expected}")

    nz, nt = len(slices), counts[0]
    data = _decode_into_cine(path, slices, first, nz, nt, limit_bytes, budget)
    ipp = np.array([s[0].ipp for s in slices], dtype=float)
    geometry = CineGeometry(np.asarray(first.iop, float), ipp, tuple(first.pixel_spacing),
                            first.rows, first.columns, first.slice_thickness,
                            first.spacing_between_slices)
    positions = geometry.positions_along_normal()
    if nz > 2:
        steps = np.diff(positions)
        if np.ptp(steps) > 0.1 * max(abs(float(np.median(steps))), 1e-6):
            notes.append(f"uneven slice spacing {np.round(steps, 2).tolist()} mm")
    return Cine(data=data, affine=cine_affine(geometry), geometry=geometry,
                trigger_times_ms=np.array([im.trigger_time for im in slices[0]], dtype=float),
                slice_positions_mm=positions,
                series=[{"uid": s[0].series_uid, "description": s[0].description,
                         "number": s[0].series_number} for s in slices],
                notes=notes, n_series_total=n_series_total)


def _decode_into_cine(path: Path, slices: list[list[DicomImage]], first: DicomImage, nz: int, nt: int,
                      limit_bytes: int, budget: _Budget) -> np.ndarray:
    """(x, y, z, t) array (a view of t, z, y, x storage) filled frame by frame; each member's pixel
    bytes are dropped once copied, so the undecoded and decoded cine never coexist whole."""
    data, freed = None, 0
    # decoded frame-major (t, then z): that is the storage order below, so the array is
    # filled front to back (scattered frame writes fault in whole transparent huge pages:
    # 1.8x the DICOM bytes instead of 1.2x, measured by the zip_memory_bounded case)
    for t in range(nt):
        for k, s in enumerate(slices):
            im = s[t]
            f = decode_pixels(im, path)
            if data is None:
                need = first.columns * first.rows * nz * nt * f.dtype.itemsize
                if need > limit_bytes:
                    raise InputError(path, "zip_bomb", f"decoded cine would take {need} bytes, "
                                     f"over the bound of {limit_bytes} (cmr.max_total_mb)")
                # stored as (t, z, Rows, Columns) in C order = (x, y, z, t) in Fortran
                # order, NIfTI's on-disk order (written as it is, no transpose). Each
                # frame is one contiguous block, so the array becomes resident frame by
                # frame as the members are released. In C order of (x, y, z, t) a frame
                # is strided over the whole array, resident from the first frame on
                # beside every undecoded member (2x the zip in memory)
                data = np.empty((nt, nz, first.rows, first.columns), dtype=f.dtype).transpose(3, 2, 1, 0)
            elif not np.can_cast(f.dtype, data.dtype, "safe"):   # e.g. one rescaled frame
                data = data.astype(np.result_type(data.dtype, f.dtype))
            data[:, :, k, t] = f.T          # (Rows, Columns) -> (x = column, y = row)
            freed += f.nbytes
            del f
            if "PixelData" in im.dataset:
                del im.dataset.PixelData
            # the member's bytes (the header-only read keeps them for the pixel view)
            im.pixel_bytes, im.raw = None, b""
            budget.check(f"{t * nz + k + 1} of {nz * nt} frames decoded")
            if freed >= TRIM_BYTES:
                _release_freed_memory()
                freed = 0
    return data


def _release_freed_memory() -> None:
    """Hand the pixel bytes freed so far back to the OS. glibc keeps freed blocks of
    this size inside its heap (its mmap threshold rises after the first large free),
    so without a trim the undecoded frames would stay resident beside the cine."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    import ctypes
    import ctypes.util

    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return lib if hasattr(lib, "malloc_trim") else None
    except OSError:   # not glibc (macOS, musl): memory is bounded by the allocator's own policy
        return None


_LIBC = _libc()


"""The ECG file formats, in one table: how a file is recognised and which reader reads it.

Ingest (``ecgcmr ingest-ecg`` and the pipeline's shards), ``ecgcmr predict`` and
``ecgcmr embed`` all find and read records through this module, so a new format is
one reader and one row of ``FORMATS`` (docs/architecture.md, "How to add").

A format's *kind* is what ``ingest-ecg --format`` selects and what predict calls an
input: formats of one kind share the suffix of the file that stands for a record, and
are told apart by the XML root element (CardioSoft ``<CardiologyXML>``, UK Biobank
field 20205; MUSE ``<RestingECG>``, most hospital archives). A file of that suffix
with neither root goes to the kind's first format, whose ``InputError`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .cardiosoft import eid_from_path, read_cardiosoft_xml
from .muse_xml import read_muse_xml
from .record import EcgRecord
from .wfdb_records import read_wfdb_record, record_base


def _stem(path: Path) -> str:
    return Path(path).stem


@dataclass(frozen=True)
class EcgFormat:
    name: str
    kind: str
    label: str                        # in messages: "expected a CardioSoft or MUSE .xml or ..."
    suffix: str                       # the file that stands for a record (lower case)
    read: Callable[..., EcgRecord]    # read(path, eid=None, *, sample_rate, n_samples, flat_lead_uv)
    root: str | None = None           # XML root element, when formats share a suffix
    parts: tuple[str, ...] = ()       # the record's other files, read through its `suffix` file
    aliases: tuple[str, ...] = ()     # of those, the ones that name the record when given alone
    eid: Callable[[Path], str] = _stem   # the subject's id from the file's name, before reading it
    record: Callable[[Path], str] = str  # the path `read` is given for that file


FORMATS: dict[str, EcgFormat] = {f.name: f for f in [
    EcgFormat("cardiosoft", "xml", "CardioSoft", ".xml", read_cardiosoft_xml, root="CardiologyXML",
              eid=eid_from_path),
    EcgFormat("muse", "xml", "MUSE", ".xml", read_muse_xml, root="RestingECG", eid=eid_from_path),
    # (.xyz: PTB's Frank leads; .atr/.qrs: annotations)
    EcgFormat("wfdb", "wfdb", "WFDB record", ".hea", read_wfdb_record,
              parts=(".dat", ".mat", ".atr", ".xyz", ".qrs"), aliases=(".dat", ".mat"), record=record_base),
]}

# The first element name: "<?" (prolog) and "<!" (DOCTYPE, comments) do not match.
_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")


def root_tag(path: str | Path, head_bytes: int = 4096) -> str | None:
    """Name of the root element from the file's first bytes (None if none is found)."""
    with open(path, "rb") as f:
        m = _FIRST_TAG.search(f.read(head_bytes))
    return m.group(1).decode("ascii", "replace") if m else None


def kinds() -> dict[str, list[EcgFormat]]:
    """kind -> its formats, in table order."""
    out: dict[str, list[EcgFormat]] = {}
    for f in FORMATS.values():
        out.setdefault(f.kind, []).append(f)
    return out


def kind_format(kind: str) -> EcgFormat:
    """The kind's first format: its suffix, parts, eid and record path stand for the kind."""
    return kinds()[kind][0]


def kind_of_file(path: str | Path) -> str | None:
    """The kind whose record file ``path`` is, by its suffix alone (any case)."""
    suffix = Path(path).suffix.lower()
    return next((k for k, fs in kinds().items() if fs[0].suffix == suffix), None)


def part_of(path: str | Path) -> str | None:
    """The kind ``path`` is a secondary file of (a WFDB signal or annotation file)."""
    suffix = Path(path).suffix.lower()
    return next((k for k, fs in kinds().items() if suffix in fs[0].parts), None)


def ecg_kind(path: str | Path) -> str:
    """What predict makes of one path that is not a folder: a kind, ``missing`` or
    ``unsupported``. A record of several files may be named by any alias or by its
    path without extension."""
    p = Path(path)
    suffix = p.suffix.lower()
    for kind, fs in kinds().items():
        f = fs[0]
        if suffix in (f.suffix, *f.aliases) or (f.parts and Path(str(p) + f.suffix).is_file()):
            return kind
    return "unsupported" if p.exists() else "missing"


def find_records(paths: list[str | Path]) -> list[tuple[str, str]]:
    """(kind, record path) per input: a folder gives its record files, kind by kind
    (``missing`` when it holds none); anything else is :func:`ecg_kind`'s answer."""
    items: list[tuple[str, str]] = []
    for raw in map(Path, paths):
        if raw.is_dir():
            found = [(kind, fs[0].record(f)) for kind, fs in kinds().items()
                     for f in sorted(raw.glob("*" + fs[0].suffix))]
            items += found or [("missing", str(raw))]
            continue
        kind = ecg_kind(raw)
        items.append((kind, kind_format(kind).record(raw) if kind in kinds() else str(raw)))
    return items


def accepted() -> str:
    """e.g. ``a CardioSoft or MUSE .xml or a WFDB record (.hea)``."""
    def one(fs: list[EcgFormat]) -> str:
        suffix = f"({fs[0].suffix})" if fs[0].parts else fs[0].suffix
        return f"a {' or '.join(f.label for f in fs)} {suffix}"
    return " or ".join(one(fs) for fs in kinds().values())


def read_ecg(path: str | Path, eid: str | None = None, *, kind: str | None = None, **reader_kwargs) -> EcgRecord:
    """Read one record with its format's reader (``kind``: as :func:`ecg_kind` or
    :func:`find_records` said; by default the path's own). ``missing`` and anything
    that is no kind raise ``not_found`` / ``unsupported_input``."""
    kind = ecg_kind(path) if kind is None else kind
    formats = kinds().get(kind)
    if formats is None:
        if kind == "missing":
            suffixes = "/".join(fs[0].suffix for fs in kinds().values())
            raise InputError(path, "not_found", f"no such file or folder (or a folder without {suffixes})")
        raise InputError(path, "unsupported_input", f"expected {accepted()}")
    reader = formats[0].read
    if len(formats) > 1:
        try:
            tag = root_tag(path)
            reader = next((f.read for f in formats if f.root == tag), reader)
        except OSError:
            pass
    return reader(path, eid, **reader_kwargs)

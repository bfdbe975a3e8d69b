"""Resting-ECG XML of either vendor export, told apart by its root element:
``<CardiologyXML>`` (GE CardioSoft, UK Biobank field 20205) or ``<RestingECG>`` (GE MUSE,
most hospital archives)."""

from __future__ import annotations

import re
from pathlib import Path

from .cardiosoft import read_cardiosoft_xml
from .muse_xml import read_muse_xml
from .record import EcgRecord

READERS = {"CardiologyXML": read_cardiosoft_xml, "RestingECG": read_muse_xml}
# The first element name: "<?" (prolog) and "<!" (DOCTYPE, comments) do not match.
_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")


def root_tag(path: str | Path, head_bytes: int = 4096) -> str | None:
    """Name of the root element from the file's first bytes (None if none is found)."""
    with open(path, "rb") as f:
        m = _FIRST_TAG.search(f.read(head_bytes))
    return m.group(1).decode("ascii", "replace") if m else None


def read_ecg_xml(path: str | Path, eid: str | None = None, **kwargs) -> EcgRecord:
    """Read a CardioSoft or MUSE XML with its own reader. Anything else (an unreadable
    file, another root) goes to the CardioSoft reader, whose ``InputError`` says why."""
    try:
        reader = READERS.get(root_tag(path), read_cardiosoft_xml)
    except OSError:
        reader = read_cardiosoft_xml
    return reader(path, eid, **kwargs)

"""Resting-ECG XML of either vendor export (GE CardioSoft or GE MUSE), read by the
format its root element names: the XML rows of :mod:`.ecg_formats`."""

from __future__ import annotations

from pathlib import Path

from .ecg_formats import read_ecg, root_tag  # noqa: F401  (root_tag: the sniff, kept importable here)
from .record import EcgRecord


def read_ecg_xml(path: str | Path, eid: str | None = None, **kwargs) -> EcgRecord:
    """Read a CardioSoft or MUSE XML with its own reader. Anything else (an unreadable
    file, another root) goes to the CardioSoft reader, whose ``InputError`` says why."""
    return read_ecg(path, eid, kind="xml", **kwargs)

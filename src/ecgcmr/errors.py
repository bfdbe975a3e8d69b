"""Errors raised on bad input. Each names the file and the reason, so that a cohort
run can record it in an exclusions table and carry on."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A single input (file, record, subject) that cannot be used.

    ``reason`` is a short machine-groupable code (e.g. ``truncated_xml``);
    ``detail`` is the human explanation.
    """

    def __init__(self, path: str | Path | None, reason: str, detail: str = ""):
        self.path = str(path) if path is not None else ""
        self.reason = reason
        self.detail = detail
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{reason}" + (f" ({detail})" if detail else ""))

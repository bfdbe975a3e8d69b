"""Atomic writes and short digests, for checkpoints and their resume signatures."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch


def atomic_save(obj, path: Path) -> None:
    """Write-then-rename: a kill mid-write never leaves a truncated checkpoint."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def input_files_signature(*paths: str) -> dict[str, list[int]]:
    """Size and mtime of each input file, for the loop's checkpoint ``signature``: when
    an upstream stage rewrites an input, Snakemake reruns this job and the old (maybe
    finished) checkpoint must not be resumed as if nothing had changed."""
    out = {}
    for p in filter(None, paths):
        st = Path(p).stat()
        out[str(p)] = [st.st_size, st.st_mtime_ns]
    return out


def digest(obj) -> str:
    """A short hash of a JSON-able object, for checkpoint signatures: the subject lists
    and input signatures of a UKB-size cohort would otherwise be stored whole."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]

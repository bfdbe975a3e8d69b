"""A cache shard's signals as one memory-mapped ``.npy``, shared by every process of a node.

``EcgCache`` decodes each parquet shard into memory: ~7.6 GB for UK Biobank's 63k ECGs
in float16, held once per process, so a 4-GPU ``torchrun`` job holds it four times.
With ``ECGCMR_ECG_CACHE_DIR`` set (a node-local scratch folder, e.g. ``$TMPDIR``), the
first process decodes a shard into ``<dir>/ecg-signals-<key>.npy`` and every process
maps that file read-only, so the node keeps one copy, in the page cache.

This is an environment setting, not a config value: where scratch lives does not
change any result, and a config value would make Snakemake rerun the trainers.
The key covers the shard's path, size and modification time, so a re-ingested shard
gets a new file; old files are left to the scratch folder's own clean-up.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

ENV = "ECGCMR_ECG_CACHE_DIR"


def cache_dir() -> Path | None:
    value = os.environ.get(ENV, "").strip()
    return Path(value) if value else None


def shard_key(parquet: str | Path) -> str:
    st = os.stat(parquet)
    ident = f"{os.path.realpath(parquet)}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(ident.encode()).hexdigest()[:20]


def mapped_signals(parquet: str | Path, folder: Path, decode: Callable[[], np.ndarray]) -> np.ndarray:
    """The shard's (N, 12, T) signals, memory-mapped read-only from ``folder``;
    ``decode()`` is called once per node (under a file lock) to write the file."""
    target = folder / f"ecg-signals-{shard_key(parquet)}.npy"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with open(target.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # the other ranks wait here, then map
            if not target.exists():
                tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
                with open(tmp, "wb") as f:
                    np.save(f, decode())
                os.replace(tmp, target)   # readers never see a half-written file
    return np.load(target, mmap_mode="r")

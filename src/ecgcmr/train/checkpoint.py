"""Checkpoint plumbing of the training loop: RNG states (captured and restored so a
resumed run continues the same random streams), seeding, and atomic file writes."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import torch


def rng_state() -> dict:
    """This process's torch, CUDA, numpy and python RNG states, as tensors, numbers and
    lists only, so the checkpoint loads with ``torch.load(weights_only=True)``."""
    np_state = np.random.get_state(legacy=False)
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy_key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "numpy_pos": int(np_state["state"]["pos"]),
            "numpy_gauss": [int(np_state["has_gauss"]), float(np_state["gauss"])],
            "python": list(random.getstate()[1]), "python_version": random.getstate()[0]}


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    if s["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])
    has_gauss, gauss = s["numpy_gauss"]
    np.random.set_state({"bit_generator": "MT19937", "has_gauss": int(has_gauss), "gauss": gauss,
                         "state": {"key": s["numpy_key"].numpy().astype(np.uint32),
                                   "pos": s["numpy_pos"]}})
    random.setstate((s["python_version"], tuple(s["python"]), None))


def atomic_save(obj, path: Path) -> None:
    """Write-then-rename: a kill mid-write never leaves a truncated checkpoint."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    s = torch.initial_seed() % 2**32  # set by the DataLoader from its seeded generator
    np.random.seed(s)
    random.seed(s)


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

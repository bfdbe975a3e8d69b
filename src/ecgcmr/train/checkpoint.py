"""Checkpoint plumbing of the training loop: RNG states (captured and restored so a
resumed run continues the same random streams) and seeding."""

from __future__ import annotations

import random

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




def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    s = torch.initial_seed() % 2**32  # set by the DataLoader from its seeded generator
    np.random.seed(s)
    random.seed(s)

"""``CmrCropDataset``: the crops of ``cmr/crops.parquet`` as tensors for the CMR encoders.

Crop kinds (``crop``, one of ``CROP_KINDS``) and the shapes of ``item["image"]`` (float32):

* ``"ED"`` / ``"ES"`` — ``(1, H, W, 6)``: channel first, then MONAI's spatial order
  (x, y, z) for ``spatial_dims=3`` networks (the 3D ResNet-50 of the paper); the six
  slices are the last spatial axis, exactly as stored in the NIfTI (the "2.5D"
  encoder moves them to channels itself: ``ecgcmr.models.cmr_encoders``).
* ``"2D"`` — ``(1, H, W)``: the mid-ventricular ED slice.
* ``"2DT"`` — ``(T, 1, H, W)``: the mid slice over all frames, time first, for a
  per-frame 2D encoder with temporal pooling.

``targets`` (e.g. ``tables/targets.parquet``) with ``target_columns`` adds
``item["target"]`` float32 ``(len(target_columns),)``; NaN marks a missing phenotype
(the trainer masks it in the loss). ``item["eid"]`` is the subject's string eid.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ..errors import InputError
from .crop import CROP_KINDS


class CmrCropDataset(Dataset):
    """``in_memory``: read every crop once, here (threads; gzip inflation releases the
    GIL), into one array, so an epoch indexes memory instead of opening one NIfTI per
    item (a GPU trainer needs thousands of crops a second: bench/loader.py). The items
    are the same arrays either way; only where they come from differs."""

    def __init__(self, crop_index_path: str | Path, eids, crop: str, targets: pd.DataFrame | None = None,
                 target_columns: list[str] | None = None, in_memory: bool = False):
        if crop not in CROP_KINDS:
            raise ValueError(f"crop must be one of {CROP_KINDS}, got {crop!r}")
        index = pd.read_parquet(crop_index_path, columns=["eid", f"path_{crop}"])
        paths = dict(zip(index["eid"].astype(str), index[f"path_{crop}"]))
        self.eids = [str(e) for e in eids]
        missing = [e for e in self.eids if e not in paths]
        if missing:
            raise KeyError(f"{len(missing)} eids have no {crop} crop in {crop_index_path}: {missing[:5]}")
        self.paths = [paths[e] for e in self.eids]
        self.crop = crop
        self.targets = None
        if targets is not None:
            if not target_columns:
                raise ValueError("target_columns is required with targets")
            t = targets.assign(eid=targets["eid"].astype(str)).set_index("eid")
            absent = [e for e in self.eids if e not in t.index]
            if absent:
                raise KeyError(f"{len(absent)} eids have no targets: {absent[:5]}")
            # a copy: pandas (copy-on-write) hands out read-only views, which torch
            # warns about when they become tensors
            self.targets = np.array(t.loc[self.eids, list(target_columns)].to_numpy(np.float32))
        self.images = self._read_all() if in_memory else None

    def _read_all(self) -> np.ndarray | None:
        from concurrent.futures import ThreadPoolExecutor

        if not self.paths:
            return None
        first = self._read(0)
        out = np.empty((len(self.paths), *first.shape), np.float32)
        out[0] = first

        def fill(i: int) -> None:
            x = self._read(i)
            if x.shape != first.shape:   # crops of one run share their size (config crop)
                raise InputError(self.paths[i], "crop_shape_mismatch",
                                 f"{x.shape}, the other crops of this set are {first.shape}")
            out[i] = x

        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            list(pool.map(fill, range(1, len(self.paths))))
        return out

    def _read(self, i: int) -> np.ndarray:
        """Crop ``i`` in the item layout (see the module docstring)."""
        x = np.asarray(nib.load(self.paths[i]).dataobj, np.float32)
        if self.crop in ("ED", "ES"):
            return x[None]
        if self.crop == "2D":
            return x.reshape(x.shape[0], x.shape[1])[None]
        return x.reshape(x.shape[0], x.shape[1], -1).transpose(2, 0, 1)[:, None]  # 2DT stored (H, W, 1, T)

    def __len__(self) -> int:
        return len(self.eids)

    def __getitem__(self, i: int) -> dict:
        # a copy out of the in-memory array: an in-place augmentation must never reach it
        x = self.images[i].copy() if self.images is not None else np.ascontiguousarray(self._read(i))
        item = {"image": torch.from_numpy(x), "eid": self.eids[i]}
        if self.targets is not None:
            item["target"] = torch.tensor(np.array(self.targets[i]))  # own memory, writable
        return item

"""A tiny paired ECG + CMR cohort in the pipeline's own file formats, for the CMR
pretraining and alignment tests: synthetic subjects (``ecgcmr.synth``) rendered to
cines and ECGs, cropped by the real ``ecgcmr.cmr.crop`` and cached by the real
``ecgcmr.ecg.cache`` functions, plus targets.parquet and splits.parquet."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ecgcmr.cmr.crop import INDEX_COLUMNS, crop_subject
from ecgcmr.ecg.cache import compute_norm_stats, gather_ecg_index, shard_table
from ecgcmr.io.dicom_cine import cine_affine
from ecgcmr.phenotypes import PHENOTYPES
from ecgcmr.synth.cmr import render_cine
from ecgcmr.synth.ecg import BeatModel, derive_limb_leads, render_leads
from ecgcmr.synth.physiology import sample_cohort

N_FRAMES = 20
CMR = {"matrix": 40, "pixel_spacing_mm": 3.2, "n_slices": 8, "n_frames": N_FRAMES,
       "slice_thickness_mm": 8.0, "slice_gap_mm": 2.0, "noise": 0.03}
CROP = {"n_slices": 6, "shape": [24, 24], "spacing_mm": 6.0, "margin_mm": 4.0,
        "heart_labels": [1, 2, 3], "intensity_percentiles": [1.0, 99.0]}
ECG = {"sample_rate": 500, "duration_s": 10, "noise_uv": 15, "wander_uv": 0, "mains_uv": 0}


def paired_cohort(root: Path, n: int = 40, seed: int = 0, with_ecg: bool = True) -> dict[str, str]:
    """Writes crops (+ crops.parquet), targets.parquet, splits.parquet (paired_split
    60/20/20 %) and, with ``with_ecg``, an ECG cache (shard, index, norm stats)."""
    root.mkdir(parents=True, exist_ok=True)
    lat = sample_cohort(n, seed, n_frames=N_FRAMES)
    lat["has_cmr"] = True
    rng = np.random.default_rng(seed)
    rows = []
    for r in lat.itertuples(index=False):
        image, labels, geometry = render_cine(r, CMR, rng)
        affine = cine_affine(geometry)
        cine, mask = root / "nifti" / f"{r.eid}.nii.gz", root / "masks" / f"{r.eid}.nii.gz"
        cine.parent.mkdir(exist_ok=True)
        mask.parent.mkdir(exist_ok=True)
        nib.save(nib.Nifti1Image(image, affine), cine)
        nib.save(nib.Nifti1Image(labels, affine), mask)
        rows.append(crop_subject(r.eid, str(cine), str(mask), int(r.ed_frame), int(r.es_frame),
                                 root / "crops", CROP))
    paths = {"crop_index": str(root / "crops.parquet"), "targets": str(root / "targets.parquet"),
             "splits": str(root / "splits.parquet")}
    pd.DataFrame(rows, columns=list(INDEX_COLUMNS)).astype({"eid": "string"}).to_parquet(paths["crop_index"])
    lat[["eid", *PHENOTYPES]].to_parquet(paths["targets"])
    split = np.array(["train"] * n, dtype=object)
    order = rng.permutation(n)
    split[order[int(0.6 * n):int(0.8 * n)]] = "val"
    split[order[int(0.8 * n):]] = "test"
    pd.DataFrame({"eid": lat["eid"], "has_ecg": True, "has_cmr": True, "paired": True,
                  "pretrain": split, "paired_split": split}).to_parquet(paths["splits"])
    if with_ecg:
        paths.update(_ecg_cache(root, lat, seed, paths["splits"]))
    return paths


def _ecg_cache(root: Path, lat: pd.DataFrame, seed: int, splits: str) -> dict[str, str]:
    signals = []
    for _, row in lat.iterrows():
        rng = np.random.default_rng([seed, int(row.eid)])
        leads, _ = render_leads(BeatModel(row, rng), ECG["duration_s"], ECG["sample_rate"], ECG, rng)
        signals.append(derive_limb_leads(leads))
    shard = root / "ecg" / "shard_0.parquet"
    shard.parent.mkdir(exist_ok=True)
    table = shard_table(list(lat["eid"]), ["synthetic"] * len(lat), np.stack(signals), [{}] * len(lat))
    pq.write_table(table, shard)
    index, stats = root / "ecg" / "index.parquet", root / "ecg" / "norm_stats.json"
    gather_ecg_index([str(shard)], index)
    compute_norm_stats(index, splits, stats)
    return {"ecg_index": str(index), "ecg_norm_stats": str(stats)}


@functools.lru_cache(maxsize=None)
def shared_cohort(n: int = 40, seed: int = 0) -> dict[str, str]:
    """One :func:`paired_cohort` per test process, shared by the pretraining and
    alignment tests (it takes a few seconds to render), removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="ecgcmr_paired_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return paired_cohort(root / "cohort", n=n, seed=seed)

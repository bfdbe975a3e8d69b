"""Benchmark: how fast the CMR crop loader feeds a trainer, one NIfTI per item against
the in-memory path (``CmrCropDataset(in_memory=True)``), at the UK Biobank crop size
of config/ukb.yaml (96 x 96 x 6 slices per phase, float32 .nii.gz as the crop rule
writes them) -> bench/results/loader.json.

    .venv/bin/python bench/loader.py [--n 512] [--batch 64] [--rounds 3]

Crops/s through a ``DataLoader`` (workers 0: the rate one process delivers; a
trainer's workers multiply the on-disk rate at best by their count), per wall second
and per CPU second of this process, with the load average. What a GPU needs: CMR
pretraining of the paper's ResNet-50 3D on one H100 ~3,300-5,200 crops/s (issue 15's
FLOP estimate), so the on-disk path would need that many cores reading; the in-memory
path is an array index. The one-off read into memory is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import yaml
from torch.utils.data import DataLoader

from ecgcmr.cmr.dataset import CmrCropDataset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "loader.json"


def write_crops(folder: Path, n: int, shape: tuple[int, int], seed: int = 0) -> Path:
    """``n`` smooth synthetic ED crops (a bright ellipse on a noisy background, so they
    compress like images, not like noise) and their crop index."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    paths = []
    for i in range(n):
        cy, cx, r = shape[0] / 2 + rng.normal(0, 3), shape[1] / 2 + rng.normal(0, 3), rng.uniform(12, 20)
        disc = (((yy - cy) ** 2 + (xx - cx) ** 2) < r ** 2).astype(np.float32)
        vol = np.stack([disc * (0.8 + 0.05 * k) for k in range(6)], axis=-1)
        vol += rng.normal(0, 0.05, vol.shape).astype(np.float32)
        paths.append(folder / f"{i}_ED.nii.gz")
        nib.save(nib.Nifti1Image(vol.astype(np.float32), np.eye(4)), paths[-1])
    index = folder / "crops.parquet"
    pd.DataFrame({"eid": [str(i) for i in range(n)], "path_ED": list(map(str, paths))}).to_parquet(index)
    return index


def rate(dataset, batch: int) -> dict:
    w0, c0 = time.perf_counter(), time.process_time()
    n = sum(len(b["eid"]) for b in DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=0))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"crops_per_s": round(n / wall, 1), "crops_per_cpu_s": round(n / max(cpu, 1e-9), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    shape = tuple(yaml.safe_load((ROOT / "config" / "ukb.yaml").read_text())["crop"]["shape"])
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        index = write_crops(Path(tmp), args.n, shape)
        eids = [str(i) for i in range(args.n)]
        rounds = []
        for _ in range(args.rounds):   # interleaved, so a change of machine load hits both alike
            disk = rate(CmrCropDataset(index, eids, "ED"), args.batch)
            t0 = time.perf_counter()
            mem_ds = CmrCropDataset(index, eids, "ED", in_memory=True)
            read_s = time.perf_counter() - t0
            mem = rate(mem_ds, args.batch)
            rounds.append({"on_disk": disk, "in_memory": mem, "read_into_memory_s": round(read_s, 3)})
    best = {k: max(r[k]["crops_per_s"] for r in rounds) for k in ("on_disk", "in_memory")}
    result = {"crop": {"kind": "ED", "shape": [*shape, 6], "dtype": "float32", "file": ".nii.gz"},
              "n_crops": args.n, "batch": args.batch, "num_workers": 0, "rounds": rounds,
              "best_crops_per_s": best, "in_memory_over_on_disk": round(best["in_memory"] / best["on_disk"], 1),
              "gpu_need_crops_per_s": [3300, 5200],
              "machine": {"cpus": os.cpu_count(), "load_avg_before": [round(x, 2) for x in load_before],
                          "load_avg_after": [round(x, 2) for x in os.getloadavg()]}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Helpers for the CMR volume tests (segmenter, phases, crops): synthetic subjects
rendered by the project's own generator (``ecgcmr.synth.cmr.render_cine``) at the
demo size, written as the ingest stage writes them. Imported explicitly."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import yaml

from ecgcmr.config import EMBEDDED, load_config
from ecgcmr.io.dicom_cine import cine_affine
from ecgcmr.synth.cmr import render_cine
from ecgcmr.synth.physiology import sample_cohort

REPO = Path(__file__).resolve().parents[1]
# the validated demo config (schema defaults filled in), as the rules see it
CONFIG = load_config(EMBEDDED)
SYNTH_CMR = CONFIG["synth"]["cmr"]


def render_subjects(n: int, seed: int, **cmr) -> list[tuple]:
    """(latent row, image (x,y,z,t), labels, affine) of ``n`` subjects; ``cmr``
    overrides ``synth.cmr`` keys (e.g. ``matrix``)."""
    cfg = {**SYNTH_CMR, **cmr}
    rows = sample_cohort(n, seed, n_frames=cfg["n_frames"], es_fraction=cfg["es_fraction"])
    out = []
    for row in rows.itertuples(index=False):
        image, labels, geometry = render_cine(row, cfg, np.random.default_rng([seed, int(row.eid)]))
        out.append((row, image, labels, cine_affine(geometry)))
    return out


def write_subjects(subjects, root: Path) -> tuple[Path, Path]:
    """Cines as ``{root}/nifti/{eid}.nii.gz`` + a CMR index, truth masks as
    ``{root}/masks/{eid}_labels.nii.gz``. Returns (index path, masks dir)."""
    (root / "nifti").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for row, image, labels, affine in subjects:
        path = root / "nifti" / f"{row.eid}.nii.gz"
        nib.save(nib.Nifti1Image(image.astype(np.float32), affine), path)
        nib.save(nib.Nifti1Image(labels.astype(np.uint8), affine), root / "masks" / f"{row.eid}_labels.nii.gz")
        d = np.linalg.norm(affine[:3, :3], axis=0)
        rows.append({"eid": str(row.eid), "path": str(path), **dict(zip(("nx", "ny", "nz", "nt"), image.shape)),
                     "dx": d[0], "dy": d[1], "dz": d[2]})
    index = root / "index.parquet"
    pd.DataFrame(rows).to_parquet(index, index=False)
    return index, root / "masks"


def segmentation_params() -> dict:
    """The ``segment`` rule's params, from the demo config."""
    seg = CONFIG["segmentation"]
    return {"batch_size": seg["batch_size"], "largest_component": seg["largest_component"],
            "qc": seg["qc"], "device": "cpu", "threads": 1}


def crop_params(**overrides) -> dict:
    return {**CONFIG["crop"], **overrides}


# The smallest training setting that clears LV blood-pool Dice 0.85 on held-out
# subjects with margin (0.89-0.93 over cohort seeds 1-3; ~10 s of one core).
TEST_ARCH = {"channels": [8, 16, 32, 64], "strides": [2, 2, 2], "num_res_units": 0, "dropout": 0.0,
             "intensity_percentiles": [1.0, 99.0]}
TEST_TRAIN = {"lr": 1e-2, "batch_size": 16, "epochs": 12, "warmup_epochs": 0, "weight_decay": 0.0,
              "augment": {"flip_prob": 0.5, "rotate_deg": 180.0, "rotate_prob": 0.5, "scale_range": 0.1,
                          "intensity_prob": 0.5, "intensity_scale": 0.1, "intensity_shift": 0.1,
                          "noise_std": 0.02}}

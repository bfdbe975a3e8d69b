"""The run's ECG encoder as safetensors weights with a JSON model card.

``{results}/inference/ecg_encoder.safetensors`` holds the encoder's tensors plus the
run's normalisation (``norm.mean``, ``norm.std``); its metadata and
``model_card.json`` say how to rebuild it (``EcgMAE(**config)``), what it was trained
on, how it scores, what it is for and what it is not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .. import __version__
from .manifest import read_manifest

INTENDED_USE = (
    "Research: ECG representations for CMR phenotype and cardiovascular outcome prediction, "
    "as in 'Dual-Phase Cross-Modal Contrastive Learning for CMR-Guided ECG Representations'. "
    "Input: a 10 s, 12-lead resting ECG at the sample rate below, filtered as ecgcmr ingest does.")
LIMITS = [
    "Not a medical device; its outputs must not guide the care of a patient.",
    "Trained only on the cohort named under training_data; a record outside its amplitude, "
    "heart-rate or noise ranges (training_ranges) gets numbers that mean little.",
    "A synthetic-cohort run (the demo) learns the generator's physiology, not human hearts.",
    "UK Biobank-trained weights are derived data under the UK Biobank access terms: share them "
    "only as those terms allow.",
]


def model_card(run_dir: str | Path, metrics_csv: str | Path | None = None, blob: dict | None = None) -> dict:
    """``blob``: the encoder file already loaded (the safetensors export has it), else read here."""
    import torch

    manifest, run_dir = read_manifest(run_dir)
    if blob is None:
        blob = torch.load(manifest["encoder"], map_location="cpu", weights_only=True)
    ranges = (json.loads(Path(manifest["training_ranges"]).read_text())
              if "training_ranges" in manifest else None)
    card = {
        "name": f"ecgcmr ECG encoder ({manifest['representation']})",
        "ecgcmr_version": __version__,
        "representation": manifest["representation"],
        "architecture": {"class": "ecgcmr.models.vit_mae.EcgMAE", "config": blob["config"],
                         "output": "mean of the encoder's patch tokens (B, embed_dim)"},
        "input": {key: manifest["ecg"].get(key) for key in
                  ("sample_rate", "n_samples", "leads", "highpass_hz", "highpass_order", "notch_hz",
                   "notch_q", "savgol_window", "savgol_polyorder")},
        "normalisation": _normalisation_text(manifest["norm_stats"]),
        "training_data": manifest.get("cohort", "not recorded by this run"),
        "training_ranges": ranges["features"] if ranges else "not recorded by this run",
        "intended_use": INTENDED_USE,
        "limits": LIMITS,
        "metrics": _metrics(metrics_csv, manifest["representation"]) if metrics_csv else [],
    }
    return card


def _metrics(csv: str | Path, representation: str) -> list[dict]:
    """Test-split scores of the run's probes on this representation, with n."""
    import pandas as pd

    df = pd.read_csv(csv)
    df = df[df["representation"] == representation]
    cols = [c for c in ("target", "seed", "metric", "value", "n_test", "n_test_positive") if c in df]
    return json.loads(df[cols].to_json(orient="records"))


def write_safetensors_and_card(run_dir: str | Path, out: str | Path,
                               metrics_csv: str | Path | None = None) -> Path:
    """``out`` (.safetensors) and ``model_card.json`` beside it."""
    import torch
    from safetensors.torch import save_file

    manifest, _ = read_manifest(run_dir)
    blob = torch.load(manifest["encoder"], map_location="cpu", weights_only=True)
    card = model_card(run_dir, metrics_csv, blob)
    stats = json.loads(Path(manifest["norm_stats"]).read_text())
    tensors = {k: v.contiguous() for k, v in blob["state_dict"].items()}
    tensors["norm.mean"] = torch.as_tensor(np.asarray(stats["mean"], np.float32))
    tensors["norm.std"] = torch.as_tensor(np.maximum(np.asarray(stats["std"], np.float32), 1e-6))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"config": json.dumps(blob["config"]), "format": "ecgcmr-ecg-encoder/1"})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(out, 0o666 & ~umask)   # save_file writes 0600; the weights are meant to be handed on
    (out.parent / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return out


def _normalisation_text(norm_stats: str | Path) -> str:
    from ..ecg.norm import NormStats

    if NormStats.load(norm_stats).mode == "record":
        return ("x_norm = (x_mV - mean(x_mV)) / std(x_mV) per record, over all leads and samples "
                "(ecg.normalisation: record; norm.mean/norm.std in the safetensors file are unused)")
    return "x_norm = (x_mV - norm.mean) / norm.std per lead (tensors in the safetensors file)"


def load_safetensors_encoder(path: str | Path):
    """(EcgMAE encoder in eval mode, mean, std) from a file written above."""
    from safetensors import safe_open

    from ..models.vit_mae import EcgMAE

    with safe_open(str(path), framework="pt") as f:
        config = json.loads(f.metadata()["config"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    mean, std = tensors.pop("norm.mean"), tensors.pop("norm.std")
    model = EcgMAE(**{**config, "decoder": False})
    model.load_state_dict(tensors)
    return model.eval(), mean.numpy(), std.numpy()

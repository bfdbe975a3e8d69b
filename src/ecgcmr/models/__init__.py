"""Models: ECG ViT-MAE (``vit_mae``), CMR encoders, projection heads, probes.

Saved encoders (``{results}/models/<name>/encoder.pt``) are plain dicts loadable with
``torch.load(..., weights_only=True)``: ``{"kind", "config", "state_dict", "meta"}``,
where ``config`` holds the constructor arguments, so no training state is needed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from ecgcmr.errors import InputError

# torch is imported inside the functions: importing ecgcmr.models (for the torch-free
# tables of ecgcmr.specs) must not load it


def save_ecg_encoder(model, path: str | Path, meta: dict | None = None) -> None:
    """Write the encoder part of an :class:`~ecgcmr.models.vit_mae.EcgMAE` (atomic)."""
    from ecgcmr.core.files import atomic_save

    path = Path(path)
    blob = {"kind": "ecg_mae", "config": {**model.config, "decoder": False},
            "state_dict": {k: v.detach().cpu() for k, v in model.encoder_state_dict().items()},
            "meta": meta or {}}
    atomic_save(blob, path)


def load_ecg_encoder(path: str | Path, map_location: str | torch.device = "cpu"):
    """The ECG encoder saved at ``path``, in eval mode, without the MAE decoder.

    Its ``embed(x)`` maps normalised ECGs (B, 12, 5000) to (B, D); ``.config`` holds
    the constructor arguments (``embed_dim`` = D).
    """
    import torch

    from ecgcmr.models.vit_mae import EcgMAE

    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise InputError(str(path), "unreadable_encoder", str(e)) from e
    if not isinstance(blob, dict) or blob.get("kind") != "ecg_mae":
        raise InputError(str(path), "not_ecg_encoder",
                         f"kind={blob.get('kind') if isinstance(blob, dict) else type(blob)}")
    model = EcgMAE(**{**blob["config"], "decoder": False})
    model.load_state_dict(blob["state_dict"])
    return model.eval()


def load_cmr_encoder(path: str | Path, map_location: str | torch.device = "cpu"):
    """The CMR encoder of ``{results}/models/cmr_{view}/encoder.pt``, in eval mode
    (``embed(crops)`` → (B, D); see :mod:`ecgcmr.models.cmr_encoders`)."""
    from ecgcmr.models.cmr_encoders import load_cmr_encoder as _load

    return _load(path, map_location)

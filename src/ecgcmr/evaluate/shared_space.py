"""The alignment's shared latent space on held-out subjects: each test subject's ECG
(aligned encoder + ECG head) and CMR (frozen encoders + their heads) in the 128-d
space the contrastive loss compares, projected to 2-D for the report."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ..core.device import resolve_device
from ..models.heads import load_heads
from ..splits import eids_of, subjects
from .embed import embed_eids
from .plots import embedding_projection

log = logging.getLogger(__name__)


def held_out_pairs(splits: str | Path, crop_index: str | Path, ecg_index: str | Path,
                   split: str = "test") -> list[str]:
    return subjects(splits, split, having=eids_of(crop_index, ecg_index))


@torch.no_grad()
def shared_space_embeddings(ecg_encoder: str | Path, heads: str | Path, cmr_encoders: dict[str, str | Path],
                            ecg_index: str | Path, norm_stats: str | Path, crop_index: str | Path,
                            splits: str | Path, split: str = "test", batch_size: int = 16,
                            device: str = "auto") -> dict[str, tuple[list[str], np.ndarray]]:
    """modality -> (eids, projected embeddings) for the paired subjects of ``split``."""
    from ..ecg.cache import EcgCache
    from ..models import load_ecg_encoder
    from ..models.cmr_encoders import cmr_embeddings, load_cmr_encoder

    dev = resolve_device(device)
    eids = held_out_pairs(splits, crop_index, ecg_index, split)
    if len(eids) < 3:
        raise ValueError(f"only {len(eids)} paired {split} subjects with crops and an ECG")
    head = load_heads(heads).to(dev)
    z_ecg = embed_eids(load_ecg_encoder(ecg_encoder), eids, EcgCache(ecg_index, norm_stats).get, batch_size, dev)
    out = {"ECG": (eids, head["ecg"](torch.as_tensor(z_ecg, device=dev)).cpu().numpy())}
    for modality, path in cmr_encoders.items():
        enc = load_cmr_encoder(path)
        z = cmr_embeddings(enc, str(crop_index), eids, batch_size, dev)
        out[f"CMR {modality.upper()}"] = (eids, head[modality](z.to(dev)).cpu().numpy())
    return out


def plot_shared_space(ecg_encoder, heads, cmr_encoders, ecg_index, norm_stats, crop_index, splits,
                      targets, out_png, colour_by: str = "LVEF", device: str = "auto") -> None:
    parts = shared_space_embeddings(ecg_encoder, heads, cmr_encoders, ecg_index, norm_stats, crop_index,
                                    splits, device=device)
    embedding_projection(parts, out_png, targets, colour_by)

"""Projection heads of the contrastive alignment (paper 2.2, "Contrastive Cross-Modal
Alignment"): a two-layer MLP per modality into the shared latent space."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from ..core.files import atomic_save
from ..errors import InputError

HEADS_KIND = "align_heads"


class ProjectionHead(nn.Sequential):
    """Linear → BatchNorm → ReLU → Linear, ``in_dim → hidden_dim → out_dim``.

    The layer pattern is the SimCLR projection head (lightly's ``SimCLRProjectionHead``)
    that the authors' code uses; paper sizes are hidden 512, out 128. No normalisation
    at the output: the CLIP loss L2-normalises.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128):
        super().__init__(
            nn.Linear(in_dim, hidden_dim, bias=False),  # BatchNorm's shift replaces the bias
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim


def save_heads(heads: nn.ModuleDict, path: str | Path, *, variant: str, pairs: list, weights: list,
               log_logit_scale: torch.Tensor) -> None:
    """Write the alignment's projection heads (``heads.pt``, atomic): one head per
    modality with its input width, the shared sizes, and what the loss was."""
    first = next(iter(heads.values()))
    atomic_save({"kind": HEADS_KIND, "variant": variant, "pairs": [list(p) for p in pairs],
                 "weights": weights, "hidden_dim": first.hidden_dim, "out_dim": first.out_dim,
                 "in_dims": {m: h.in_dim for m, h in heads.items()},
                 "log_logit_scale": log_logit_scale.detach().cpu(),
                 "state_dict": {k: v.cpu() for k, v in heads.state_dict().items()}}, Path(path))


def load_heads(path: str | Path) -> nn.ModuleDict:
    """The projection heads of ``heads.pt`` (eval mode); a file that is not one is an
    :class:`InputError` naming it."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise InputError(str(path), "unreadable_heads", str(e)) from e
    # files written before the kind was checked carry it too (align always wrote it)
    if not isinstance(blob, dict) or blob.get("kind", HEADS_KIND) != HEADS_KIND or "in_dims" not in blob:
        kind = blob.get("kind") if isinstance(blob, dict) else type(blob).__name__
        raise InputError(str(path), "not_alignment_heads", f"kind={kind!r}")
    heads = nn.ModuleDict({m: ProjectionHead(d, blob["hidden_dim"], blob["out_dim"])
                           for m, d in blob["in_dims"].items()})
    heads.load_state_dict(blob["state_dict"])
    return heads.eval()

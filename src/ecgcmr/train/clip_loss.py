"""CLIP loss over pairs of modalities (paper eq. 1-2), in the style of open_clip's
``loss.py``: a small module that knows about distributed training and nothing else.

Eq. 1, one direction ``a → b`` over a batch of N subjects::

    L_{a→b} = -1/N Σ_i log( exp(s(z_i^a, z_i^b)/τ) / Σ_k exp(s(z_i^a, z_k^b)/τ) )

with s the cosine similarity. A pair's term is ``0.5 · (L_{a→b} + L_{b→a})`` as in the
authors' code (``symmetric=True``) or ``L_{a→b}`` alone (eq. 2 read literally). Eq. 2 is
the weighted sum of pair terms; the pairs and weights are data, so the Table 1 variants
are configurations of this one class::

    dual_phase: pairs [[ecg, ed], [ecg, es], [ed, es]], weights [1/3, 1/3, 1/3]
    3d_ed:      pairs [[ecg, ed]]        2d: [[ecg, mid2d]]        2d_time: [[ecg, mid2dt]]

Distributed: every modality's features are gathered from all ranks *with* gradient
(:func:`ecgcmr.core.distributed.gather_with_grad`); each rank builds the logits of its
local rows against the global columns and offsets its labels by ``rank · n_local``
(open_clip's ``local_loss=True``). Under DDP's gradient averaging this gives exactly
the gradients of the single-process loss on the global batch; every rank must hold the
same number of rows (``drop_last=True`` in the sampler).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ecgcmr.core import distributed as dist_utils

# CLIP clips the learnable logit scale at 100 (τ ≥ 0.01) so it cannot run away.
MAX_LOGIT_SCALE = 100.0


class ClipLoss(nn.Module):
    """Weighted sum of CLIP terms over ``pairs`` of named modalities.

    Args:
        pairs: ``(a, b)`` modality names, e.g. ``[("ecg", "ed"), ("ecg", "es"), ("ed", "es")]``.
        weights: one per pair; normalised to sum to 1 (as the authors' code does), so
            ``[1, 1, 1]`` and ``[1/3, 1/3, 1/3]`` are the same loss. Default: equal.
        temperature: τ of eq. 1 (authors: 0.07, fixed).
        learnable_temperature: learn ``log(1/τ)`` as a parameter (CLIP), clipped at
            τ = 1/100; the trainer must then give this module's parameters to the optimiser.
        symmetric: pair term ``0.5 · (a→b + b→a)`` (True) or ``a→b`` only.
    """

    def __init__(self, pairs: Sequence[Sequence[str]], weights: Sequence[float] | None = None,
                 temperature: float = 0.07, learnable_temperature: bool = False,
                 symmetric: bool = True):
        super().__init__()
        self.pairs = [tuple(p) for p in pairs]
        if not self.pairs or any(len(p) != 2 or p[0] == p[1] for p in self.pairs):
            raise ValueError(f"pairs must be non-empty (a, b) with a != b, got {pairs}")
        w = [1.0] * len(self.pairs) if weights is None else [float(x) for x in weights]
        if len(w) != len(self.pairs) or any(x < 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"need one non-negative weight per pair, got {weights} for {pairs}")
        self.weights = [x / sum(w) for x in w]
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        init = torch.tensor(math.log(1.0 / temperature))
        if learnable_temperature:
            self.log_logit_scale = nn.Parameter(init)
        else:
            self.register_buffer("log_logit_scale", init)
        self.symmetric = symmetric

    @property
    def modalities(self) -> list[str]:
        return sorted({m for p in self.pairs for m in p})

    def logit_scale(self) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def forward(self, features: Mapping[str, torch.Tensor], gather: bool = True
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``features[name]``: ``(n_local, d)`` projections of this rank's batch.

        ``gather=False`` keeps the loss local to this rank's batch: validation, where
        ranks may hold different numbers of rows and nothing needs gradients.
        Returns the weighted total and each pair's term (keys ``"a-b"``), all detached
        except the total.
        """
        device = next(iter(features.values())).device
        # Logits in fp32 even inside a bf16 autocast region: bf16 keeps ~3 significant
        # digits, too coarse for cosine similarities scaled by 1/τ ≈ 14.
        with torch.autocast(device.type, enabled=False):
            return self._loss(features, gather)

    def _loss(self, features, gather):
        local = {m: F.normalize(features[m].float(), dim=-1) for m in self.modalities}
        n_local = next(iter(local.values())).shape[0]
        labels = torch.arange(n_local, device=next(iter(local.values())).device)
        if gather:
            every = {m: dist_utils.gather_with_grad(z) for m, z in local.items()}
            labels = labels + dist_utils.rank() * n_local
        else:
            every = local
        scale = self.logit_scale()
        total = torch.zeros((), device=labels.device)
        terms = {}
        for (a, b), w in zip(self.pairs, self.weights):
            term = F.cross_entropy(scale * local[a] @ every[b].T, labels)
            if self.symmetric:
                term = 0.5 * (term + F.cross_entropy(scale * local[b] @ every[a].T, labels))
            terms[f"{a}-{b}"] = term.detach()
            total = total + w * term
        return total, terms

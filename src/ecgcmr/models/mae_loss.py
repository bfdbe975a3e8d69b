"""Pretraining losses of the ECG masked autoencoder (``pretrain_ecg.loss``).

``masked`` (the paper's, the default): :meth:`EcgMAE.forward_loss`, the MSE over the
hidden patches only, as in the MAE reference.

``authors`` (the authors' public code): the MSE over *all* patches, hidden and
visible, plus ``ncc_weight · (1 − NCC)``, NCC being the normalised cross-correlation
between the reconstruction and the input (:func:`ncc`). It is computed on the decoder's
prediction of every patch; the visible ones are predicted too, so the term rewards
copying them back as well as filling in the hidden ones.
"""

from __future__ import annotations

import torch

LOSSES = ("masked", "authors")
NCC_FLOOR = 1e-6  # floor of std(recon)·std(input): a flat lead (or an all-zero first guess) gives NCC 0, not NaN


def ncc(recon: torch.Tensor, x: torch.Tensor, floor: float = NCC_FLOOR) -> torch.Tensor:
    """Mean normalised cross-correlation of (B, leads, samples) signals.

    Per record and lead, over the time axis: both signals are mean-centred and
    ``mean(r·x) / max(std(r)·std(x), floor)`` (population stds) is their Pearson
    correlation; the result is its mean over records and leads, in [-1, 1].
    """
    rc = recon - recon.mean(dim=-1, keepdim=True)
    xc = x - x.mean(dim=-1, keepdim=True)
    cov = (rc * xc).mean(dim=-1)
    # floor the product of variances, not the stds: sqrt's gradient at 0 is infinite
    var = (rc.square().mean(dim=-1) * xc.square().mean(dim=-1)).clamp_min(floor ** 2)
    return (cov / var.sqrt()).mean()


def authors_loss(recon: torch.Tensor, x: torch.Tensor, ncc_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(MSE over all samples + ncc_weight·(1 − NCC), NCC)`` of (B, leads, samples)
    reconstruction and input. Every patch has the same number of samples, so the mean
    over samples is the mean over all patches of the per-patch MSE."""
    recon, x = recon.float(), x.float()
    r = ncc(recon, x)
    return (recon - x).square().mean() + ncc_weight * (1 - r), r

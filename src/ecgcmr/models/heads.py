"""Projection heads of the contrastive alignment (paper 2.2, "Contrastive Cross-Modal
Alignment"): a two-layer MLP per modality into the shared latent space."""

from __future__ import annotations

from torch import nn


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

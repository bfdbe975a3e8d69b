"""In-plane resampling of cines and label maps to one spacing, and back (MONAI).

The segmenter is trained and applied at one in-plane spacing
(``segmentation.spacing_mm``; UK Biobank 1.8 mm, ACDC 1.4-1.6 mm, M&Ms by vendor),
so a set acquired at another spacing shows the net hearts of the size it learnt.
Slices are never resampled (their spacing is 5-10 mm and each slice is segmented on
its own). Frames travel as MONAI channels, so one ``Spacing`` call resamples a whole
cine and ``MetaTensor`` keeps the affine; predictions go back to the cine's own grid
with ``SpatialResample`` to that grid (nearest neighbour for labels).
"""

from __future__ import annotations

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Spacing, SpatialResample


def _as_meta(volume: np.ndarray, affine: np.ndarray) -> MetaTensor:
    """(x, y, z, t) → channel-first (t, x, y, z) MetaTensor."""
    v = np.asarray(volume)
    v = v.reshape(v.shape + (1,) * (4 - v.ndim))
    return MetaTensor(torch.from_numpy(np.ascontiguousarray(v.transpose(3, 0, 1, 2), dtype=np.float32)),
                      affine=torch.as_tensor(np.asarray(affine, float), dtype=torch.float64))


def to_spacing(volume: np.ndarray, affine: np.ndarray, spacing_mm: float | None, mode: str = "bilinear"
               ) -> tuple[np.ndarray, np.ndarray]:
    """(x', y', z, t) resampled in-plane to ``spacing_mm`` (None: unchanged) and its affine.
    ``mode`` nearest for label maps."""
    if not spacing_mm:
        return np.asarray(volume), np.asarray(affine, float)
    out = Spacing(pixdim=(float(spacing_mm), float(spacing_mm), -1), mode=mode, padding_mode="border")(
        _as_meta(volume, affine))
    return np.asarray(out.array).transpose(1, 2, 3, 0), np.asarray(out.affine, float)


def back_to_grid(labels: np.ndarray, affine: np.ndarray, target_affine: np.ndarray, target_shape
                 ) -> np.ndarray:
    """Labels (x', y', z, t) on ``affine`` resampled (nearest) onto the cine's grid."""
    out = SpatialResample(mode="nearest", padding_mode="zeros")(
        _as_meta(labels, affine), dst_affine=torch.as_tensor(np.asarray(target_affine, float)),
        spatial_size=tuple(int(s) for s in target_shape[:3]))
    return np.rint(np.asarray(out.array)).astype(np.uint8).transpose(1, 2, 3, 0)

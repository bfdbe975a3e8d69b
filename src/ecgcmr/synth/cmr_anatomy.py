"""Phantom heart anatomy for synthetic short-axis cines.

The left ventricle is a truncated half-ellipsoid along the long axis (base at s = 0,
apex at s = L): its cavity cross-section falls off as 1 - (s/L)^2. Each slice's cavity
area is the frame's volume shared out over the slices in proportion to that profile and
divided by the slice spacing, so summing the label masks over slices, times the voxel
volume (pixel area x slice spacing, as UKB volume pipelines do), gives back the latent
volume curve. Masks are drawn by pixel *count* (the n pixels nearest the centre), so
that sum is exact up to one pixel per slice rather than subject to rasterisation error.
Myocardium is incompressible: its area per slice is constant over the cycle.
"""

from __future__ import annotations

import numpy as np

ML = 1000.0                      # mm^3 per ml
MYOCARDIUM_DENSITY = 1.05        # g/ml


def volume_curve(edv: float, esv: float, es_frame: int, n_frames: int) -> np.ndarray:
    """Cavity volume per frame: EDV at frame 0, ESV at ``es_frame``, refilling by the
    end of the cycle (rapid filling, diastasis, atrial kick) without quite reaching EDV,
    so frame 0 stays the maximum."""
    t = np.arange(n_frames, dtype=float)
    v = np.empty(n_frames)
    sv = edv - esv
    ej = t <= es_frame
    v[ej] = esv + sv * 0.5 * (1 + np.cos(np.pi * t[ej] / es_frame))
    x = (t[~ej] - es_frame) / (n_frames - es_frame)           # 0..1 over diastole (excl. end)
    rapid = 0.75 * (1 - np.exp(-x / 0.18)) / (1 - np.exp(-1 / 0.18))
    kick = 0.25 * np.clip((x - 0.8) / 0.2, 0, 1) ** 2
    v[~ej] = esv + sv * np.minimum(rapid + kick, 1.0)
    return v


def cavity_profile(s: np.ndarray, length: float) -> np.ndarray:
    """Relative cavity cross-section at long-axis position s (0 = base, length = apex)."""
    s = np.asarray(s, dtype=float)
    return np.where((s >= 0) & (s < length), 1 - (s / length) ** 2, 0.0)


def long_axis_length(edv_ml: float, lvmm_g: float, wall_mm: float, lo: float, hi: float) -> float:
    """Long-axis length at which a wall of ``wall_mm`` around the ED cavity weighs
    ``lvmm_g`` (a longer ventricle has more wall for the same volume), clipped to the
    range the slice stack can show."""
    s = np.linspace(0, 1, 400, endpoint=False)
    prof = 1 - s ** 2

    def mass(length: float) -> float:
        area = edv_ml * ML * prof / (prof.mean() * length)      # mm^2 per position
        r = np.sqrt(area / np.pi)
        ring = np.pi * ((r + wall_mm) ** 2 - r ** 2)
        return ring.mean() * length / ML * MYOCARDIUM_DENSITY

    a, b = lo, hi
    if mass(a) >= lvmm_g:
        return lo
    if mass(b) <= lvmm_g:
        return hi
    for _ in range(40):
        m = 0.5 * (a + b)
        a, b = (m, b) if mass(m) < lvmm_g else (a, m)
        if b - a < 0.05:
            break
    return 0.5 * (a + b)


def slice_areas(volume_ml: np.ndarray, profile: np.ndarray, spacing_mm: float) -> np.ndarray:
    """(n_frames, n_slices) cavity area (mm^2): each frame's volume shared over slices."""
    w = profile / max(profile.sum(), 1e-9)
    return np.outer(np.asarray(volume_ml) * ML, w) / spacing_mm


def oblique_short_axis(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(row cosine, column cosine) of a short-axis plane, LPS, and the long axis.

    The LV long axis points from base to apex: to the patient's left, anterior and
    inferior (LPS +x, -y, -z), tilted per subject; the in-plane rotation is random.
    The slice normal (row x column) is the long axis, so the stack runs base -> apex.
    """
    axis = np.array([0.55, -0.5, -0.65]) + rng.normal(0, 0.08, 3)
    axis /= np.linalg.norm(axis)
    ref = np.array([0.0, 0.0, 1.0])
    row = np.cross(ref, axis)
    row /= np.linalg.norm(row)
    psi = rng.uniform(-np.pi, np.pi)
    col0 = np.cross(axis, row)
    row, col = np.cos(psi) * row + np.sin(psi) * col0, -np.sin(psi) * row + np.cos(psi) * col0
    return np.concatenate([row, col]), axis


def in_plane_direction(world_dir_lps, iop: np.ndarray) -> np.ndarray:
    """Unit (u, v) direction in the image plane (u along columns, v along rows)."""
    d = np.asarray(world_dir_lps, dtype=float)
    uv = np.array([d @ iop[:3], d @ iop[3:6]])
    return uv / max(np.linalg.norm(uv), 1e-9)


def nearest_pixels(distance: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Masks (len(counts), P) of the ``counts[t]`` pixels with the smallest distance."""
    rank = np.empty(distance.size, dtype=np.int32)
    rank[np.argsort(distance.ravel(), kind="stable")] = np.arange(distance.size, dtype=np.int32)
    return rank[None, :] < np.asarray(counts)[:, None]


def nearest_free_pixels(distance: np.ndarray, free: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per frame, the ``counts[t]`` pixels nearest by ``distance`` among ``free[t]``."""
    order = np.argsort(distance.ravel(), kind="stable")
    cand = free[:, order]
    chosen = cand & (np.cumsum(cand, axis=1) <= np.asarray(counts)[:, None])
    out = np.zeros_like(free)
    out[:, order] = chosen
    return out


def elliptic_distance(du: np.ndarray, dv: np.ndarray, angle: float, ratio: float) -> np.ndarray:
    """Distance in a frame rotated by ``angle`` with axes stretched by sqrt(ratio)."""
    c, s = np.cos(angle), np.sin(angle)
    p, q = c * du + s * dv, -s * du + c * dv
    k = np.sqrt(ratio)
    return np.sqrt((p / k) ** 2 + (q * k) ** 2)

"""The training-free heart localiser (``segmentation.method: localise``).

For cines with neither labelled contours nor trained weights (UK Biobank ships no
short-axis contours), the heart is found from the cine alone:

1. **Motion.** The blood pools are the bright regions that change most over the
   cycle: each pixel's first temporal harmonic (amplitude of the cycle-long Fourier
   component; the cine covers one R-R interval) is large where blood and myocardium
   alternate, i.e. at the moving ventricular borders, and near zero for static
   tissue, fat, lungs and the atria above the base. A peak below ``min_motion`` (of
   the percentile-normalised intensity range) is a cine where nothing beats.
2. **The heart region.** The slice-averaged motion map is thresholded at
   ``motion_threshold`` of its peak, closed over ``merge_mm`` (the LV and RV borders
   are one heart), and its connected components within ``max_centre_offset`` of the
   image centre (CMR is planned with the heart at the isocentre) are candidates,
   scored by their summed motion. None: ``no_moving_region``; a runner-up scoring
   ``ambiguity_ratio`` of the best or more: ``several_candidates`` (a moving
   structure the localiser cannot tell from the heart, e.g. a wrapped or flow
   artefact). Both exclude the subject.
3. **Blood.** Inside the region, bright pixels (Otsu threshold over all frames) in
   connected components. The LV blood pool is the compact (roughly circular) moving
   bright component: per slice the best-scoring one over frames gives a seed, slices
   whose seed strays more than ``max_shift_mm`` from the stack's median are dropped
   (consistency across slices: a base slice's atrium or outflow tract), and in each
   frame the LV is the bright component at the slice's seed.
4. **Labels** in the project's convention, so the volume-curve rules and the
   ``crop`` rule run unchanged: 1 = the LV blood pool so found; 2 = a band
   ``wall_mm`` wide around it (a stand-in for the myocardium, so the heart box holds
   the wall; it is *not* a myocardial segmentation and no mass is derived from it);
   3 = the other moving bright components in the region (mostly the RV).

ED is the frame of largest LV area x slice spacing, ES the smallest (``phases``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .phases import LV_BLOOD_POOL, LV_MYOCARDIUM, RV_BLOOD_POOL


@dataclass(frozen=True)
class LocaliserParams:
    """Config ``segmentation.localise``."""

    motion_threshold: float = 0.3
    min_motion: float = 0.05
    merge_mm: float = 20.0
    max_centre_offset: float = 0.35
    ambiguity_ratio: float = 0.6
    min_compactness: float = 0.45
    max_shift_mm: float = 15.0
    wall_mm: float = 10.0
    percentiles: tuple[float, float] = (1.0, 99.0)

    @classmethod
    def from_config(cls, c: dict | None) -> "LocaliserParams":
        c = dict(c or {})
        if "percentiles" in c:
            c["percentiles"] = tuple(float(v) for v in c["percentiles"])
        return cls(**c)


def first_harmonic(image: np.ndarray) -> np.ndarray:
    """Amplitude of each pixel's first temporal harmonic, (x, y, z) of (x, y, z, t)."""
    nt = image.shape[3]
    if nt < 3:
        return np.zeros(image.shape[:3], np.float32)
    return (2.0 / nt * np.abs(np.fft.rfft(image, axis=3)[..., 1])).astype(np.float32)


def otsu(values: np.ndarray, bins: int = 128) -> float:
    """Otsu's threshold of a 1D sample (between-class variance maximised)."""
    hist, edges = np.histogram(values, bins=bins)
    mids = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(hist).astype(float)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * mids) / np.maximum(w0, 1)
    m1 = (np.sum(hist * mids) - np.cumsum(hist * mids)) / np.maximum(w1, 1)
    return float(mids[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


def blood_threshold(img: np.ndarray, moving: np.ndarray) -> float:
    """Midway between blood and myocardium as the moving pixels show them: such a
    pixel is blood at some frames (its maximum) and wall at others (its minimum).
    Static tissue and fat, whatever their brightness, do not set it."""
    if not moving.any():
        return otsu(img.ravel())
    blood = float(np.median(img.max(axis=3)[moving]))
    wall = float(np.median(img.min(axis=3)[moving]))
    return 0.5 * (blood + wall)


def _normalise(image: np.ndarray, percentiles) -> np.ndarray:
    lo, hi = np.percentile(image, percentiles)
    return np.clip((image - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)


def heart_region(motion_xy: np.ndarray, pix: np.ndarray, p: LocaliserParams, path: str = "") -> np.ndarray:
    """Boolean (x, y) mask of the one moving region near the centre (step 2)."""
    m = ndimage.gaussian_filter(motion_xy, sigma=3.0 / pix)
    if not np.isfinite(m).all() or m.max() < p.min_motion:
        raise InputError(path, "no_moving_region", f"peak first-harmonic amplitude {m.max():.3f} of the "
                         f"normalised cine < {p.min_motion}: nothing beats")
    r = np.maximum(np.rint(p.merge_mm / 2 / pix).astype(int), 1)
    closed = ndimage.binary_closing(m > p.motion_threshold * m.max(),
                                    structure=np.ones((2 * r[0] + 1, 2 * r[1] + 1), bool))
    comp, n = ndimage.label(closed)
    centre = (np.asarray(m.shape) - 1) / 2
    fov = np.asarray(m.shape) * pix
    candidates = []
    for c in range(1, n + 1):
        sel = comp == c
        offset = (np.asarray(ndimage.center_of_mass(sel)) - centre) * pix
        if np.all(np.abs(offset) <= p.max_centre_offset * fov):
            candidates.append((float(m[sel].sum()), c))
    if not candidates:
        raise InputError(path, "no_moving_region",
                         f"no moving region within {p.max_centre_offset:.0%} of the field of view of the centre")
    candidates.sort(reverse=True)
    if len(candidates) > 1 and candidates[1][0] >= p.ambiguity_ratio * candidates[0][0]:
        raise InputError(path, "several_candidates",
                         f"{len(candidates)} moving regions near the centre; the runner-up has "
                         f"{candidates[1][0] / candidates[0][0]:.0%} of the best one's motion")
    grow = np.maximum(np.rint(p.wall_mm / pix).astype(int), 1)
    return ndimage.binary_dilation(comp == candidates[0][1],
                                   structure=np.ones((2 * grow[0] + 1, 2 * grow[1] + 1), bool))


def _components(mask: np.ndarray, motion: np.ndarray, pix: np.ndarray):
    """(label image, [(id, area px, compactness, mean motion, centroid mm)]) of a 2D mask."""
    comp, n = ndimage.label(mask)
    if n == 0:
        return comp, []
    idx = np.arange(1, n + 1)
    area = ndimage.sum_labels(np.ones_like(motion), comp, idx)
    mot = ndimage.mean(motion, comp, idx)
    cents = np.asarray(ndimage.center_of_mass(mask, comp, idx)).reshape(n, 2)
    xx, yy = np.indices(mask.shape)
    out = []
    for k, c in enumerate(idx):
        sel = comp == c
        d2 = ((xx[sel] - cents[k, 0]) * pix[0]) ** 2 + ((yy[sel] - cents[k, 1]) * pix[1]) ** 2
        # area over the disc reaching its farthest pixel: 1 for a disc, low for a crescent or ring
        compact = area[k] * pix[0] * pix[1] / (np.pi * max(d2.max(), 0.25 * pix.min() ** 2) + 1e-9)
        out.append((int(c), float(area[k]), float(min(compact, 1.0)), float(mot[k]), cents[k] * pix))
    return comp, out


def localise_cine(image: np.ndarray, affine: np.ndarray, params: LocaliserParams | dict | None = None,
                  path: str = "") -> np.ndarray:
    """Labels (x, y, z, t) uint8 of a cine (x, y, z, t), see the module docstring;
    raises ``InputError`` (no_moving_region, several_candidates, no_heart_found)."""
    p = params if isinstance(params, LocaliserParams) else LocaliserParams.from_config(params)
    nx, ny, nz, nt = image.shape
    pix = np.linalg.norm(np.asarray(affine, float)[:3, :2], axis=0)
    img = _normalise(image, p.percentiles)
    motion = first_harmonic(img)                                     # (x, y, z)
    region = heart_region(motion.mean(axis=2), pix, p, path)
    floor = p.motion_threshold * float(motion[region].max())         # a moving pixel
    thr = blood_threshold(img, motion >= floor)
    # a moving component: its mean over the pool, whose core is blood in every frame,
    # is well below the motion at its borders
    floor = 0.5 * floor
    bright = (img > thr) & region[:, :, None, None]

    # per slice, a seed for the LV: the best compact moving bright component over frames
    seeds = np.full((nz, 2), np.nan)
    for z in range(nz):
        best = (0.0, None)
        for t in range(nt):
            _, comps = _components(bright[:, :, z, t], motion[:, :, z], pix)
            for _, area, compact, mot, cent in comps:
                score = compact * mot * area
                if compact >= p.min_compactness and mot >= floor and score > best[0]:
                    best = (score, cent)
        if best[1] is not None:
            seeds[z] = best[1]
    found = ~np.isnan(seeds[:, 0])
    if not found.any():
        raise InputError(path, "no_heart_found", "no compact moving bright region (LV blood pool) in any slice")
    median = np.median(seeds[found], axis=0)
    consistent = found & (np.linalg.norm(seeds - median, axis=1) <= p.max_shift_mm)

    labels = np.zeros(image.shape, np.uint8)
    for z in np.flatnonzero(consistent):
        for t in range(nt):
            comp, comps = _components(bright[:, :, z, t], motion[:, :, z], pix)
            if not comps:
                continue
            dist = [np.linalg.norm(c[4] - seeds[z]) for c in comps]
            k = int(np.argmin(dist))
            lv = comp == comps[k][0] if dist[k] <= p.max_shift_mm else np.zeros_like(region)
            others = [c[0] for j, c in enumerate(comps) if j != k and c[3] >= floor]
            lab = labels[:, :, z, t]
            lab[np.isin(comp, others)] = RV_BLOOD_POOL
            if lv.any():
                band = ndimage.distance_transform_edt(~lv, sampling=pix) <= p.wall_mm
                lab[band & ~lv & (lab == 0)] = LV_MYOCARDIUM
                lab[lv] = LV_BLOOD_POOL
    return labels

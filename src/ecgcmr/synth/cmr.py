"""Synthetic short-axis cines rendered from the latent physiology, written as UK Biobank
field-20209 zips, with the ground-truth label map on the ingested cine's grid.

Labels: 0 background, 1 LV blood pool, 2 LV myocardium, 3 RV blood pool.
Anatomy and its volume bookkeeping: :mod:`ecgcmr.synth.cmr_anatomy`.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from ..io.dicom_cine import CineGeometry, cine_affine, format_ds
from ..io.ukb_cmr_zip_write import SeriesSpec, write_cmr_zip
from . import cmr_anatomy as A

LV_BLOOD, LV_MYO, RV_BLOOD = 1, 2, 3
# RV lies to the right of and in front of the LV; lungs to either side (LPS directions)
RV_DIRECTION_LPS = (-1.0, -0.9, 0.25)
LEFT_LPS = (1.0, 0.0, 0.0)


def _q(values) -> np.ndarray:
    """Round to what the DICOM DS text will hold, so truth and ingest agree exactly."""
    return np.array([float(format_ds(v)) for v in np.ravel(values)]).reshape(np.shape(values))


def render_cine(row, cfg: dict, rng: np.random.Generator):
    """Render one subject's cine from a row of ``sample_cohort``.

    Returns ``image`` float32 (x, y, z, t) in scanner units, ``labels`` uint8 (x, y, z, t)
    and the :class:`CineGeometry` (slices already in stack order along the normal).
    """
    n, ps = int(cfg["matrix"]), float(cfg["pixel_spacing_mm"])
    nz, nt = int(cfg["n_slices"]), int(cfg["n_frames"])
    thickness, spacing = float(cfg["slice_thickness_mm"]), float(cfg["slice_thickness_mm"]) + float(cfg["slice_gap_mm"])
    ed, es = int(row.ed_frame), int(row.es_frame)
    if not (0 <= ed < nt and 0 <= es < nt and 0 < (es - ed) % nt < nt - 1):
        raise ValueError(f"ED/ES frames {ed}/{es} do not fit a {nt}-frame cine; sample the cohort "
                         "with n_frames equal to synth.cmr.n_frames")
    lv_curve = np.roll(A.volume_curve(row.LVDV, row.LVESV, (es - ed) % nt, nt), ed)
    rv_curve = np.roll(A.volume_curve(row.RVDV, row.RVESV, (es - ed) % nt, nt), ed)

    # --- geometry: oblique short-axis stack running base -> apex, heart placed at random
    iop, axis = A.oblique_short_axis(rng)
    iop = _q(iop)
    length = A.long_axis_length(row.LVDV, row.LVMM, row.LVMT, lo=45.0, hi=(nz - 1.6) * spacing)
    s = -spacing * rng.uniform(0.3, 0.9) + spacing * np.arange(nz)   # slice centres, 0 = base
    fov = n * ps
    u0, v0 = fov * (0.5 + rng.uniform(-0.1, 0.1, 2))
    centre = rng.normal(0, 15, 3)
    ipp = np.stack([centre + sk * axis - u0 * iop[:3] - v0 * iop[3:6] for sk in s])
    geometry = CineGeometry(iop, _q(ipp), (ps, ps), n, n, thickness, spacing)
    # labels are built in this slice order, which must be the reader's (along the normal)
    assert np.all(np.diff(geometry.positions_along_normal()) > 0)

    # --- per-slice pixel counts: cavity areas from the volume curves, constant myocardium
    px = ps * ps
    lv_prof = A.cavity_profile(s, length)
    rv_prof = A.cavity_profile(s, 0.85 * length)
    lv_area = A.slice_areas(lv_curve, lv_prof, spacing)              # (t, z) mm^2
    rv_area = A.slice_areas(rv_curve, rv_prof, spacing)
    r_ed = np.sqrt(lv_area[ed] / np.pi)
    ring = np.where(lv_prof > 0, np.pi * ((r_ed + row.LVMT) ** 2 - r_ed ** 2), 0.0)
    myo_ml = row.LVMM / A.MYOCARDIUM_DENSITY
    ring *= myo_ml * A.ML / max(ring.sum() * spacing, 1e-9)           # mass as the latent says
    n_cav = np.rint(lv_area / px).astype(int)
    n_rv = np.rint(rv_area / px).astype(int)
    n_myo = np.rint(ring / px).astype(int)

    # --- subject appearance
    blood = rng.uniform(350, 700)
    myo_i, tissue_i = blood * rng.uniform(0.15, 0.25), blood * rng.uniform(0.4, 0.55)
    lung_i, fat_i = blood * 0.06, blood * rng.uniform(0.7, 0.85)
    n_fat = np.rint(np.pi * ((np.sqrt((n_cav[ed] + n_myo) * px / np.pi) + 2.5) ** 2) / px).astype(int) - n_cav[ed] - n_myo
    uu, vv = np.meshgrid(np.arange(n) * ps, np.arange(n) * ps, indexing="ij")   # (x, y) mm
    texture = ndimage.zoom(rng.normal(0, 1, (6, 6)), n / 6, order=1)[:n, :n]
    body = ((uu - fov / 2) / (0.47 * fov)) ** 2 + ((vv - fov / 2) / (0.40 * fov)) ** 2 < 1
    left = A.in_plane_direction(LEFT_LPS, iop)
    rv_dir = A.in_plane_direction(RV_DIRECTION_LPS, iop)
    rv_angle = np.arctan2(rv_dir[1], rv_dir[0]) + rng.normal(0, 0.15)
    rv_dir = np.array([np.cos(rv_angle), np.sin(rv_angle)])
    lv_angle, lv_ratio = rng.uniform(0, np.pi), rng.uniform(1.0, 1.15)
    drift = rng.normal(0, 0.8, 2)                                      # mm per slice

    # built as (z, t, x, y) so every per-slice write and the in-plane blur run on
    # contiguous memory; transposed to (x, y, z, t) once at the end
    image = np.empty((nz, nt, n, n), np.float32)
    labels = np.zeros((nz, nt, n, n), np.uint8)
    for k in range(nz):
        cu, cv = u0 + k * drift[0], v0 + k * drift[1]
        du, dv = uu - cu, vv - cv
        static = np.where(body, tissue_i * (1 + 0.12 * texture), 0.0).astype(np.float32)
        for side in (-1, 1):                                           # lungs beside the heart
            lc = np.array([cu, cv]) + side * 62 * left
            static[A.elliptic_distance(uu - lc[0], vv - lc[1], rv_angle, 0.5) < 34] = lung_i
        d_lv = A.elliptic_distance(du, dv, lv_angle, lv_ratio)
        cav = A.nearest_pixels(d_lv, n_cav[:, k])
        epi = A.nearest_pixels(d_lv, n_cav[:, k] + n_myo[k])
        fat = A.nearest_pixels(d_lv, n_cav[:, k] + n_myo[k] + n_fat[k])
        r_epi = np.sqrt((n_cav[ed, k] + n_myo[k]) * px / np.pi)
        rc = rv_dir * (0.75 * r_epi + 5)
        d_rv = A.elliptic_distance(du - rc[0], dv - rc[1], rv_angle, 0.35)
        rv = A.nearest_free_pixels(d_rv, ~epi, n_rv[:, k])
        lab = labels[k].reshape(nt, n * n)
        lab[epi] = LV_MYO
        lab[cav] = LV_BLOOD
        lab[rv] = RV_BLOOD
        img = image[k].reshape(nt, n * n)
        img[:] = static.ravel()
        img[fat & (lv_prof[k] > 0)] = fat_i                            # epicardial fat rim
        img[epi] = myo_i
        img[cav | rv] = blood
        if s[k] < 0:   # above the base: atrium / outflow tract, blood but not ventricle
            atrium = A.nearest_pixels(d_lv, [int(0.6 * n_cav[ed].max())])[0]
            img[:, atrium] = blood * 0.9

    image = ndimage.gaussian_filter(image, sigma=(0, 0, 0.6, 0.6), truncate=2.5)  # partial volume
    sigma = float(cfg.get("noise", 0.05)) * blood
    if sigma > 0:   # magnitude images: Rician noise
        n1 = rng.standard_normal(image.shape, dtype=np.float32)
        n2 = rng.standard_normal(image.shape, dtype=np.float32)
        n1 *= sigma
        n1 += image
        n2 *= sigma
        image = np.sqrt(n1 * n1 + n2 * n2)
    image = np.ascontiguousarray(image.transpose(2, 3, 0, 1))
    labels = np.ascontiguousarray(labels.transpose(2, 3, 0, 1))
    return image.astype(np.float32), labels, geometry


def trigger_times_ms(row, n_frames: int) -> tuple[np.ndarray, float]:
    rr = 60000.0 / float(row.hr_bpm)
    return np.round(np.arange(n_frames) * rr / n_frames, 2), rr


def write_subject_cmr(row, zip_path: str | Path, label_path: str | Path, cfg: dict, seed: int) -> None:
    """Render one subject and write its UKB zip and its ground-truth label NIfTI (on the
    grid and affine that :func:`ecgcmr.io.ukb_cmr_zip.read_cmr_zip` gives the zip).

    ``cfg`` is ``config["synth"]["cmr"]``; optional ``quirks`` (probability per subject
    of: ``inline_vf`` derived series, ``repeat_slice`` re-acquired slice, ``mixed_series``
    one series for all slices) and ``zip_compression`` (deflated|stored).
    """
    rng = np.random.default_rng([int(seed), int(row.eid)])
    image, labels, geometry = render_cine(row, cfg, rng)
    stored = np.clip(np.rint(image), 0, 4095).astype(np.uint16)
    nt = stored.shape[-1]
    times, rr = trigger_times_ms(row, nt)
    quirks = {k: rng.random() < float(p) for k, p in sorted((cfg.get("quirks") or {}).items())}
    series = _series_layout(stored, geometry, int(row.ed_frame), int(row.es_frame), quirks, rng)
    uid_root = f"2.25.{int(rng.integers(10**17, 10**18))}"
    n_members = sum(len(sp.ipp) * (sp.frames[0].shape[-1]) for sp in series)
    write_cmr_zip(zip_path, str(row.eid), series, geometry, times, rr, uid_root,
                  compression=str(cfg.get("zip_compression", "deflated")),
                  member_order=rng.permutation(n_members))
    # the frame interval as the reader will derive it from the TriggerTimes
    write_labels(labels, geometry, float(np.median(np.diff(times))) if nt > 1 else rr, label_path)


def write_labels(labels: np.ndarray, geometry: CineGeometry, frame_ms: float, path: str | Path) -> None:
    img = nib.Nifti1Image(labels.astype(np.uint8), cine_affine(geometry))
    img.header.set_xyzt_units("mm", "msec")
    img.header.set_zooms(img.header.get_zooms()[:3] + (float(frame_ms),))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.to_filename(str(path))


def _series_layout(stored: np.ndarray, g: CineGeometry, ed: int, es: int, quirks: dict,
                   rng: np.random.Generator) -> list[SeriesSpec]:
    nz, nt = stored.shape[2], stored.shape[3]
    slices = [stored[:, :, k, :] for k in range(nz)]
    if quirks.get("mixed_series"):
        series = [SeriesSpec("CINE_segmented_SAX", 20, "121030.000000", list(g.ipp), slices)]
    else:
        series = [SeriesSpec(f"CINE_segmented_SAX_b{k + 1}", 20 + k, f"12{10 + k:02d}30.000000",
                             [g.ipp[k]], [slices[k]]) for k in range(nz)]
        if quirks.get("repeat_slice"):
            # the first try was spoiled (breath-hold drift: shifted, ghosted); the
            # re-acquisition, later in time and series number, holds the truth
            r = int(rng.integers(0, nz))
            spoiled = np.clip(np.roll(slices[r], 4, axis=1) * 0.7 + np.roll(slices[r], -9, axis=1) * 0.3,
                              0, 4095).astype(np.uint16)
            series[r].frames = [spoiled]
            series.append(SeriesSpec(f"CINE_segmented_SAX_b{r + 1}", 20 + nz, f"12{10 + nz:02d}30.000000",
                                     [g.ipp[r]], [slices[r]]))
    if quirks.get("inline_vf"):
        # scanner-derived series at the same positions (ED and ES only, contours burned in)
        burned = [np.clip(sl[:, :, [ed, es]].astype(np.int32) + 800, 0, 4095).astype(np.uint16) for sl in slices]
        series.append(SeriesSpec("CINE_segmented_SAX_InlineVF", 20 + nz + 1, f"12{11 + nz:02d}30.000000",
                                 list(g.ipp), burned, derived=True,
                                 trigger_index=[np.array([ed, es])] * nz))
    return series

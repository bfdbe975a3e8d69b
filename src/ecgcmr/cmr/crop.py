"""The ``crop`` rule: per subject the encoders' inputs, cut around the heart (paper 2.1).

For each subject, from the cine and its predicted label map:

* **Six central slices.** The LV's centre slice is the LV-area-weighted mean slice
  index at ED (LV = blood pool + myocardium, area = voxel count per slice), a real
  number ``zc``. The window is the ``n_slices`` contiguous slices whose centre
  (``start + (n-1)/2``) is nearest ``zc``: ``start = floor(zc - (n-1)/2 + 0.5)``,
  clipped into the stack. ED and ES use the *same* slices, so the two phases show the
  same anatomy and differ only by contraction.
* **One in-plane box per subject** around the heart (LV, myocardium, RV) over those
  slices and *all* frames, so the box holds the heart at every phase and all views
  share it; dilated by ``margin_mm`` on each side (converted to voxels per axis) and
  clipped to the image.
* Optional in-plane resampling to ``spacing_mm`` (bilinear; slice spacing kept),
  **per-volume intensity normalisation** (percentiles ``intensity_percentiles`` of the
  cropped volume mapped to [0, 1], clipped: scanner intensities are arbitrary units)
  and then **zero padding** (or centre cropping, flagged ``box_truncated``) to
  ``shape``; padded voxels are 0, the darkest normalised value.

Files (float32 NIfTI, affine = the cine's affine composed with the crop/resample, so a
crop voxel maps to the same world position as in the cine):
``{eid}_ED`` / ``{eid}_ES`` (H, W, 6); ``{eid}_2D`` (H, W), the ED frame of the window
slice nearest ``zc`` (mid-ventricular); ``{eid}_2DT`` (H, W, 1, T), that slice over all
frames (4D as NIfTI defines time as the 4th axis, so the affine stays spatial).
The crop geometry is MONAI's (``SpatialCrop``, ``Spacing``, ``ResizeWithPadOrCrop`` on
``MetaTensor``s, which carry the affine through every step).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import torch
from monai.data import MetaTensor
from monai.transforms import ResizeWithPadOrCrop, ScaleIntensityRangePercentiles, Spacing, SpatialCrop

from .. import exclusions
from ..errors import InputError
from ..integrity import verify_file
from .phases import LV_BLOOD_POOL, LV_MYOCARDIUM
from .segment import read_cine

log = logging.getLogger(__name__)
STAGE = "crop"
CROP_KINDS = ("ED", "ES", "2D", "2DT")


def lv_centre_slice(labels_ed: np.ndarray) -> float:
    """LV-area-weighted mean slice index of an ED label volume (x, y, z)."""
    area = np.isin(labels_ed, (LV_BLOOD_POOL, LV_MYOCARDIUM)).sum(axis=(0, 1)).astype(float)
    if area.sum() == 0:
        raise InputError(None, "no_heart_found", "no LV voxels at ED")
    return float((area * np.arange(area.size)).sum() / area.sum())


def slice_window(zc: float, n_slices_total: int, n: int) -> int:
    """First slice of the ``n`` contiguous slices centred nearest ``zc``."""
    if n_slices_total < n:
        raise InputError(None, "too_few_slices", f"{n_slices_total} slices < {n}")
    return int(min(max(math.floor(zc - (n - 1) / 2 + 0.5), 0), n_slices_total - n))


def heart_box(labels: np.ndarray, heart_labels, margin_vox: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1), end-exclusive: the heart's in-plane bounding box over all
    slices and frames of ``labels`` (x, y, ...), dilated and clipped to the image."""
    fg = np.isin(labels, heart_labels).reshape(labels.shape[0], labels.shape[1], -1).any(axis=2)
    if not fg.any():
        raise InputError(None, "no_heart_found", "no heart labels in the selected slices")
    xs, ys = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    mx, my = margin_vox
    return (max(int(xs[0]) - mx, 0), min(int(xs[-1]) + 1 + mx, labels.shape[0]),
            max(int(ys[0]) - my, 0), min(int(ys[-1]) + 1 + my, labels.shape[1]))


def crop_volume(data: np.ndarray, affine: np.ndarray, box, spacing_mm: float | None, shape,
                percentiles) -> tuple[np.ndarray, np.ndarray]:
    """Crop (x, y, k) to ``box``, resample in-plane, normalise, pad/crop to ``shape``
    (H, W); k (slices or frames) is untouched. Returns (H, W, k) float32 and its affine."""
    x0, x1, y0, y1 = box
    img = MetaTensor(torch.from_numpy(np.ascontiguousarray(data[None], np.float32)),
                     affine=torch.as_tensor(affine, dtype=torch.float64))
    img = SpatialCrop(roi_start=(x0, y0, 0), roi_end=(x1, y1, data.shape[2]))(img)
    if spacing_mm:
        img = Spacing(pixdim=(spacing_mm, spacing_mm, -1), mode="bilinear", padding_mode="zeros")(img)
    img = ScaleIntensityRangePercentiles(*percentiles, 0.0, 1.0, clip=True)(img)
    img = ResizeWithPadOrCrop((int(shape[0]), int(shape[1]), -1), mode="constant")(img)
    return np.asarray(img.array[0], np.float32), np.asarray(img.affine, float)


def _substack_affine(affine: np.ndarray, z: int) -> np.ndarray:
    """Affine of the slices from ``z`` on: the origin moves ``z`` slice steps."""
    shift = np.eye(4)
    shift[2, 3] = z
    return affine @ shift


def _save(array: np.ndarray, affine: np.ndarray, path: Path) -> str:
    img = nib.Nifti1Image(array.astype(np.float32), affine)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, path)
    return str(path)


def crop_subject(eid: str, cine_path: str, mask_path: str, ed: int, es: int, out_dir: str | Path,
                 params: dict) -> dict:
    """Write the four crops (``CROP_KINDS``) of one subject; returns its crop-index row."""
    image, affine = read_cine(cine_path)
    try:
        labels = np.asarray(nib.load(mask_path).dataobj, np.uint8)
    except Exception as e:
        raise InputError(mask_path, "unreadable_nifti", f"{type(e).__name__}: {e}") from e
    labels = labels.reshape(labels.shape + (1,) * (4 - labels.ndim))
    if labels.shape != image.shape:
        raise InputError(mask_path, "mask_grid_mismatch", f"mask {labels.shape} vs cine {image.shape}")
    n, shape, spacing = int(params["n_slices"]), params["shape"], params.get("spacing_mm")
    pct = tuple(params["intensity_percentiles"])
    try:
        zc = lv_centre_slice(labels[..., ed])
        z0 = slice_window(zc, image.shape[2], n)
        zs = slice(z0, z0 + n)
        pix = np.linalg.norm(affine[:3, :2], axis=0)
        margin = tuple(int(math.ceil(params["margin_mm"] / p)) for p in pix)
        box = heart_box(labels[:, :, zs], params["heart_labels"], margin)
    except InputError as e:
        raise InputError(cine_path, e.reason, e.detail) from e
    mid = int(min(max(math.floor(zc + 0.5), z0), z0 + n - 1))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    row = {"eid": eid, "ed_frame": ed, "es_frame": es, "z_start": z0, "mid_slice": mid,
           "n_frames": image.shape[3], "box_x0": box[0], "box_x1": box[1], "box_y0": box[2], "box_y1": box[3]}
    for kind, frame in (("ED", ed), ("ES", es)):
        arr, aff = crop_volume(image[:, :, zs, frame], _substack_affine(affine, z0), box, spacing, shape, pct)
        row[f"path_{kind}"] = _save(arr, aff, out_dir / f"{eid}_{kind}.nii.gz")
    arr, aff = crop_volume(image[:, :, mid:mid + 1, ed], _substack_affine(affine, mid), box, spacing, shape, pct)
    row["path_2D"] = _save(arr[:, :, 0], aff, out_dir / f"{eid}_2D.nii.gz")
    arr, aff = crop_volume(image[:, :, mid, :], _substack_affine(affine, mid), box, spacing, shape, pct)
    row["path_2DT"] = _save(arr[:, :, None, :], aff, out_dir / f"{eid}_2DT.nii.gz")
    scale = (pix / spacing) if spacing else np.ones(2)
    row["box_truncated"] = bool((box[1] - box[0]) * scale[0] > shape[0] + 1e-6
                                or (box[3] - box[2]) * scale[1] > shape[1] + 1e-6)
    if row["box_truncated"]:
        log.warning("%s: heart box larger than the crop shape %s; centre-cropped", eid, shape)
    return row


def crop_shard(seg_shard: str, cmr_index: str, out_dir: str, out_shard: str, out_exclusions: str,
               params: dict, skip_csv: str | None = None) -> pd.DataFrame:
    """The ``crop`` rule for one shard: every subject of the seg table → crops + index.
    Subjects in the exclusions table ``skip_csv`` (seg_agreement's, when it excludes)
    are left out; that table already lists them with their reason."""
    seg = pd.read_parquet(seg_shard, columns=["eid", "ed_frame", "es_frame", "mask_path"])
    if skip_csv:
        seg = seg[~seg["eid"].astype(str).isin(set(exclusions.read(skip_csv)["eid"]))]
    index = pd.read_parquet(cmr_index)
    cines = dict(zip(index["eid"].astype(str), index["path"]))
    digests = dict(zip(index["eid"].astype(str), index["sha256"])) if "sha256" in index else {}
    rows, excluded = [], []
    t0 = time.perf_counter()
    for r in seg.itertuples(index=False):
        eid = str(r.eid)
        try:
            if eid not in cines:
                raise InputError(cmr_index, "missing_cine", "segmented subject absent from the CMR index")
            verify_file(cines[eid], digests.get(eid))
            rows.append(crop_subject(eid, cines[eid], r.mask_path, int(r.ed_frame), int(r.es_frame),
                                     out_dir, params))
        except InputError as e:
            log.warning("%s excluded: %s", eid, e)
            excluded.append(exclusions.Exclusion.from_error(eid, STAGE, e))
    log.info("crop: %d subjects, %d excluded, %.1f s", len(rows), len(excluded), time.perf_counter() - t0)
    df = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    Path(out_shard).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out_shard, index=False)
    exclusions.write(excluded, out_exclusions)
    return df


INDEX_COLUMNS = ("eid", "ed_frame", "es_frame", "z_start", "mid_slice", "n_frames", "box_x0", "box_x1",
                 "box_y0", "box_y1", "path_ED", "path_ES", "path_2D", "path_2DT", "box_truncated")


def gather_crop_index(shards: list[str], out: str) -> pd.DataFrame:
    """The ``crop_index`` rule: per-shard crop indexes → ``cmr/crops.parquet``."""
    df = pd.concat([pd.read_parquet(s) for s in shards], ignore_index=True) if shards else \
        pd.DataFrame(columns=list(INDEX_COLUMNS))
    df = df.astype({"eid": "string"}).sort_values("eid", kind="stable").reset_index(drop=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out, index=False)
    log.info("crop index: %d subjects", len(df))
    return df

"""The ``segment`` rule: every frame of every slice through the segmenter, LV/RV volume
curves, ED/ES frames, and the exclusions of implausible curves (see ``phases``).

Output per shard: ``seg/shard_{shard}.parquet`` with ``eid, ed_frame, es_frame,
lv_volume_ml, rv_volume_ml`` (lists, one value per frame), ``lvedv_ml, lvesv_ml,
lvef`` (percent), ``rvedv_ml, rvesv_ml``, ``n_slices, n_frames`` and ``mask_path``
(``seg/masks/{eid}.nii.gz``: predicted labels on the cine's grid and affine).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from scipy import ndimage

from .. import exclusions
from ..errors import InputError
from ..integrity import verify_file
from ..ids import shard_of
from .phases import LV_BLOOD_POOL, LV_MYOCARDIUM, RV_BLOOD_POOL, CurveRules, check_curve, phase_summary, volume_curve
from ..core.device import resolve_device
from .localise import LocaliserParams, localise_cine
from .resample import back_to_grid, to_spacing
from .segmenter import normalise, predict_labels
from .weights import load_weights

log = logging.getLogger(__name__)
STAGE = "segment"

SCHEMA = pa.schema([
    ("eid", pa.string()), ("ed_frame", pa.int16()), ("es_frame", pa.int16()),
    ("lv_volume_ml", pa.list_(pa.float32())), ("rv_volume_ml", pa.list_(pa.float32())),
    ("lvedv_ml", pa.float32()), ("lvesv_ml", pa.float32()), ("lvef", pa.float32()),
    ("rvedv_ml", pa.float32()), ("rvesv_ml", pa.float32()),
    ("n_slices", pa.int16()), ("n_frames", pa.int16()), ("mask_path", pa.string()),
])


def read_cine(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(x, y, z, t) float32 image and its affine; a 2D or 3D file becomes 4D with
    singleton axes, so a single slice or frame is judged by the curve rules (too few
    slices/frames) rather than failing on its shape."""
    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj, np.float32)
    except Exception as e:  # nibabel raises many types for damaged files
        raise InputError(path, "unreadable_nifti", f"{type(e).__name__}: {e}") from e
    if data.ndim < 2 or data.ndim > 4:
        raise InputError(path, "bad_shape", f"image has {data.ndim} dimensions, expected 2-4")
    data = data.reshape(data.shape + (1,) * (4 - data.ndim))
    if not np.isfinite(data).all():
        raise InputError(path, "non_finite", "image contains NaN or infinite values")
    return data, np.asarray(img.affine, float)


def keep_largest_components(labels: np.ndarray) -> np.ndarray:
    """Per frame, the largest 3D connected component of each class: a blood pool is
    one connected chamber, so isolated specks elsewhere (vessels, stomach) are false
    positives that would inflate the volume curve. scipy's ``ndimage.label`` rather
    than MONAI's ``KeepLargestConnectedComponent``, which needs scikit-image (not a
    dependency of this project) for the same labelling."""
    out = labels.copy()
    for t in range(labels.shape[3]):
        for c in (LV_BLOOD_POOL, LV_MYOCARDIUM, RV_BLOOD_POOL):
            comp, n = ndimage.label(labels[..., t] == c)
            if n > 1:
                largest = 1 + int(np.argmax(np.bincount(comp.ravel())[1:]))
                out[..., t][(comp > 0) & (comp != largest)] = 0
    return out


def segment_cine(model: torch.nn.Module, image: np.ndarray, percentiles, batch_size: int = 64,
                 device: str = "cpu", divisor: int = 8, largest_component: bool = True,
                 patch: int = 0) -> np.ndarray:
    """Labels (x, y, z, t) uint8 of a cine: each (slice, frame) a 2D image, padded to
    at least the training ``patch`` as in training (see ``predict_labels``)."""
    nx, ny, nz, nt = image.shape
    flat = normalise(image, percentiles).transpose(2, 3, 0, 1).reshape(nz * nt, nx, ny)
    labels = predict_labels(model, flat, batch_size, device, divisor, min_size=patch)
    labels = labels.reshape(nz, nt, nx, ny).transpose(2, 3, 0, 1)
    return keep_largest_components(labels) if largest_component else np.ascontiguousarray(labels)


def cine_labels(model, arch: dict, image: np.ndarray, affine: np.ndarray, params: dict, device: str,
                path: str = "") -> np.ndarray:
    """Labels (x, y, z, t) on the cine's own grid: the localiser's (``model`` None) or
    the net's, at the net's in-plane spacing (``arch["spacing_mm"]``) and back."""
    if model is None:  # segmentation.method: localise
        return localise_cine(image, affine, params.get("localise"), path)
    # absent from weights saved before the spacing was recorded: the cine's own
    net_image, net_affine = to_spacing(image, affine, arch.get("spacing_mm"), "bilinear")
    labels = segment_cine(model, net_image, arch["intensity_percentiles"], params["batch_size"], device,
                          int(np.prod(arch["strides"])), params["largest_component"],
                          # absent from weights saved before the patch was recorded
                          patch=int(arch.get("patch") or 0))
    return back_to_grid(labels, net_affine, affine, image.shape) if arch.get("spacing_mm") else labels


def segment_subject(model, arch: dict, eid: str, cine_path: str, mask_dir: str | Path,
                    rules: CurveRules, params: dict, device: str) -> dict:
    """One seg-table row; raises ``InputError`` for a subject to exclude."""
    image, affine = read_cine(cine_path)
    if image.shape[2] < rules.min_slices:  # checked before inference: nothing to segment
        check_curve(np.zeros(image.shape[3]), image.shape[2], rules, cine_path)
    labels = cine_labels(model, arch, image, affine, params, device, cine_path)
    lv, rv = volume_curve(labels, LV_BLOOD_POOL, affine), volume_curve(labels, RV_BLOOD_POOL, affine)
    check_curve(lv, image.shape[2], rules, cine_path)
    mask_path = Path(mask_dir, f"{eid}.nii.gz")
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    out = nib.Nifti1Image(labels, affine)
    out.set_data_dtype(np.uint8)
    nib.save(out, mask_path)
    return {"eid": eid, **phase_summary(lv, rv), "lv_volume_ml": lv.astype(np.float32).tolist(),
            "rv_volume_ml": rv.astype(np.float32).tolist(), "n_slices": image.shape[2],
            "n_frames": image.shape[3], "mask_path": str(mask_path)}


def segment_shard(cmr_index: str, shard: int, n_shards: int, model_path: str, out_shard: str,
                  out_exclusions: str, mask_dir: str, params: dict) -> pd.DataFrame:
    """The ``segment`` rule for one shard of the CMR index. ``model_path`` None (or
    ``params["method"] == "localise"``): the training-free localiser (``localise``)."""
    if params.get("threads"):
        torch.set_num_threads(int(params["threads"]))
    device = resolve_device(params.get("device", "auto"))
    if params.get("method", "unet") == "localise" or model_path is None:
        model, arch = None, {}
        LocaliserParams.from_config(params.get("localise"))  # a bad key fails here, not per subject
        log.warning("segment shard %d: heart boxes and ED/ES come from the training-free localiser "
                    "(segmentation.method: localise, or auto without weights or a labelled set)", shard)
    else:
        model, arch = load_weights(model_path, device, params.get("fallback_arch"))
    rules = CurveRules.from_config(params["qc"])
    index = pd.read_parquet(cmr_index)
    index = index[[shard_of(e, n_shards) == shard for e in index["eid"].astype(str)]]
    rows, excluded = [], []
    t0 = time.perf_counter()
    digests = index["sha256"] if "sha256" in index else [None] * len(index)
    for eid, path, digest in zip(index["eid"].astype(str), index["path"], digests):
        try:
            verify_file(path, digest)   # a cine changed since ingest is not segmented
            rows.append(segment_subject(model, arch, eid, path, mask_dir, rules, params, device))
        except InputError as e:
            log.warning("%s excluded: %s", eid, e)
            excluded.append(exclusions.Exclusion.from_error(eid, STAGE, e))
        # a cine no check foresaw (a real scan the localiser has never met) must not
        # stop the cohort: the subject is excluded with the error, the traceback logged
        except Exception as e:  # noqa: BLE001
            log.exception("%s: unexpected error segmenting %s", eid, path)
            excluded.append(exclusions.Exclusion(eid, STAGE, "segment_error", f"{type(e).__name__}: {e}", str(path)))
    log.info("segment shard %d: %d subjects, %d excluded, %.1f s on %s", shard, len(rows),
             len(excluded), time.perf_counter() - t0, device)
    df = pd.DataFrame(rows, columns=SCHEMA.names)
    Path(out_shard).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, schema=SCHEMA, preserve_index=False), out_shard)
    exclusions.write(excluded, out_exclusions)
    return df

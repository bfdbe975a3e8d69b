"""The heart segmenter: a 2D MONAI U-Net over short-axis cine frames, its labelled
slices, save/load and inference (its training is ``ecgcmr.train.segmenter``).

Why ``monai.networks.nets.UNet`` with residual units: UK Biobank short-axis
segmentation is solved to inter-observer level by plain 2D fully-convolutional
U-Nets applied slice by slice (Bai et al. 2018, the pipeline behind the UKB
phenotypes the paper regresses), so a deeper or 3D net buys nothing for cropping and
ED/ES selection, while a 2D net handles any number of slices and the 10 mm
slice spacing without resampling. MONAI's UNet is that architecture with typed
constructor arguments (channels, strides, residual units), so the demo size and a
UKB size are two rows of config. For a labelled set of thousands of UKB subjects,
``DynUNet`` (nnU-Net) is the drop-in upgrade; the training code does not change.

Classes: 0 background, 1 LV blood pool, 2 LV myocardium, 3 RV blood pool (the UKB
convention of Bai et al. and of the synthetic ground truth). Held-out Dice is MONAI's
``DiceMetric``.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from monai.metrics import DiceMetric
from monai.networks.nets import UNet
from monai.networks.utils import one_hot
from monai.transforms import ResizeWithPadOrCrop, ScaleIntensityRangePercentiles, SpatialPad

from ..errors import InputError
from .labelled import LabelledSubject
from .phases import LV_BLOOD_POOL, select_phases, volume_curve
from .resample import to_spacing

log = logging.getLogger(__name__)
CLASSES = ("background", "lv_blood_pool", "lv_myocardium", "rv_blood_pool")


# --- model ---------------------------------------------------------------------------
def build_unet(channels=(16, 32, 64, 128), strides=(2, 2, 2), num_res_units: int = 2,
               dropout: float = 0.0, **_ignored) -> UNet:
    """The 2D U-Net: one grey-level channel in, one logit per class out."""
    return UNet(spatial_dims=2, in_channels=1, out_channels=len(CLASSES), channels=tuple(channels),
                strides=tuple(strides), num_res_units=int(num_res_units), dropout=float(dropout))


def normalise(image: np.ndarray, percentiles=(1.0, 99.0)) -> np.ndarray:
    """Percentile scaling of one whole cine to [0, 1] (clipped): robust to the
    scanner's arbitrary intensity unit and to a few bright voxels (fat, flow)."""
    lo, hi = percentiles
    return np.asarray(ScaleIntensityRangePercentiles(lo, hi, 0.0, 1.0, clip=True)(
        np.asarray(image, np.float32)), np.float32)


def save_segmenter(model: torch.nn.Module, arch: dict, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "config": dict(arch), "classes": CLASSES}, path)


def load_segmenter(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, constructor + preprocessing config) from ``model.pt``."""
    blob = torch.load(path, map_location=device, weights_only=True)
    model = build_unet(**blob["config"]).to(device)
    model.load_state_dict(blob["state_dict"])
    return model.eval(), dict(blob["config"])


@torch.no_grad()
def predict_labels(model: torch.nn.Module, images: np.ndarray, batch_size: int = 64,
                   device: str = "cpu", divisor: int = 8, min_size: int = 0) -> np.ndarray:
    """Argmax labels (N, X, Y) uint8 of normalised 2D images (N, X, Y) of any size.

    Each image is zero padded (centred) to at least ``min_size`` on both axes, then
    up to a multiple of the U-Net's total stride, and the labels are cropped back.
    ``min_size`` is the training patch: training centre pads smaller slices to the
    patch with zeros (:func:`sample_slices`), so a net that only ever saw a small
    heart inside a wide zero border must be shown the same geometry at inference
    (unpadded 32×32 slices of a net trained on padded 64×64 patches come out as
    background everywhere). Larger images are not cropped: the net is fully
    convolutional, and cropping could cut the heart off."""
    n, nx, ny = images.shape
    size = [-(-max(d, min_size) // divisor) * divisor for d in (nx, ny)]
    fit = SpatialPad(size)  # centred: (size - n) // 2 before, the rest after
    out = np.empty((n, nx, ny), np.uint8)
    for i in range(0, n, batch_size):
        x = fit(torch.as_tensor(images[i:i + batch_size], dtype=torch.float32))  # batch as "channels"
        logits = model(torch.as_tensor(x).unsqueeze(1).to(device))
        ox, oy = (logits.shape[2] - nx) // 2, (logits.shape[3] - ny) // 2
        out[i:i + batch_size] = class_argmax(logits)[:, ox:ox + nx, oy:oy + ny].to(torch.uint8).cpu().numpy()
    return out


def class_argmax(logits: torch.Tensor) -> torch.Tensor:
    """``logits.argmax(1)`` of (N, C, X, Y), the same indices: on CPU torch reduces over a
    non-innermost dimension ~8x slower than over a contiguous last one (50 against 6 ms
    a batch of 64 at 64x64, torch 2.13; it was a third of the segment rule's time)."""
    return logits.permute(0, 2, 3, 1).contiguous().argmax(-1)


# --- labelled data -----------------------------------------------------------------
def labelled_subjects(images: dict[str, str], masks_dir: str | Path, mask_suffix: str = "_labels"
                      ) -> list[tuple[str, str, str]]:
    """(eid, image path, mask path) for every image with a mask ``{eid}{suffix}.nii.gz``."""
    out = []
    for eid, img in sorted(images.items()):
        mask = Path(masks_dir, f"{eid}{mask_suffix}.nii.gz")
        if mask.is_file():
            out.append((str(eid), str(img), str(mask)))
    return out


def split_subjects(eids: list[str], splits: pd.DataFrame | None, val_fraction: float
                   ) -> dict[str, list[str]]:
    """train/val eids. A cohort subject keeps its ``paired_split`` (test subjects are
    never used, so no stage downstream is evaluated on subjects the segmenter saw);
    an external labelled subject goes to val when crc32(eid) falls in ``val_fraction``."""
    known = {} if splits is None else dict(zip(splits["eid"].astype(str), splits["paired_split"]))
    out = {"train": [], "val": []}
    for eid in eids:
        if eid in known:
            if known[eid] in out:
                out[known[eid]].append(eid)
        else:
            is_val = zlib.crc32(eid.encode()) % 1000 < val_fraction * 1000
            out["val" if is_val else "train"].append(eid)
    return out


def sample_slices(subjects, frames_per_subject: int, patch: int, percentiles, seed: int,
                  spacing_mm: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All slices of a few frames per subject: ED and ES (found from the mask's LV
    curve, so both extremes of the heart's size are always present) plus random
    frames. ``subjects`` are ``labelled.LabelledSubject`` (or (eid, image, mask)
    paths); images and masks are resampled in-plane to ``spacing_mm`` (None: kept).
    Returns images (N, 1, P, P) float32, labels (N, 1, P, P) uint8 and the subject
    index of each image; every slice is centre padded/cropped to P×P."""
    rng = np.random.default_rng(seed)
    fit = ResizeWithPadOrCrop((patch, patch))
    images, labels, group = [], [], []
    for k, subj in enumerate(subjects):
        if not isinstance(subj, LabelledSubject):
            subj = LabelledSubject(subj[0], ((subj[1], subj[2], None),))
        try:
            data, mask, affine = subj.load()
        except InputError as e:
            log.warning("%s: %s; skipped", subj.eid, e)
            continue
        data, new_affine = to_spacing(data, affine, spacing_mm, "bilinear")
        mask = to_spacing(mask, affine, spacing_mm, "nearest")[0].round().astype(np.uint8)
        data = normalise(data, percentiles)
        ed, es = select_phases(volume_curve(mask, LV_BLOOD_POOL, new_affine))
        others = np.setdiff1d(np.arange(data.shape[3]), [ed, es])
        extra = rng.choice(others, size=min(len(others), max(0, frames_per_subject - 2)), replace=False)
        for t in sorted({ed, es, *extra.tolist()}):
            for z in range(data.shape[2]):
                images.append(np.asarray(fit(data[None, :, :, z, t]), np.float32))
                labels.append(np.asarray(fit(mask[None, :, :, z, t]), np.uint8))
                group.append(k)
    if not images:
        raise ValueError("no labelled slices: no subject has an image and a mask on the same grid")
    return np.stack(images), np.stack(labels), np.asarray(group)


# --- evaluation and the labelled set ----------------------------------------------
def evaluate_dice(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                  device: str = "cpu", divisor: int = 8) -> dict[str, float]:
    """Mean over subjects of each foreground class's Dice, a subject's slices and
    frames pooled into one volume (a slice without a class would otherwise count
    as a perfect or an undefined score)."""
    pred = predict_labels(model, images[:, 0], device=device, divisor=divisor)
    metric = DiceMetric(include_background=False, reduction="mean_batch", ignore_empty=True)
    for g in np.unique(groups):
        sel = groups == g
        # (1, C, N, X, Y): the subject's slices as one 3D volume
        p = one_hot(torch.as_tensor(pred[sel][None, None]).long(), len(CLASSES), dim=1)
        t = one_hot(torch.as_tensor(labels[sel, 0][None, None]).long(), len(CLASSES), dim=1)
        metric(p, t)
    scores = metric.aggregate().tolist()
    return {name: float(s) for name, s in zip(CLASSES[1:], scores)}


def labelled_images(images_dir: str | None, cmr_index: str | None, mask_suffix: str) -> dict[str, str]:
    """eid → image path of the labelled set: a folder's ``{id}.nii.gz`` files (masks
    with ``mask_suffix`` left out), or the cohort's ingested cines when no folder."""
    if images_dir:
        return {p.name[: -len(".nii.gz")]: str(p) for p in sorted(Path(images_dir).glob("*.nii.gz"))
                if not p.name.endswith(f"{mask_suffix}.nii.gz")}
    index = pd.read_parquet(cmr_index, columns=["eid", "path"])
    return dict(zip(index["eid"].astype(str), index["path"]))


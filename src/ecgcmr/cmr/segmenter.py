"""The heart segmenter: a 2D MONAI U-Net over short-axis cine frames, and its training.

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
convention of Bai et al. and of the synthetic ground truth).

Training uses MONAI transforms (random flips, rotations, intensity scale/shift,
Gaussian noise) and MONAI's ``DiceCELoss``; held-out Dice is MONAI's ``DiceMetric``.
It checkpoints every epoch and on SIGTERM/SIGUSR1 and resumes when rerun.
"""

from __future__ import annotations

import json
import logging
import signal
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from monai.data import DataLoader, Dataset
from monai.losses import DiceCELoss
from monai.metrics import DiceMetric
from monai.networks.nets import UNet
from monai.networks.utils import one_hot
from monai.transforms import (Compose, RandAffined, RandFlipd, RandGaussianNoised,
                              RandScaleIntensityd, RandShiftIntensityd, ResizeWithPadOrCrop,
                              ScaleIntensityRangePercentiles, SpatialPad)

from ..errors import InputError
from ..core.files import atomic_save, digest, input_files_signature
from ..core.device import resolve_device
from ..core.schedule import warmup_cosine
from .labelled import LabelledSubject, normalise_sources, read_sources
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
        out[i:i + batch_size] = logits.argmax(1)[:, ox:ox + nx, oy:oy + ny].to(torch.uint8).cpu().numpy()
    return out


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


# --- training ------------------------------------------------------------------------
def augmentations(aug: dict) -> Compose:
    keys = ("image", "label")
    return Compose([
        RandFlipd(keys, prob=aug["flip_prob"], spatial_axis=0),
        RandFlipd(keys, prob=aug["flip_prob"], spatial_axis=1),
        # RandAffined rather than RandRotated: the same rotation, 3x faster on CPU
        RandAffined(keys, prob=aug["rotate_prob"], rotate_range=np.deg2rad(aug["rotate_deg"]),
                    scale_range=aug["scale_range"], mode=("bilinear", "nearest"), padding_mode="zeros"),
        RandScaleIntensityd("image", factors=aug["intensity_scale"], prob=aug["intensity_prob"]),
        RandShiftIntensityd("image", offsets=aug["intensity_shift"], prob=aug["intensity_prob"]),
        RandGaussianNoised("image", std=aug["noise_std"], prob=aug["intensity_prob"]),
    ])


class _Preempted(RuntimeError):
    pass


def _stop_on_signals() -> dict:
    """SIGTERM/SIGUSR1 (SLURM's time-limit warnings) set a flag the loop checks after
    each batch, so the checkpoint is written between optimiser steps."""
    flag = {"stop": False}

    def handler(signum, _frame):
        log.warning("signal %d: checkpointing and stopping", signum)
        flag["stop"] = True

    flag["previous"] = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGUSR1)}
    return flag


def checkpoint_key(arch: dict, train: dict, seed: int, n_images: int, signature: dict | None) -> dict:
    """What a checkpoint must have been written with to be resumed (as the shared
    loop's key): every hyperparameter of the run, the seed, the
    number of training slices and the caller's ``signature`` of its inputs. Round-tripped
    through JSON so tuples and lists, or ints and floats, compare equal after loading."""
    key = {"arch": arch, "train": dict(train),
           "seed": int(seed), "n_images": int(n_images), "signature": signature or {}}
    return json.loads(json.dumps(key, sort_keys=True, default=str))


def train_model(images: np.ndarray, labels: np.ndarray, arch: dict, train: dict, seed: int = 0,
                device: str = "cpu", checkpoint: str | Path | None = None,
                signature: dict | None = None) -> torch.nn.Module:
    """Train the U-Net on (N, 1, P, P) images/labels; resumes from ``checkpoint`` when
    it was written with the same :func:`checkpoint_key` (hyperparameters + ``signature``
    of the inputs), and starts over, saying so, when it was not."""
    key = checkpoint_key(arch, train, seed, len(images), signature)
    torch.manual_seed(seed)
    model = build_unet(**arch).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"], weight_decay=train.get("weight_decay", 0.0))
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    data = [{"image": i, "label": l} for i, l in zip(images, labels)]
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(Dataset(data, augmentations(train["augment"])), batch_size=train["batch_size"],
                        shuffle=True, num_workers=0, generator=generator)
    # a high lr decayed to zero converges in few steps and ends on a settled model
    sched = warmup_cosine(opt, train.get("warmup_epochs", 0) * len(loader), train["epochs"] * len(loader))
    start = 0
    state = torch.load(checkpoint, map_location=device, weights_only=True) \
        if checkpoint and Path(checkpoint).is_file() else None
    if state is not None and state.get("key") != key:
        # a changed patch, lr or labelled set: the old weights are no starting point
        log.warning("ignoring segmenter checkpoint %s: written with other hyperparameters or "
                    "inputs; training from scratch", checkpoint)
    elif state is not None:
        model.load_state_dict(state["model"]), opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"]), torch.set_rng_state(state["torch_rng"])
        if "transform_rng" in state:   # checkpoints written before it was kept replay epoch 0's
            set_transform_rng_states(loader.dataset.transform, state["transform_rng"])
        start = state["epoch"]
        log.info("resumed segmenter training at epoch %d", start)
    flag = _stop_on_signals()
    try:
        for epoch in range(start, train["epochs"]):
            if checkpoint:  # the state *before* the epoch: a stopped epoch is redone whole
                _save_checkpoint(checkpoint, key, model, opt, sched, generator, epoch, loader.dataset.transform)
            model.train()
            total, n = 0.0, 0
            for batch in loader:
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(batch["image"].to(device)), batch["label"].to(device))
                loss.backward()
                opt.step()
                sched.step()
                total, n = total + loss.item() * len(batch["image"]), n + len(batch["image"])
                if flag["stop"]:
                    raise _Preempted(f"stopped by signal in epoch {epoch}; rerun to resume")
            log.info("segmenter epoch %d/%d: train loss %.4f", epoch + 1, train["epochs"], total / max(n, 1))
        if checkpoint:
            _save_checkpoint(checkpoint, key, model, opt, sched, generator, train["epochs"],
                             loader.dataset.transform)
    finally:
        for s, h in flag["previous"].items():
            signal.signal(s, h)
    return model.eval()


def _save_checkpoint(path, key: dict, model, opt, sched, generator, epoch: int, transform) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"key": key, "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                 "scheduler": sched.state_dict(),
                 "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                 "transform_rng": transform_rng_states(transform)}, Path(path))


def _random_states(obj, seen: set | None = None) -> list[np.random.RandomState]:
    """Every ``RandomState`` (MONAI's ``Randomizable.R``) inside a transform, in a fixed
    order: Compose -> its transforms -> their inner transforms (RandAffined's RandAffine
    and its grid)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, np.random.RandomState):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [r for item in obj for r in _random_states(item, seen)]
    if not hasattr(obj, "__dict__") or isinstance(obj, (np.ndarray, torch.Tensor)):
        return []
    return [r for k, v in vars(obj).items() if not k.startswith("__") for r in _random_states(v, seen)]


def transform_rng_states(transform) -> list[dict]:
    """The augmentations' random states, as tensors and numbers (``weights_only`` loads
    them). MONAI seeds its transforms once, when the DataLoader is built; without these,
    a resumed run would replay epoch 0's augmentations instead of continuing."""
    out = []
    for r in _random_states(transform):
        _, keys, pos, has_gauss, cached = r.get_state()
        out.append({"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                    "has_gauss": int(has_gauss), "cached": float(cached)})
    return out


def set_transform_rng_states(transform, states: list[dict]) -> None:
    rngs = _random_states(transform)
    if len(rngs) != len(states):
        raise ValueError(f"checkpoint holds {len(states)} augmentation random states, the transform has {len(rngs)}")
    for r, st in zip(rngs, states):
        r.set_state(("MT19937", st["keys"].numpy().astype(np.uint32), st["pos"], st["has_gauss"], st["cached"]))


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


def train_segmenter(images: dict[str, str], labelled, splits_path: str | None, out_model: str,
                    out_metrics: str, model: dict, train: dict, intensity_percentiles,
                    device: str = "auto", threads: int | None = None, spacing_mm: float | None = None) -> dict:
    """The ``train_segmenter`` rule: labelled cines → ``model.pt`` + ``metrics.json``.

    ``labelled``: the sources of ``segmentation.labelled`` (``labelled.normalise_sources``;
    a legacy mapping with ``masks_dir``/``mask_suffix`` is one ``nifti`` source);
    ``images`` maps eid → the cohort's cines for a ``nifti`` source without a path.
    ``model``, ``train`` are the config sections ``segmentation.model/.train``;
    ``spacing_mm`` the in-plane spacing of training and inference (None: each set's own).
    """
    if threads:
        torch.set_num_threads(int(threads))
    device = resolve_device(device)
    sources = normalise_sources(labelled, None, False)
    subjects = read_sources(sources, images) if sources else []
    val_fraction = {s["format"]: s["val_fraction"] for s in sources}
    splits = pd.read_parquet(splits_path) if splits_path else None
    groups = split_subjects([s.eid for s in subjects], splits, min(val_fraction.values(), default=0.15))
    by_eid = {s.eid: s for s in subjects}
    train_subj = [by_eid[e] for e in groups["train"]][: train.get("max_train_subjects") or None]
    val_subj = [by_eid[e] for e in groups["val"]]
    if not train_subj or not val_subj:
        raise ValueError(f"segmenter needs labelled train and val subjects, got {len(train_subj)} "
                         f"and {len(val_subj)} (cohort images {len(images)}, labelled {len(subjects)} from "
                         f"{[s['format'] + ':' + str(s['path']) for s in sources]})")
    pct, seed = tuple(intensity_percentiles), int(train["seed"])
    x, y, _ = sample_slices(train_subj, train["frames_per_subject"], train["patch"], pct, seed, spacing_mm)
    vx, vy, vg = sample_slices(val_subj, train["frames_per_subject"], train["patch"], pct, seed + 1, spacing_mm)
    log.info("segmenter: %d train subjects (%d slices), %d val subjects (%d slices) on %s",
             len(train_subj), len(x), len(val_subj), len(vx), device)
    # the patch and spacing travel with the weights: inference pads slices to the
    # patch (predict_labels) and resamples cines to the spacing (segment_cine)
    arch = {**model, "intensity_percentiles": list(pct), "patch": int(train["patch"]),
            "spacing_mm": float(spacing_mm) if spacing_mm else None}
    signature = {"train_subjects": digest([s.eid for s in train_subj]),
                 "inputs": digest(input_files_signature(
                     splits_path, *(p for s in train_subj for f in s.frames for p in f[:2])))}
    net = train_model(x, y, arch, train, seed, device, Path(out_model).with_name("checkpoint.pt"),
                      signature=signature)
    dice = evaluate_dice(net, vx, vy, vg, device, divisor=int(np.prod(model["strides"])))
    metrics = {"dice": dice, "n_train_subjects": len(train_subj), "n_val_subjects": len(val_subj),
               "n_train_slices": int(len(x)), "n_val_slices": int(len(vx)), "epochs": train["epochs"],
               "device": str(device), "sources": sorted({s.source for s in subjects}),
               "spacing_mm": arch["spacing_mm"]}
    save_segmenter(net.cpu(), arch, out_model)
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("segmenter held-out Dice: %s", dice)
    return metrics

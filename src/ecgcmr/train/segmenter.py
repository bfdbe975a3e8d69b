"""Training the heart segmenter (the ``train_segmenter`` rule) on the shared loop.

The U-Net, its labelled slices, save/load and inference are ``ecgcmr.cmr.segmenter``
(the cmr stage segments with it); this is only its training: MONAI's ``DiceCELoss`` and
augmentations inside :func:`ecgcmr.train.loop.fit`, so checkpoints, resume inside an
epoch, SIGTERM/SIGUSR1, DDP, safe loading and best-epoch selection are the ones every
trainer has.

Augmentation runs in the step, one sample at a time, each sample's transforms seeded
from torch's global generator: the loop checkpoints that generator, so a resumed run
continues the same augmentations (MONAI's transforms keep random states of their own,
which no checkpoint of the loop would hold), and the data order does not depend on the
number of DataLoader workers, a setting that changes no result.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from monai.losses import DiceCELoss
from monai.transforms import (Compose, RandAffined, RandFlipd, RandGaussianNoised,
                              RandScaleIntensityd, RandShiftIntensityd)

from ecgcmr.cmr.labelled import normalise_sources, read_sources
from ecgcmr.cmr.segmenter import build_unet, evaluate_dice, sample_slices, save_segmenter, split_subjects
from ecgcmr.core import distributed as D
from ecgcmr.core.files import digest, input_files_signature
from ecgcmr.train.checkpoint import seed_everything
from ecgcmr.train.loop import TrainConfig, fit

log = logging.getLogger(__name__)

# segmentation.train keys that shape the slices or their augmentation, not the optimiser:
# part of the loop's resume key through the signature
DATA_KEYS = ("frames_per_subject", "patch", "max_train_subjects", "augment")


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


class SliceSet(torch.utils.data.Dataset):
    """(N, 1, P, P) images and labels as ``{"image", "label"}`` items."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images = torch.as_tensor(np.asarray(images, np.float32))
        self.labels = torch.as_tensor(np.asarray(labels))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "label": self.labels[i]}


def _plain(t) -> torch.Tensor:
    return t.as_tensor() if hasattr(t, "as_tensor") else torch.as_tensor(t)


def augmented(transform: Compose, images: torch.Tensor, labels: torch.Tensor):
    """A batch through ``transform`` sample by sample, each seeded from torch's generator."""
    out_x, out_y = [], []
    for x, y in zip(images, labels):
        transform.set_random_state(seed=int(torch.randint(0, 2**31 - 1, ()).item()))
        item = transform({"image": x, "label": y})
        out_x.append(_plain(item["image"]))
        out_y.append(_plain(item["label"]))
    return torch.stack(out_x), torch.stack(out_y)


def make_step(augment: dict | None):
    """The loop's ``step_fn``: DiceCE of the U-Net's logits, augmented in training only."""
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    transform = augmentations(augment) if augment else None

    def step(model, batch):
        x, y = batch["image"], batch["label"]
        if model.training and transform is not None:
            x, y = augmented(transform, x, y)
        return loss_fn(model(x), y), {}
    return step


def train_model(images: np.ndarray, labels: np.ndarray, arch: dict, train: dict, seed: int = 0,
                out_dir: str | Path | None = None, signature: dict | None = None,
                val: tuple[np.ndarray, np.ndarray] | None = None) -> torch.nn.Module:
    """Train the U-Net on (N, 1, P, P) images/labels with :func:`fit` (checkpoints in
    ``out_dir``; None: a temporary folder, no resume). ``val``: held-out (images,
    labels) whose loss picks the best epoch; None selects on the unaugmented training
    slices. ``arch`` and the :data:`DATA_KEYS` of ``train`` join ``signature`` in the
    resume key, so a changed patch or net never resumes an old checkpoint."""
    cfg = TrainConfig.from_config(train, {"seed": int(seed), "drop_last": False})
    key = {"arch": arch, **{k: train.get(k) for k in DATA_KEYS}, **(signature or {})}
    key = json.loads(json.dumps(key, sort_keys=True, default=str))   # tuples and lists compare equal
    seed_everything(cfg.seed)   # the initial weights: fit() seeds only what follows them
    model = build_unet(**arch)
    val_set = SliceSet(*val) if val is not None else SliceSet(images, labels)
    with tempfile.TemporaryDirectory() if out_dir is None else contextlib.nullcontext(out_dir) as folder:
        fit(model, SliceSet(images, labels), val_set, make_step(train.get("augment")), folder, cfg,
            signature=key)
    return model.eval()


def train_segmenter(images: dict[str, str], labelled, splits_path: str | None, out_model: str,
                    out_metrics: str, model: dict, train: dict, intensity_percentiles,
                    spacing_mm: float | None = None) -> dict:
    """The ``train_segmenter`` rule: labelled cines → ``model.pt`` + ``metrics.json``
    (and the loop's ``checkpoint.pt``, ``best_model.pt``, ``history.csv`` beside them).

    ``labelled``: the sources of ``segmentation.labelled`` (``labelled.normalise_sources``;
    a legacy mapping with ``masks_dir``/``mask_suffix`` is one ``nifti`` source);
    ``images`` maps eid → the cohort's cines for a ``nifti`` source without a path.
    ``model`` is ``segmentation.model``; ``train`` is ``segmentation.train`` with the
    shared trainer settings (``amp``, and at run time ``num_workers``, ``progress``);
    ``spacing_mm`` the in-plane spacing of training and inference (None: each set's own).
    """
    D.init_from_env()
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
             len(train_subj), len(x), len(val_subj), len(vx), D.device())
    # the patch and spacing travel with the weights: inference pads slices to the
    # patch (predict_labels) and resamples cines to the spacing (segment_cine)
    arch = {**model, "intensity_percentiles": list(pct), "patch": int(train["patch"]),
            "spacing_mm": float(spacing_mm) if spacing_mm else None}
    signature = {"train_subjects": digest([s.eid for s in train_subj]),
                 "val_subjects": digest([s.eid for s in val_subj]),
                 "inputs": digest(input_files_signature(
                     splits_path, *(p for s in [*train_subj, *val_subj] for f in s.frames for p in f[:2])))}
    net = train_model(x, y, arch, train, seed, Path(out_model).parent, signature=signature, val=(vx, vy))
    metrics = None
    if D.is_main():
        dice = evaluate_dice(net, vx, vy, vg, D.device(), divisor=int(np.prod(model["strides"])))
        metrics = {"dice": dice, "n_train_subjects": len(train_subj), "n_val_subjects": len(val_subj),
                   "n_train_slices": int(len(x)), "n_val_slices": int(len(vx)), "epochs": train["epochs"],
                   "device": str(D.device()), "sources": sorted({s.source for s in subjects}),
                   "spacing_mm": arch["spacing_mm"]}
        save_segmenter(net.cpu(), arch, out_model)
        Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
        log.info("segmenter held-out Dice: %s", dice)
    D.cleanup()
    return metrics

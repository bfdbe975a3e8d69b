"""CMR encoder pretraining (paper 2.2, "CMR Encoder Training"), one view at a time.

Supervised regression of the 12 standardised phenotypes from the view's crops with an
MSE over the observed phenotypes (UKB leaves some empty: a missing value contributes
nothing), AdamW, linear warm-up then half-cycle cosine, early stopping on the
validation loss: all of it the shared :func:`ecgcmr.train.loop.fit`. Subjects are the
paired cohort (``splits.paired_split``), so no paired val/test subject is trained on by
any stage.

Writes ``{results}/models/cmr_{view}/``: ``checkpoint.pt``, ``history.csv``,
``curve.png`` (by the loop), ``encoder.pt`` (:func:`encoder_state` + the target
standardisation) and ``metrics.json`` (validation R² per phenotype).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecgcmr.core import distributed as D
from ecgcmr.core.files import input_files_signature
from ecgcmr.models.cmr_encoders import FLIP_DIM, VIEWS, build_cmr_encoder, save_cmr_encoder
from ecgcmr.phenotypes import PHENOTYPES
from ecgcmr.splits import subjects
from ecgcmr.train.checkpoint import seed_everything
from ecgcmr.train.loop import TrainConfig, fit

log = logging.getLogger(__name__)

MODEL_KEYS = ("backbone", "lstm_hidden", "time_stride", "n_slices")


def observed_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE over the observed (non-NaN) entries of ``target`` only."""
    observed = ~torch.isnan(target)
    diff = torch.where(observed, pred.float() - torch.nan_to_num(target.float()), 0.0)
    return diff.pow(2).sum() / observed.sum().clamp_min(1)


def standardise(targets: pd.DataFrame, train_eids, columns) -> tuple[pd.DataFrame, dict]:
    """z-score ``columns`` with the training subjects' mean and SD (NaN kept)."""
    train = targets.set_index("eid").loc[list(train_eids), columns]
    mean, std = train.mean(), train.std().replace(0.0, 1.0).fillna(1.0)
    out = targets[["eid"]].copy()
    out[columns] = (targets[columns] - mean) / std
    return out, {"columns": list(columns), "mean": mean.tolist(), "std": std.tolist()}


def paired_subjects(splits: pd.DataFrame, crop_eids: set[str], targets: pd.DataFrame,
                    columns: list[str]) -> dict[str, list[str]]:
    """train/val eids: paired subjects with crops and at least one phenotype (a subject
    with none would add nothing to the loss, ``observed_mse``)."""
    has_target = set(targets.loc[targets[columns].notna().any(axis=1), "eid"])
    out = {s: subjects(splits, s, having=crop_eids & has_target) for s in ("train", "val")}
    for split, eids in out.items():
        if not eids:
            raise ValueError(f"no paired {split} subjects with crops and phenotypes")
    return out


def make_step(view: str, hflip_p: float):
    """The loop's ``step_fn``: ``observed_mse``, with a random flip of one in-plane axis in
    training (the authors' only augmentation, ``RandomHorizontalFlip``)."""
    flip_dim = FLIP_DIM[VIEWS[view].layout]

    def step(model, batch):
        image = batch["image"]
        if model.training and hflip_p > 0:
            flip = torch.rand(image.shape[0], device=image.device) < hflip_p
            shape = (-1,) + (1,) * (image.dim() - 1)
            image = torch.where(flip.view(shape), image.flip(flip_dim), image)
        return observed_mse(model(image), batch["target"]), {}

    return step


def r2_per_target(model, dataset, batch_size: int, device, input_key: str = "image") -> list[float]:
    """Validation R² of each standardised target (observed values only); the model
    reads ``batch[input_key]`` (crops here, the ECG in :mod:`ecgcmr.train.label_control`)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    preds, trues = [], []
    model.eval()
    with torch.no_grad():
        for batch in loader:
            preds.append(model(batch[input_key].to(device)).float().cpu())
            trues.append(batch["target"].float())
    p, t = torch.cat(preds).numpy(), torch.cat(trues).numpy()
    out = []
    for j in range(t.shape[1]):
        ok = ~np.isnan(t[:, j])
        ss_tot = ((t[ok, j] - t[ok, j].mean()) ** 2).sum()
        out.append(float(1 - ((t[ok, j] - p[ok, j]) ** 2).sum() / ss_tot) if ok.sum() > 1 and ss_tot > 0
                   else float("nan"))
    return out


def pretrain_cmr(view: str, crop_index: str, targets: str, splits: str, out_dir: str,
                 train: dict, model: dict, hflip_p: float = 0.5,
                 target_columns: list[str] | None = None, crops_in_memory: bool = False) -> dict:
    """Train the ``view`` encoder; ``train`` holds :class:`TrainConfig` fields,
    ``model`` the encoder options (``backbone``, ``lstm_hidden``, ``time_stride``)."""
    from ecgcmr.cmr.dataset import CmrCropDataset

    if view not in VIEWS:
        raise ValueError(f"unknown CMR view {view!r}; expected one of {sorted(VIEWS)}")
    D.init_from_env()
    columns = list(target_columns or PHENOTYPES)
    tgt = pd.read_parquet(targets)
    tgt["eid"] = tgt["eid"].astype(str)
    crop_eids = set(pd.read_parquet(crop_index, columns=["eid"])["eid"].astype(str))
    eids = paired_subjects(pd.read_parquet(splits), crop_eids, tgt, columns)
    std_targets, stats = standardise(tgt, eids["train"], columns)
    log.info("cmr_%s: %d train / %d val subjects", view, len(eids["train"]), len(eids["val"]))

    crop = VIEWS[view].crop
    datasets = {s: CmrCropDataset(crop_index, eids[s], crop, targets=std_targets, target_columns=columns,
                                  # 50-frame 2D+t crops would need ~53 GB at UKB size: on disk
                                  in_memory=crops_in_memory and crop != "2DT") for s in ("train", "val")}
    options = {k: model[k] for k in MODEL_KEYS if k in model}
    cfg = TrainConfig.from_config(train)
    seed_everything(cfg.seed)   # the initial weights: fit() seeds only what follows them
    encoder = build_cmr_encoder(view, n_targets=len(columns), target_columns=columns, **options)
    summary = fit(encoder, datasets["train"], datasets["val"], make_step(view, hflip_p), out_dir, cfg,
                  signature={"view": view, "model": options, "targets": columns, "hflip_p": hflip_p,
                             "inputs": input_files_signature(crop_index, targets, splits)})
    out = Path(out_dir)
    if D.is_main():
        r2 = r2_per_target(encoder, datasets["val"], cfg.batch_size, D.device())
        metrics = {"view": view, "best_val_loss": summary["best_val_loss"],
                   "best_epoch": summary["best_epoch"], "epochs": summary["epochs_completed"],
                   "stopped_early": summary["stopped_early"], "n_train": len(eids["train"]),
                   "n_val": len(eids["val"]), "val_r2": dict(zip(columns, r2))}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=True))
        # meta.targets: the standardisation, to turn predictions back into units
        save_cmr_encoder(encoder, out / "encoder.pt", meta={"targets": stats, "val_r2": metrics["val_r2"]})
    D.cleanup()
    return summary

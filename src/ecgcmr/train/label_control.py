"""The label control of the science run (issue 14): the ECG encoder alignment starts
from, fine-tuned with an MSE on the phenotypes instead of a CLIP loss towards frozen
CMR embeddings.

It answers "does learning from the CMR *image* beat learning from the *labels* the CMR
encoders were trained on?": same starting MAE encoder, same paired training and
validation subjects as the alignment (those with crops and a cached ECG), same trainer
budget (the ``align`` section's epochs, batch, lr, seed), and the same head width.
Only the supervision differs: standardised targets (``pretrain_cmr.targets`` unless the
variant names its own) through a regression head, with the masked MSE of CMR
pretraining (:func:`ecgcmr.train.pretrain_cmr.observed_mse`).

Writes ``{results}/models/align_{variant}/`` as an alignment does, so every later
stage (embeddings, probes, tables, the comparison) takes it as one more Table 1 row:
``ecg_encoder.pt`` (the MAE ``encoder.pt`` format), ``head.pt`` (the regression head
and the target standardisation), ``metrics.json`` (validation R² per target, which
its gate reads) and the loop's ``checkpoint.pt``, ``history.csv``, ``curve.png``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset

from ecgcmr.config import LABELS as OBJECTIVE   # align.variants[*].objective of a label control
from ecgcmr.core import distributed as D
from ecgcmr.core.files import atomic_save, input_files_signature
from ecgcmr.models.heads import ProjectionHead
from ecgcmr.train.align import ecg_embed_dim, encoder_no_weight_decay, paired_eids
from ecgcmr.train.checkpoint import seed_everything
from ecgcmr.train.loop import TrainConfig, fit
from ecgcmr.train.paired_data import ecg_signal
from ecgcmr.train.pretrain_cmr import observed_mse, r2_per_target, standardise

log = logging.getLogger(__name__)

HEAD_KIND = "label_control_head"


class LabelledEcgDataset(Dataset):
    """Item ``i``: ``{"ecg": (12, n) tensor, "target": (T,) standardised targets}``
    (NaN where a phenotype is missing: :func:`observed_mse` skips it)."""

    def __init__(self, ecg_dataset, targets: torch.Tensor):
        if len(ecg_dataset) != len(targets):
            raise ValueError(f"{len(ecg_dataset)} ECGs but {len(targets)} target rows")
        self.ecg, self.targets = ecg_dataset, targets

    def __len__(self) -> int:
        return len(self.ecg)

    def __getitem__(self, i: int) -> dict:
        return {"ecg": ecg_signal(self.ecg[i]), "target": self.targets[i]}

    def __getitems__(self, indices: list[int]) -> list[dict]:
        fetch = getattr(self.ecg, "__getitems__", None)
        ecgs = fetch(indices) if fetch else [self.ecg[i] for i in indices]
        return [{"ecg": ecg_signal(x), "target": self.targets[i]} for i, x in zip(indices, ecgs)]


class LabelModel(nn.Module):
    """ECG encoder + a regression head (the alignment's projection-head layers, with one
    output per target), in one module so DDP syncs both."""

    def __init__(self, ecg_encoder: nn.Module, ecg_dim: int, n_targets: int, hidden_dim: int = 512):
        super().__init__()
        self.ecg_encoder = ecg_encoder
        self.head = ProjectionHead(ecg_dim, hidden_dim, n_targets)

    no_weight_decay = encoder_no_weight_decay

    def forward(self, ecg: torch.Tensor) -> torch.Tensor:
        return self.head(self.ecg_encoder.embed(ecg))


def step(model, batch):
    return observed_mse(model(batch["ecg"]), batch["target"]), {}


def _target_rows(std: pd.DataFrame, eids: list[str], columns: list[str]) -> torch.Tensor:
    return torch.tensor(std.set_index("eid").loc[eids, columns].to_numpy(float), dtype=torch.float32)


def label_control(variant: str, target_columns: list[str], ecg_encoder: str, ecg_index: str,
                  ecg_norm_stats: str, crop_index: str, targets: str, splits: str, out_dir: str,
                  train: dict, head_hidden: int = 512) -> dict:
    """Fine-tune the MAE ``ecg_encoder`` on ``target_columns`` of ``targets``; ``train``
    holds :class:`~ecgcmr.train.loop.TrainConfig` fields (the align section's)."""
    from ecgcmr.ecg.cache import EcgCache, EcgDataset
    from ecgcmr.models import load_ecg_encoder, save_ecg_encoder

    columns = list(target_columns)
    if not columns:
        raise ValueError(f"{variant}: a label control needs at least one target")
    D.init_from_env()
    dev = D.device()
    cfg = TrainConfig.from_config(train)
    tgt = pd.read_parquet(targets).astype({"eid": str})
    missing = [c for c in columns if c not in tgt.columns]
    if missing:
        raise ValueError(f"{targets}: no column for target(s) {missing} of {variant}")
    # the alignment's subjects, less any without one of the targets (it would add nothing)
    labelled = set(tgt.loc[tgt[columns].notna().any(axis=1), "eid"])
    eids = {s: [e for e in v if e in labelled] for s, v in paired_eids(splits, crop_index, ecg_index).items()}
    for split, v in eids.items():
        if not v:
            raise ValueError(f"{splits}: no paired {split} subject with an ECG, crops and a target of {columns}")
    std, stats = standardise(tgt, eids["train"], columns)
    log.info("%s: %d train / %d val subjects, targets %s", variant, len(eids["train"]), len(eids["val"]), columns)

    cache = EcgCache(ecg_index, ecg_norm_stats)
    datasets = {s: LabelledEcgDataset(EcgDataset(cache, eids[s]), _target_rows(std, eids[s], columns))
                for s in ("train", "val")}
    ecg = load_ecg_encoder(ecg_encoder).train()
    seed_everything(cfg.seed)   # the head's initial weights: fit() seeds only what follows
    model = LabelModel(ecg, ecg_embed_dim(ecg), len(columns), head_hidden)
    signature = {"variant": variant, "objective": OBJECTIVE, "targets": columns, "head_hidden": head_hidden,
                 "inputs": input_files_signature(ecg_encoder, ecg_index, ecg_norm_stats, crop_index, targets,
                                                 splits)}
    summary = fit(model, datasets["train"], datasets["val"], step, out_dir, cfg, signature=signature)

    out = Path(out_dir)
    if D.is_main():
        r2 = dict(zip(columns, r2_per_target(model, datasets["val"], cfg.batch_size, dev, input_key="ecg")))
        metrics = {"variant": variant, "objective": OBJECTIVE, "val_r2": r2,
                   "best_val_loss": summary["best_val_loss"], "best_epoch": summary["best_epoch"],
                   "epochs": summary["epochs_completed"], "stopped_early": summary["stopped_early"],
                   "n_train": len(eids["train"]), "n_val": len(eids["val"])}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=True))
        save_ecg_encoder(model.ecg_encoder, out / "ecg_encoder.pt",
                         meta={"stage": f"align_{variant}", "objective": OBJECTIVE,
                               "initialised_from": str(ecg_encoder)})
        atomic_save({"kind": HEAD_KIND, "variant": variant, "targets": stats, "hidden_dim": head_hidden,
                     "state_dict": {k: v.cpu() for k, v in model.head.state_dict().items()}}, out / "head.pt")
        log.info("%s: %s", variant, metrics)
    D.cleanup()
    return summary

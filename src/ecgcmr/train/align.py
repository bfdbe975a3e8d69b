"""Contrastive cross-modal alignment (paper 2.2, eq. 1-2; Table 1's CL variants).

The ECG encoder (initialised from the MAE encoder) and one projection head per modality
are trained; the CMR encoders are frozen, so their embeddings are computed once before
training (:mod:`ecgcmr.train.paired_data`). A variant is data: its ``pairs`` and
``weights`` (the :class:`~ecgcmr.train.clip_loss.ClipLoss` terms) and the CMR encoder
behind each non-ECG modality, e.g. dual_phase = ``{ed: cmr_ed3d, es: cmr_es3d}``,
pairs ``ecg-ed, ecg-es, ed-es``. The ED→ES term uses the two CMR heads.

Writes ``{results}/models/align_{variant}/``: ``ecg_encoder.pt`` (the MAE
``encoder.pt`` format, so ``ecgcmr.models.load_ecg_encoder`` loads either), ``heads.pt``
(projection heads + temperature), ``metrics.json`` (validation retrieval), and the
loop's ``checkpoint.pt``, ``history.csv``, ``curve.png``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

from ecgcmr.core import distributed as D
from ecgcmr.core.files import input_files_signature
from ecgcmr.models.cmr_encoders import cmr_embeddings, load_cmr_encoder
from ecgcmr.models.heads import ProjectionHead, save_heads
from ecgcmr.splits import eids_of, subjects
from ecgcmr.train.checkpoint import seed_everything
from ecgcmr.train.clip_loss import ClipLoss
from ecgcmr.train.loop import TrainConfig, fit
from ecgcmr.train.paired_data import PairedDataset

log = logging.getLogger(__name__)

ECG = "ecg"


def encoder_no_weight_decay(model: nn.Module) -> set[str]:
    """``no_weight_decay`` of a model wrapping an ECG encoder as ``model.ecg_encoder``:
    the encoder's own exempt parameters (biases, norms, tokens), under that prefix."""
    inner = getattr(model.ecg_encoder, "no_weight_decay", lambda: ())()
    return {f"ecg_encoder.{n}" for n in inner}


class AlignModel(nn.Module):
    """ECG encoder + a projection head per modality + the loss (which may own a
    learnable temperature), in one module so DDP syncs every trained parameter."""

    def __init__(self, ecg_encoder: nn.Module, ecg_dim: int, cmr_dims: dict[str, int],
                 loss: ClipLoss, hidden_dim: int = 512, out_dim: int = 128):
        super().__init__()
        self.ecg_encoder = ecg_encoder
        dims = {ECG: ecg_dim, **cmr_dims}
        missing = set(loss.modalities) - set(dims)
        if missing:
            raise ValueError(f"loss pairs name modalities without an encoder: {sorted(missing)}")
        self.heads = nn.ModuleDict({m: ProjectionHead(dims[m], hidden_dim, out_dim)
                                    for m in loss.modalities})
        self.loss = loss

    no_weight_decay = encoder_no_weight_decay

    def project(self, ecg: torch.Tensor, cmr: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        z = {ECG: self.heads[ECG](self.ecg_encoder.embed(ecg))}
        z.update({m: self.heads[m](cmr[m]) for m in self.heads if m != ECG})
        return z

    def forward(self, ecg: torch.Tensor, cmr: dict[str, torch.Tensor]):
        return self.loss(self.project(ecg, cmr), gather=self.training)


def step(model, batch):
    """The loop's ``step_fn``: the weighted loss, each pair's term as a metric."""
    loss, terms = model(batch["ecg"], batch["cmr"])
    return loss, {f"loss_{k}": v for k, v in terms.items()}


@torch.no_grad()
def retrieval_top1(model: AlignModel, dataset, batch_size: int, device) -> dict[str, float]:
    """Share of validation ECGs whose nearest CMR embedding (cosine, in the shared
    space, over the whole validation set) is their own subject's; chance is 1/N."""
    model.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    zs: dict[str, list] = {}
    for b in loader:
        cmr = {m: v.to(device) for m, v in b["cmr"].items()}
        for m, z in model.project(b["ecg"].to(device), cmr).items():
            zs.setdefault(m, []).append(nn.functional.normalize(z.float(), dim=-1).cpu())
    z = {m: torch.cat(v) for m, v in zs.items()}
    n = z[ECG].shape[0]
    out = {f"top1_ecg_to_{m}": float(((z[ECG] @ z[m].T).argmax(1) == torch.arange(n)).float().mean())
           for m in z if m != ECG}
    out["chance"] = 1.0 / n
    return out


def paired_eids(splits: str, crop_index: str, ecg_index: str) -> dict[str, list[str]]:
    """train/val eids of paired subjects that have both crops and a cached ECG."""
    have = eids_of(crop_index, ecg_index)
    out = {s: subjects(splits, s, having=have) for s in ("train", "val")}
    for split, eids in out.items():
        if not eids:
            raise ValueError(f"{splits}: no paired {split} subjects with crops and an ECG")
    return out


def align(variant: str, pairs: list, weights: list, cmr_encoders: dict[str, str], ecg_encoder: str,
          ecg_index: str, ecg_norm_stats: str, crop_index: str, splits: str, out_dir: str,
          train: dict, temperature: float = 0.07, learnable_temperature: bool = False,
          symmetric: bool = True, head_hidden: int = 512, head_out: int = 128,
          embed_batch_size: int = 16) -> dict:
    """Train one alignment variant.

    ``cmr_encoders`` maps each non-ECG modality of ``pairs`` to a pretrained
    ``cmr_{view}/encoder.pt``; ``ecg_encoder`` is the MAE ``encoder.pt``; ``train``
    holds :class:`~ecgcmr.train.loop.TrainConfig` fields.
    """
    from ecgcmr.ecg.cache import EcgCache, EcgDataset
    from ecgcmr.models import load_ecg_encoder, save_ecg_encoder

    D.init_from_env()
    dev = D.device()
    cfg = TrainConfig.from_config(train)
    eids = paired_eids(splits, crop_index, ecg_index)
    log.info("align_%s: %d train / %d val pairs", variant, len(eids["train"]), len(eids["val"]))

    embeddings: dict[str, dict[str, torch.Tensor]] = {"train": {}, "val": {}}
    cmr_dims = {}
    for modality, path in cmr_encoders.items():
        enc = load_cmr_encoder(path)
        for p in enc.parameters():
            p.requires_grad_(False)
        for split in ("train", "val"):
            embeddings[split][modality] = cmr_embeddings(enc, crop_index, eids[split], embed_batch_size, dev,
                                                         cfg.num_workers)
        cmr_dims[modality] = enc.embed_dim
        del enc
    if dev.type == "cuda":
        torch.cuda.empty_cache()

    cache = EcgCache(ecg_index, ecg_norm_stats)
    datasets = {s: PairedDataset(EcgDataset(cache, eids[s]), embeddings[s]) for s in ("train", "val")}
    ecg = load_ecg_encoder(ecg_encoder).train()
    loss = ClipLoss(pairs, weights, temperature, learnable_temperature, symmetric)
    seed_everything(cfg.seed)   # the projection heads' initial weights: fit() seeds only what follows
    model = AlignModel(ecg, ecg_embed_dim(ecg), cmr_dims, loss, head_hidden, head_out)
    signature = {"variant": variant, "pairs": [list(p) for p in pairs], "weights": list(weights),
                 "temperature": temperature, "learnable_temperature": learnable_temperature,
                 "symmetric": symmetric, "heads": [head_hidden, head_out],
                 "inputs": input_files_signature(ecg_encoder, *cmr_encoders.values(), ecg_index,
                                                 ecg_norm_stats, crop_index, splits)}
    summary = fit(model, datasets["train"], datasets["val"], step, out_dir, cfg, signature=signature)

    out = Path(out_dir)
    if D.is_main():
        metrics = {"variant": variant, **retrieval_top1(model, datasets["val"], cfg.batch_size, dev),
                   "best_val_loss": summary["best_val_loss"], "best_epoch": summary["best_epoch"],
                   "epochs": summary["epochs_completed"], "stopped_early": summary["stopped_early"],
                   "temperature": float(1.0 / loss.logit_scale()),
                   "n_train": len(eids["train"]), "n_val": len(eids["val"])}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        # the MAE encoder.pt format, so load_ecg_encoder reads aligned and MAE encoders alike
        save_ecg_encoder(model.ecg_encoder, out / "ecg_encoder.pt",
                         meta={"stage": f"align_{variant}", "initialised_from": str(ecg_encoder),
                               **{k: metrics[k] for k in metrics if k.startswith("top1")}})
        save_heads(model.heads, out / "heads.pt", variant=variant, pairs=pairs, weights=loss.weights,
                   log_logit_scale=loss.log_logit_scale)
        log.info("align_%s: %s", variant, metrics)
    D.cleanup()
    return summary


def ecg_embed_dim(encoder: nn.Module) -> int:
    """Embedding width D of an ECG encoder (``load_ecg_encoder`` keeps its constructor
    arguments in ``.config``)."""
    dim = getattr(encoder, "embed_dim", None) or getattr(encoder, "config", {}).get("embed_dim")
    if dim is None:
        raise ValueError(f"{type(encoder).__name__} tells no embed_dim")
    return int(dim)

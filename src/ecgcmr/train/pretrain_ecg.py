"""ECG encoder pretraining: the ViT masked autoencoder on the pretraining split
(paper 2.2 "ECG Encoder Training", Tables 2-3, Figure 2).

Reads the ECG cache (lead-wise normalised with the train-split statistics) and the
``pretrain`` column of splits.parquet; trains with the shared loop; writes into
``out_dir`` the loop's files plus ``encoder.pt`` (``ecgcmr.models.load_ecg_encoder``)
and ``figure2.png`` (original vs reconstructed 12 leads of one test subject).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import torch

from ecgcmr.core import distributed as D
from ecgcmr.core.files import digest, input_files_signature
from ecgcmr.ecg.augment import EcgAugment
from ecgcmr.ecg.cache import EcgCache, EcgDataset
from ecgcmr.models import save_ecg_encoder
from ecgcmr.models.mae_loss import LOSSES, authors_loss
from ecgcmr.models.vit_mae import EcgMAE
from ecgcmr.splits import subjects
from ecgcmr.train.figures import plot_reconstruction
from ecgcmr.train.loop import TrainConfig, fit

log = logging.getLogger(__name__)


def mae_step(model, batch: torch.Tensor):
    """The loop's step: masked-patch MSE of one batch of normalised ECGs."""
    loss, _, _ = model(batch)
    return loss, {}


def authors_step(ncc_weight: float):
    """The loop's step for ``loss: authors`` (ecgcmr.models.mae_loss); the masked-patch
    MSE and the NCC go into the history as metrics (train_/val_masked_mse, _ncc)."""
    def step(model, batch: torch.Tensor):
        masked, pred, _ = model(batch)
        # pred is lead-major (B, leads·n_time, patch): a reshape is unpatchify
        loss, r = authors_loss(pred.reshape(batch.shape), batch, ncc_weight)
        return loss, {"masked_mse": masked.detach(), "ncc": r.detach()}

    return step


def make_mae_step(augment: EcgAugment, base=mae_step):
    """``base`` (``mae_step`` or :func:`authors_step`) on augmented ECGs while training;
    validation (``model.eval()``) sees the ECGs as they are. Off, it is ``base`` itself:
    no extra RNG draw."""
    if not augment.enabled:
        return base

    def step(model, batch: torch.Tensor):
        return base(model, augment(batch) if model.training else batch)

    return step


def split_eids(splits_path: str | Path, cache: EcgCache) -> dict[str, list[str]]:
    """Pretraining train/val/test eids (sorted) that are in the cache."""
    cached = set(cache.eids)
    out = {}
    for name in ("train", "val", "test"):
        everyone = subjects(splits_path, name, of="pretrain")
        out[name] = [e for e in everyone if e in cached]
        if len(out[name]) < len(everyone):  # splits come from the raw cohort: these failed ECG ingest
            log.info("%d %s eids of %s are not in the ECG cache", len(everyone) - len(out[name]),
                     name, splits_path)
    if not out["train"] or not out["val"]:
        raise ValueError(f"{splits_path}: the pretraining split needs train and val ECGs, "
                         f"got {len(out['train'])} train / {len(out['val'])} val")
    return out


def pretrain_ecg(index_path: str | Path, norm_stats_path: str | Path, splits_path: str | Path,
                 out_dir: str | Path, size: str, model_cfg: dict, train_cfg: dict,
                 loss: str = "masked", ncc_weight: float = 1.0, augment: dict | None = None) -> dict:
    """Train the ``size`` ViT MAE; returns the loop's summary plus the test loss.

    ``model_cfg``: :class:`EcgMAE` arguments other than the size (patch_size,
    mask_ratio, decoder_*, ...); ``train_cfg``: :class:`TrainConfig` fields;
    ``loss``/``ncc_weight``: the training loss (ecgcmr.models.mae_loss). The test loss
    is the masked-patch MSE whatever the training loss, so runs stay comparable.
    ``augment``: ``pretrain_ecg.augment`` (:meth:`EcgAugment.from_config`; None = off).
    """
    if loss not in LOSSES:
        raise ValueError(f"pretrain_ecg.loss must be one of {LOSSES}, got {loss!r}")
    if loss == "authors" and model_cfg.get("norm_pix_loss"):
        raise ValueError("pretrain_ecg.loss 'authors' compares the reconstruction with the "
                         "input ECG; it cannot be combined with model.norm_pix_loss")
    out = Path(out_dir)
    D.init_from_env()
    cache = EcgCache(index_path, norm_stats_path)
    eids = split_eids(splits_path, cache)
    cfg = TrainConfig.from_config(train_cfg)
    aug = EcgAugment.from_config(augment)
    torch.manual_seed(cfg.seed)  # initialisation
    model = EcgMAE.from_size(size, **model_cfg)
    log.info("ECG MAE %s: %.2f M encoder parameters; %d train / %d val / %d test ECGs",
             size, model.encoder_parameters() / 1e6, *(len(eids[k]) for k in ("train", "val", "test")))
    signature = {"model": model.config, "data": digest({"train": eids["train"], "val": eids["val"]}),
                 "inputs": input_files_signature(index_path, norm_stats_path, splits_path)}
    step = mae_step
    if loss == "authors":  # only then in the signature: default runs resume their old checkpoints
        signature["loss"] = {"loss": loss, "ncc_weight": ncc_weight}
        step = authors_step(ncc_weight)
    if aug.enabled:  # only then: an unaugmented run's checkpoint resumes as before
        signature["augment"] = asdict(aug)
    summary = fit(model, EcgDataset(cache, eids["train"]), EcgDataset(cache, eids["val"]),
                  make_mae_step(aug, step), out, cfg, signature=signature)
    if D.is_main():
        test = eids["test"] or eids["val"]  # tiny cohorts may have no test ECG
        summary["test_loss"] = masked_patch_mse(model, EcgDataset(cache, test), cfg.batch_size, cfg.seed)
        meta = {"size": size, "best_epoch": summary["best_epoch"],
                "best_val_loss": summary["best_val_loss"], "test_loss": summary["test_loss"],
                "loss": loss, "n_train": len(eids["train"]), "norm_stats": str(norm_stats_path)}
        save_ecg_encoder(model, out / "encoder.pt", meta=meta)
        figure2(model, cache, test[0], out / "figure2.png", seed=cfg.seed, title=f"ViT-{size} MAE")
        log.info("ECG MAE %s: best val loss (%s) %.4f (epoch %d), test masked-patch MSE %.4f", size,
                 loss, summary["best_val_loss"], summary["best_epoch"] + 1, summary["test_loss"])
    D.cleanup()
    return summary


@torch.no_grad()
def masked_patch_mse(model: EcgMAE, dataset, batch_size: int, seed: int) -> float:
    """Mean masked-patch MSE over ``dataset`` with seeded masks (rank 0, no DDP)."""
    dev = next(model.parameters()).device
    model.eval()
    total, n = 0.0, 0
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
            loss, _, _ = model(batch.to(dev))
            total += float(loss) * len(batch)
            n += len(batch)
    return total / max(n, 1)


@torch.no_grad()
def figure2(model: EcgMAE, cache: EcgCache, eid: str, path: str | Path, *, seed: int = 0,
            title: str = "") -> None:
    """The paper's Figure 2 for one subject, in mV (normalisation undone)."""
    dev = next(model.parameters()).device
    model.eval()
    x = torch.from_numpy(cache.get([eid])).to(dev)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        _, pred, mask = model(x)
    recon = model.unpatchify(pred.float())[0].cpu().numpy()
    hidden = mask[0].view(model.n_leads, model.n_time).repeat_interleave(model.patch_size, 1)
    orig = x[0].cpu().numpy()
    if cache.norm is not None:
        raw = cache.get([eid], normalise=False)[0]
        orig, recon = (cache.norm.invert(a, raw) for a in (orig, recon))
    plot_reconstruction(orig, recon, hidden.cpu().numpy().astype(bool), path,
                        title=f"{title}: a test-split ECG, in mV (shaded: masked patches)")




"""The training loop every stage uses (ECG MAE, CMR encoders, alignment).

API
---
``fit(model, train_set, val_set, step_fn, out_dir, cfg, *, collate_fn=None,
param_groups=None, signature=None) -> dict``

* ``step_fn(model, batch) -> (loss, metrics)``: ``batch`` is already on the device,
  ``loss`` a scalar tensor, ``metrics`` a dict of floats/0-d tensors (may be empty).
  It runs under autocast, in train mode with gradients, and in eval mode under
  ``no_grad`` for validation; it must not call ``backward``. Under DDP ``model`` is
  the ``DistributedDataParallel`` wrapper: compute everything through ``model(...)``
  (gradient sync hooks live in its ``__call__``), and use
  ``ecgcmr.core.distributed.gather_with_grad`` for cross-rank batches (CLIP).
* ``cfg``: :class:`TrainConfig`. ``batch_size`` is the **global** batch; each of the
  ``world_size`` ranks takes ``batch_size // world_size``.
* Writes ``out_dir/checkpoint.pt`` (every epoch and on SIGTERM/SIGUSR1),
  ``best_model.pt`` (weights of the best validation epoch), ``history.csv`` and
  ``curve.png``; at the end loads the best weights into ``model`` (unwrapped) and
  returns a summary dict (``best_val_loss, best_epoch, epochs_completed,
  stopped_early, history``).

Determinism and resumption: the data order of epoch ``e`` is a function of
(``seed``, ``e``) only; the checkpoint stores model, optimiser, scheduler, the
position inside the epoch, every rank's RNG states and the early-stopping counters.
SLURM sends SIGTERM (or ``--signal=USR1@...``) before a time limit: the handler only
sets a flag, the current step finishes, all ranks agree to stop, the checkpoint is
written with the epoch marked incomplete (``step_in_epoch > 0``) and
:class:`TrainingInterrupted` is raised (non-zero exit, so Snakemake/SLURM retry).
The rerun skips the samples already seen in that epoch and continues, ending with
the same weights as an uninterrupted run. A checkpoint whose config or
``signature`` differs from this run's is ignored (a config change retrains).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler

from ecgcmr.core import distributed as D
from ecgcmr.core.files import atomic_save
from ecgcmr.core.schedule import warmup_cosine
from ecgcmr.train.checkpoint import rng_state, seed_everything, seed_worker, set_rng_state

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
STOP_CHECK_EVERY = 10  # steps between the ranks' all-reduce agreeing on a signal (DDP)
BEST = "best_model.pt"


class TrainingInterrupted(RuntimeError):
    """Raised after the checkpoint is written on SIGTERM/SIGUSR1; rerun to resume."""


@dataclasses.dataclass
class TrainConfig:
    epochs: int
    batch_size: int                      # global batch (all ranks together)
    lr: float
    weight_decay: float = 0.0
    warmup_epochs: float = 0.0
    min_lr_factor: float = 0.0           # final lr = lr * min_lr_factor
    betas: tuple[float, float] = (0.9, 0.999)
    patience: int = 0                    # epochs without val improvement; 0 = never stop
    grad_clip: float = 0.0               # max grad norm; 0 = off
    seed: int = 0
    amp: bool = True                     # bf16 autocast on CUDA (CPU always fp32)
    num_workers: int = 0
    drop_last: bool = True               # equal-size train batches (contrastive losses need it)
    progress: bool | None = None         # tqdm bar; None = only when stderr is a TTY

    # not part of the training trajectory: may change between a run and its resume
    _RESUME_FREE = ("num_workers", "progress", "patience")

    @classmethod
    def from_config(cls, *sections: dict) -> "TrainConfig":
        """Merge config sections (later wins), keeping only this class's fields, so a
        stage passes ``config["train"]`` and its own section unchanged."""
        names = {f.name for f in dataclasses.fields(cls)}
        merged = {k: v for s in sections for k, v in s.items() if k in names}
        if "betas" in merged:
            merged["betas"] = tuple(merged["betas"])
        return cls(**merged)

    def trajectory(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(d["betas"])
        return {k: v for k, v in d.items() if k not in self._RESUME_FREE}


def fit(model: torch.nn.Module, train_set, val_set, step_fn, out_dir, cfg: TrainConfig, *,
        collate_fn=None, param_groups=None, signature: dict | None = None) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev, rank, world = D.device(), D.rank(), D.world_size()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by world size {world}")
    local_bs = cfg.batch_size // world
    seed_everything(cfg.seed + rank)

    model.to(dev)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None)
    # fused: one kernel over all parameters; torch's CPU default loops over them in
    # Python, 13 % of a demo ViT-MAE step (7 % of pretrain_ecg's wall time saved)
    opt = torch.optim.AdamW(param_groups or default_param_groups(model, cfg.weight_decay),
                            lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=True)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                 seed=cfg.seed, drop_last=cfg.drop_last)
    n_local = len(sampler)
    steps_per_epoch = n_local // local_bs if cfg.drop_last else math.ceil(n_local / local_bs)
    if steps_per_epoch < 1:
        raise ValueError(f"{len(train_set)} training samples give no batch of {cfg.batch_size}")
    sched = warmup_cosine(opt, round(cfg.warmup_epochs * steps_per_epoch),
                          cfg.epochs * steps_per_epoch, cfg.min_lr_factor)
    state = {"epoch": 0, "step_in_epoch": 0, "best": math.inf, "best_epoch": -1,
             "bad_epochs": 0, "stopped_early": False, "finished": False,
             "history": [], "sums": {}, "n_seen": 0}
    key = {"cfg": cfg.trajectory(), "signature": signature or {}, "world_size": world}
    state = _resume(out, key, model, opt, sched, state, rank)

    stop = _StopFlag()
    with stop:
        while not state["finished"]:
            epoch = state["epoch"]
            t0 = time.monotonic()
            _train_epoch(net, step_fn, train_set, sampler, epoch, local_bs, cfg, opt, sched,
                         state, dev, collate_fn, stop, out, key, model, steps_per_epoch)
            val = _evaluate(net, step_fn, val_set, local_bs, cfg, dev, collate_fn, rank, world)
            row = {"epoch": epoch, "lr": opt.param_groups[0]["lr"],
                   **{f"train_{k}": v / max(state["n_seen"], 1) for k, v in state["sums"].items()},
                   **{f"val_{k}": v for k, v in val.items()}, "time_s": time.monotonic() - t0}
            state["history"].append(row)
            state.update(epoch=epoch + 1, step_in_epoch=0, sums={}, n_seen=0)
            if val["loss"] < state["best"]:
                state.update(best=val["loss"], best_epoch=epoch, bad_epochs=0)
                if D.is_main():
                    atomic_save(model.state_dict(), out / BEST)
            else:
                state["bad_epochs"] += 1
            if cfg.patience and state["bad_epochs"] >= cfg.patience:
                state["stopped_early"] = True
            state["finished"] = state["stopped_early"] or state["epoch"] >= cfg.epochs
            _save_checkpoint(out, key, model, opt, sched, state)
            if D.is_main():
                _write_history(state["history"], out)
                log.info("epoch %d/%d %s", epoch + 1, cfg.epochs, " ".join(
                    f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"))
            if stop.agreed() and not state["finished"]:
                raise TrainingInterrupted(f"stopped by signal after epoch {epoch}; rerun to resume")

    if D.is_main() and state["history"]:
        _write_history(state["history"], out)  # also after a no-op rerun of a finished run
    D.barrier()
    if (out / BEST).exists():
        model.load_state_dict(torch.load(out / BEST, map_location=dev, weights_only=True))
    return {"best_val_loss": state["best"], "best_epoch": state["best_epoch"],
            "epochs_completed": state["epoch"], "stopped_early": state["stopped_early"],
            "history": state["history"]}


def default_param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases, norms (1-D) and on the names the model
    lists in ``no_weight_decay()`` (timm/MAE convention: tokens, position tables)."""
    skip = set(getattr(model, "no_weight_decay", lambda: ())())
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 or name in skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def _train_epoch(net, step_fn, train_set, sampler, epoch, local_bs, cfg, opt, sched, state, dev,
                 collate_fn, stop, out, key, model, steps_per_epoch):
    sampler.set_epoch(epoch)
    order = list(sampler)[state["step_in_epoch"] * local_bs:]  # resume inside the epoch
    loader = DataLoader(train_set, batch_size=local_bs, sampler=order, drop_last=cfg.drop_last,
                        num_workers=cfg.num_workers, collate_fn=collate_fn,
                        pin_memory=dev.type == "cuda", worker_init_fn=seed_worker,
                        # worker seeds from (seed, epoch), not from the global RNG
                        generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
    net.train()
    bar = _progress(cfg, steps_per_epoch, state["step_in_epoch"], f"epoch {epoch + 1}")
    # sums stay on the device during the epoch: no host sync per step
    sums = {k: torch.tensor(v, dtype=torch.float64, device=dev) for k, v in state["sums"].items()}
    check_every = 1 if D.world_size() == 1 else STOP_CHECK_EVERY
    for batch in loader:
        batch = _to_device(batch, dev)
        with _autocast(dev, cfg.amp):
            loss, metrics = step_fn(net, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        n = _batch_len(batch)
        for k, v in {"loss": loss, **metrics}.items():
            v = torch.as_tensor(v).detach().to(dev, torch.float64) * n
            sums[k] = sums[k] + v if k in sums else v
        state["n_seen"] += n
        state["step_in_epoch"] += 1
        if bar is not None:
            bar.update(1)
        if state["step_in_epoch"] % check_every == 0 and stop.agreed():
            _reduce_sums(state, sums, dev)
            _save_checkpoint(out, key, model, opt, sched, state)
            raise TrainingInterrupted(f"stopped by signal in epoch {epoch} after step "
                                      f"{state['step_in_epoch']}; rerun to resume")
    if bar is not None:
        bar.close()
    _reduce_sums(state, sums, dev)
    if not math.isfinite(state["sums"].get("loss", 0.0)):
        raise FloatingPointError(f"non-finite training loss in epoch {epoch}")


def _reduce_sums(state, sums, dev) -> None:
    """Sample-weighted sums over all ranks into ``state`` (rank 0 keeps them on resume)."""
    t = torch.stack([torch.tensor(float(state["n_seen"]), dtype=torch.float64, device=dev),
                     *sums.values()])
    t = D.all_reduce_sum(t).cpu().tolist()
    state["n_seen"], state["sums"] = t[0], dict(zip(sums, t[1:]))


@torch.no_grad()
def _evaluate(net, step_fn, val_set, local_bs, cfg, dev, collate_fn, rank, world) -> dict:
    """Sample-mean validation metrics over all ranks (no padding, no duplicates).
    Runs in a forked RNG seeded the same every epoch: a stochastic step (MAE masks)
    sees the same draws each epoch and training's RNG stream is untouched."""
    loader = DataLoader(val_set, batch_size=local_bs, sampler=range(rank, len(val_set), world),
                        num_workers=cfg.num_workers, collate_fn=collate_fn,
                        pin_memory=dev.type == "cuda")
    net.eval()
    sums: dict[str, float] = {}
    n_seen = 0
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(cfg.seed + 7 + rank)
        for batch in loader:
            batch = _to_device(batch, dev)
            with _autocast(dev, cfg.amp):
                loss, metrics = step_fn(net, batch)
            n = _batch_len(batch)
            for k, v in {"loss": loss, **metrics}.items():
                sums[k] = sums.get(k, 0.0) + float(v) * n
            n_seen += n
    keys = sorted(sums) if sums else ["loss"]
    t = torch.tensor([n_seen, *[sums.get(k, 0.0) for k in keys]], dtype=torch.float64)
    t = D.all_reduce_sum(t.to(dev)).cpu().tolist()
    if t[0] == 0:
        raise ValueError("the validation set is empty")
    return {k: v / t[0] for k, v in zip(keys, t[1:])}


# --- checkpoint ---------------------------------------------------------------------

def _save_checkpoint(out, key, model, opt, sched, state) -> None:
    rngs = D.all_gather_object(rng_state())  # every rank's stream, for an exact resume
    if D.is_main():
        atomic_save({"key": key, "model": model.state_dict(), "optimizer": opt.state_dict(),
                      "scheduler": sched.state_dict(), "state": state, "rng": rngs},
                     out / CHECKPOINT)
    D.barrier()


def _resume(out, key, model, opt, sched, state, rank) -> dict:
    path = out / CHECKPOINT
    if not path.exists():
        return state
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if ck.get("key") != key:   # (no key: not written by this loop)
        log.warning("ignoring %s: written by a run with another config/signature", path)
        return state
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    set_rng_state(ck["rng"][rank])
    st = ck["state"]
    if rank != 0:  # the saved partial-epoch sums are already summed over ranks
        st.update(sums={k: 0.0 for k in st["sums"]}, n_seen=0)
    if st["finished"]:
        # a retry after the last epoch only re-exports; but a --forcerun after a code
        # change would silently get the old weights, so say so
        log.warning("%s holds a finished training of this same config and inputs (%d epochs): "
                    "reusing its weights, not retraining; delete it to train again", path, st["epoch"])
        return st
    log.info("resuming from %s: epoch %d, step %d", path, st["epoch"] + 1, st["step_in_epoch"])
    return st


def _write_history(history: list[dict], out: Path) -> None:
    from ecgcmr.train.figures import plot_curves
    cols = list(dict.fromkeys(k for row in history for k in row))
    tmp = out / "history.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(history)
    os.replace(tmp, out / "history.csv")
    plot_curves(history, out / "curve.png")


# --- small helpers ------------------------------------------------------------------

class _StopFlag:
    """SIGTERM/SIGUSR1 set a flag (never raise inside a step); ``agreed()`` is True on
    every rank once any rank got a signal, so all ranks stop after the same step."""

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self):
        self.flag = False
        self._old = {}

    def _handler(self, signum, frame):
        log.warning("received signal %d: checkpointing after the current step", signum)
        self.flag = True

    def __enter__(self):
        for s in self.SIGNALS:
            self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)

    def agreed(self) -> bool:
        if not D.is_distributed():
            return self.flag
        t = torch.tensor([float(self.flag)], device=D.device())
        return bool(D.all_reduce_sum(t).item() > 0)


def _autocast(dev: torch.device, amp: bool):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and dev.type == "cuda") \
        if dev.type == "cuda" else torch.autocast("cpu", enabled=False)


def _to_device(batch, dev):
    if torch.is_tensor(batch):
        return batch.to(dev, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, dev) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, dev) for v in batch)
    return batch


def _batch_len(batch) -> int:
    if torch.is_tensor(batch):
        return batch.shape[0]
    if isinstance(batch, dict):
        return _batch_len(next(iter(batch.values())))
    return _batch_len(batch[0])


def _progress(cfg, total, initial, desc):
    show = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
    if not (show and D.is_main()):
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, leave=False)

"""torch.distributed helpers: one process per GPU, started by ``torchrun`` or ``srun``.

Every helper also works in a plain single process (no process group): rank 0 of a
world of 1, so trainers never branch on "distributed or not".
"""

from __future__ import annotations

import gc
import os

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env() -> bool:
    """Join the process group described by the environment, if any.

    torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR/PORT``; under
    ``srun`` without torchrun we fall back to ``SLURM_PROCID``/``SLURM_NTASKS``.
    Returns True when a group of more than one process is (now) initialised.
    Backend: NCCL on CUDA, gloo on CPU.
    """
    if is_distributed():
        return dist.get_world_size() > 1
    env = os.environ
    world = int(env.get("WORLD_SIZE", env.get("SLURM_NTASKS", "1")))
    if world <= 1:
        return False
    rk = int(env.get("RANK", env.get("SLURM_PROCID", "0")))
    env.setdefault("MASTER_ADDR", "127.0.0.1")
    env.setdefault("MASTER_PORT", "29500")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend, rank=rk, world_size=world)
    return True


def local_rank() -> int:
    env = os.environ
    return int(env.get("LOCAL_RANK", env.get("SLURM_LOCALID", "0")))


def device() -> torch.device:
    """This process's device: its local GPU, or the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank())
    return torch.device("cpu")


def cleanup() -> None:
    """Leave the process group together and explicitly, never at interpreter exit.

    Why: a gloo group still alive when Python shuts down can abort the process
    ("terminate called without an active exception", pytorch/pytorch#179291; seen once
    in CI as rank 1's SIGABRT). So garbage that may hold the group's work objects is
    collected first, and the barrier keeps a rank from tearing down while a peer is
    still communicating. Every trainer calls this last; in one process it does nothing.
    """
    if is_distributed():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over ranks (in place, and returned); identity in one process."""
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather_object(obj) -> list:
    """Every rank's ``obj`` (picklable), in rank order."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` (B, ...) from all ranks along dim 0, in rank order, keeping
    the autograd graph: gradients flowing into rank r's slice reach rank r's ``t``
    (summed over all ranks' losses), as in open_clip's ``gather_features``.

    Uses ``torch.distributed.nn.functional.all_gather``, whose backward works on both
    NCCL (reduce-scatter) and gloo (all-to-all). Identity in one process.
    Every rank must pass a tensor of the same shape.
    """
    if not is_distributed() or world_size() == 1:
        return t
    from torch.distributed.nn.functional import all_gather
    return torch.cat(all_gather(t), dim=0)

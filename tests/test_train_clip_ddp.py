"""The distributed CLIP loss (2 gloo processes, real torch.distributed + DDP) gives the
single-process loss and gradients on the same global batch."""

import faulthandler
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ecgcmr.core import distributed as D
from ecgcmr.train.clip_loss import ClipLoss

PAIRS = [("ecg", "ed"), ("ecg", "es"), ("ed", "es")]
N_GLOBAL, D_IN, D_OUT = 8, 5, 4


class TinyAligner(nn.Module):
    """One linear projection per modality + the loss (with a learnable temperature, so
    its gradient is checked too)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.ModuleDict({m: nn.Linear(D_IN, D_OUT) for m in ("ecg", "ed", "es")})
        self.loss = ClipLoss(PAIRS, temperature=0.1, learnable_temperature=True)

    def forward(self, batch):
        return self.loss({m: self.proj[m](x) for m, x in batch.items()})[0]


def global_batch():
    g = torch.Generator().manual_seed(1)
    return {m: torch.randn(N_GLOBAL, D_IN, generator=g) for m in ("ecg", "ed", "es")}


def _worker(rank, world, init_file, out_dir):
    faulthandler.enable()  # a native abort in a rank prints its Python stack into the log
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        _run(rank, world, out_dir)  # its DDP wrapper is gone before the group is destroyed
    finally:
        D.cleanup()


def _run(rank, world, out_dir):
    model = DistributedDataParallel(TinyAligner())
    n = N_GLOBAL // world
    local = {m: x[rank * n:(rank + 1) * n] for m, x in global_batch().items()}
    loss = model(local)
    loss.backward()
    mean_loss = loss.detach().clone()
    dist.all_reduce(mean_loss)
    mean_loss /= world
    grads = {k: p.grad for k, p in model.module.named_parameters()}
    # The temperature lives in the same DDP module, so DDP averages its grad too.
    torch.save({"loss": mean_loss, "grads": grads}, os.path.join(out_dir, f"rank{rank}.pt"))


@pytest.mark.slow
def test_two_process_gather_matches_single_process(tmp_path):
    torch.set_num_threads(1)
    ref_model = TinyAligner()
    ref_loss = ref_model(global_batch())
    ref_loss.backward()
    ref_grads = {k: p.grad for k, p in ref_model.named_parameters()}

    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)

    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert got["loss"].item() == pytest.approx(ref_loss.item(), rel=1e-5)
        assert set(got["grads"]) == set(ref_grads)
        for k, g in ref_grads.items():
            torch.testing.assert_close(got["grads"][k], g, rtol=1e-4, atol=1e-6)

"""Real torch.distributed (gloo, 2 processes): the loop gives the same losses and
weights as one process on the same global batch, and gather_with_grad works."""

from __future__ import annotations

import faulthandler
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from ecgcmr.train.loop import TrainConfig, fit

CFG = dict(epochs=2, batch_size=8, lr=1e-2, warmup_epochs=0.5, seed=5, num_workers=0)


def _data_and_model():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=g)
    y = x @ torch.randn(5, 1, generator=g)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    # 37 val samples: ranks get 19 and 18, the mean must still be over all 37
    return torch.utils.data.TensorDataset(x, y), torch.utils.data.TensorDataset(x[:37], y[:37]), model


def _step(m, b):
    x, y = b
    return ((m(x) - y) ** 2).mean(), {}


def _worker(rank, world, port, out):
    faulthandler.enable()  # a native abort in a rank prints its Python stack into the log
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from ecgcmr.core import distributed as D
    assert D.init_from_env() and D.world_size() == world and D.rank() == rank
    try:
        # gather_with_grad: concatenated in rank order, gradient reaches each rank's input
        t = torch.full((2, 3), float(rank + 1), requires_grad=True)
        allt = D.gather_with_grad(t)
        assert allt.shape == (2 * world, 3) and allt[2 * rank:2 * rank + 2].eq(rank + 1).all()
        (allt * torch.arange(2 * world).view(-1, 1)).sum().backward()
        # every rank's loss contributes: grad = world * row index
        expect = world * torch.arange(2 * rank, 2 * rank + 2).view(-1, 1).float().expand(2, 3)
        assert torch.equal(t.grad, expect), t.grad

        train, val, model = _data_and_model()
        res = fit(model, train, val, _step, out, TrainConfig(**CFG))
        if rank == 0:
            torch.save({"history": res["history"], "model": model.state_dict()}, f"{out}/ddp.pt")
    finally:
        D.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_matches_single_process(tmp_path):
    torch.set_num_threads(1)
    train, val, model = _data_and_model()
    single = fit(model, train, val, _step, tmp_path / "single", TrainConfig(**CFG))

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
    ddp = torch.load(tmp_path / "ddp" / "ddp.pt", weights_only=True)
    for a, b in zip(single["history"], ddp["history"]):
        for k in ("train_loss", "val_loss", "lr"):
            assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-7), k
    for k, v in model.state_dict().items():
        torch.testing.assert_close(ddp["model"][k], v, rtol=1e-5, atol=1e-6)

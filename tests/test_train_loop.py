"""The shared trainer: schedule, early stopping, checkpoint/resume, SIGTERM handling."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from ecgcmr.train.loop import TrainConfig, TrainingInterrupted, fit
from ecgcmr.core.schedule import WarmupCosine

# The job every test trains: a small MLP with dropout, so an exact resume needs the
# data order *and* the RNG state restored. SLEEP slows steps for the signal test.
JOB = textwrap.dedent("""
    import sys, time, torch
    from ecgcmr.train.loop import TrainConfig, fit
    torch.set_num_threads(1)

    def make():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(96, 6, generator=g)
        y = torch.sin(x.sum(1, keepdim=True))
        ds = torch.utils.data.TensorDataset(x, y)
        torch.manual_seed(123)
        model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.GELU(),
                                    torch.nn.Dropout(0.3), torch.nn.Linear(32, 1))
        return model, ds

    SLEEP = 0.0
    def step(m, b):
        time.sleep(SLEEP)
        x, y = b
        return ((m(x) - y) ** 2).mean(), {}

    CFG = dict(epochs=4, batch_size=8, lr=3e-3, weight_decay=0.01, warmup_epochs=1, seed=3)

    if __name__ == "__main__":
        SLEEP = float(sys.argv[2])
        model, ds = make()
        fit(model, ds, ds, step, sys.argv[1], TrainConfig(**CFG))
        torch.save(model.state_dict(), sys.argv[1] + "/final.pt")
""")


@pytest.fixture
def job(tmp_path, monkeypatch):
    path = tmp_path / "job.py"
    path.write_text(JOB)
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.set_num_threads(1)
    import importlib
    return importlib.import_module("job"), path


def test_schedule_warmup_then_half_cosine():
    s = WarmupCosine(warmup_steps=4, total_steps=12, min_factor=0.1)
    assert [s(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s(4) == pytest.approx(1.0)
    assert s(8) == pytest.approx(0.1 + 0.9 * 0.5)          # half-way down the cosine
    assert s(12) == pytest.approx(0.1) and s(50) == pytest.approx(0.1)
    vals = [s(i) for i in range(4, 13)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


def test_fit_writes_outputs_and_resume_of_finished_run_is_noop(job, tmp_path, caplog):
    mod, _ = job
    model, ds = mod.make()
    res = fit(model, ds, ds, mod.step, tmp_path / "run", TrainConfig(**mod.CFG))
    for name in ("checkpoint.pt", "best_model.pt", "history.csv", "curve.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    hist = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert hist[0].startswith("epoch,lr,train_loss,val_loss") and len(hist) == 5
    losses = [h["val_loss"] for h in res["history"]]
    assert losses[-1] < losses[0]
    assert res["best_val_loss"] == min(losses) and res["epochs_completed"] == 4
    # the returned model holds the best epoch's weights
    best = torch.load(tmp_path / "run" / "best_model.pt", weights_only=True)
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())
    # a rerun of a finished run trains nothing and returns the same summary
    model2, _ = mod.make()
    with caplog.at_level("WARNING", logger="ecgcmr.train.loop"):
        res2 = fit(model2, ds, ds, mod.step, tmp_path / "run", TrainConfig(**mod.CFG))
    assert "finished training" in caplog.text and "delete it to train again" in caplog.text
    assert res2["history"] == res["history"]
    assert all(torch.equal(best[k], v) for k, v in model2.state_dict().items())


def test_early_stopping_with_patience(job, tmp_path):
    mod, _ = job
    model, ds = mod.make()
    # lr 0 after warm-up: validation never improves after the first epoch
    cfg = TrainConfig(**{**mod.CFG, "epochs": 10, "lr": 0.0, "patience": 2})
    res = fit(model, ds, ds, mod.step, tmp_path / "es", cfg)
    assert res["stopped_early"] and res["epochs_completed"] == 3 and res["best_epoch"] == 0


def test_checkpoint_of_another_config_is_ignored(job, tmp_path):
    mod, _ = job
    model, ds = mod.make()
    fit(model, ds, ds, mod.step, tmp_path / "r", TrainConfig(**{**mod.CFG, "epochs": 1}))
    model, _ = mod.make()
    res = fit(model, ds, ds, mod.step, tmp_path / "r", TrainConfig(**{**mod.CFG, "epochs": 2}))
    assert [h["epoch"] for h in res["history"]] == [0, 1]  # retrained from scratch


def test_signal_inside_a_step_checkpoints_mid_epoch_and_resume_is_exact(job, tmp_path):
    """In-process: the step itself raises SIGTERM at step 13 (epoch 1 of 12 steps)."""
    mod, _ = job
    model, ds = mod.make()
    fit(model, ds, ds, mod.step, tmp_path / "ref", TrainConfig(**mod.CFG))
    calls = {"n": 0}

    def killing_step(m, b):
        calls["n"] += m.training
        if calls["n"] == 14 and m.training:
            os.kill(os.getpid(), signal.SIGTERM)
        return mod.step(m, b)

    model2, _ = mod.make()
    with pytest.raises(TrainingInterrupted):
        fit(model2, ds, ds, killing_step, tmp_path / "int", TrainConfig(**mod.CFG))
    ck = torch.load(tmp_path / "int" / "checkpoint.pt", weights_only=True)
    assert ck["state"]["epoch"] == 1 and 0 < ck["state"]["step_in_epoch"] < 12
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler removed again
    model3, _ = mod.make()
    res = fit(model3, ds, ds, mod.step, tmp_path / "int", TrainConfig(**mod.CFG))
    assert [h["epoch"] for h in res["history"]] == [0, 1, 2, 3]
    for k, v in model.state_dict().items():
        assert torch.equal(v, model3.state_dict()[k]), k


@pytest.mark.slow
def test_sigterm_from_outside_then_rerun_gives_identical_weights(job, tmp_path):
    """A real kill: SIGTERM sent by another process after the first checkpoint."""
    mod, script = job
    model, ds = mod.make()
    fit(model, ds, ds, mod.step, tmp_path / "ref", TrainConfig(**mod.CFG))
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, str(script), str(out), "0.02"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.pt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.01)
    time.sleep(0.05)  # into epoch 2
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "TrainingInterrupted" in err, err
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert not ck["state"]["finished"]
    done = subprocess.run(cmd[:-1] + ["0"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    resumed = torch.load(out / "final.pt", weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, resumed[k]), k
    assert not math.isnan(ck["state"]["best"])

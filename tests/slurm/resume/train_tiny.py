"""Train a linear model with ecgcmr.train.loop.fit; every start is appended to
model/attempts.jsonl (not an output, so it survives a failed attempt like the
checkpoint does) with the SLURM job id and the GPU the job was given."""

import json
import os
import time
from pathlib import Path

import torch

from ecgcmr.logs import snakemake_logging
from ecgcmr.train.loop import TrainConfig, fit


def step(model, batch):
    x, y = batch
    time.sleep(snakemake.params.step_sleep_s)  # a "slow" step leaves time to signal mid-run
    return torch.nn.functional.mse_loss(model(x), y), {}


with snakemake_logging(snakemake):
    torch.set_num_threads(1)
    out = Path(snakemake.params.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "attempts.jsonl", "a") as f:
        f.write(json.dumps({"slurm_job_id": os.environ.get("SLURM_JOB_ID"),
                            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                            "had_checkpoint": (out / "checkpoint.pt").exists()}) + "\n")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 16, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    torch.manual_seed(0)  # the initial weights too: the test compares two runs' results
    model = torch.nn.Linear(16, 1)
    cfg = TrainConfig(epochs=snakemake.params.epochs, batch_size=8, lr=1e-2, amp=False, seed=0)
    summary = fit(model, data, data, step, out, cfg)
    torch.save(model.state_dict(), snakemake.output.weights)
    attempts = [json.loads(line) for line in open(out / "attempts.jsonl")]
    Path(snakemake.output.summary).write_text(json.dumps(
        {"epochs_completed": summary["epochs_completed"], "attempts": attempts}, indent=1))

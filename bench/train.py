"""Benchmark: training-step throughput and hardware efficiency of the trainers' models.

For each named measurement (``MEASUREMENTS``: "mae" = the ECG ViT MAE at every Table 3
size; other trainers add their own entry) it times full training steps (forward,
backward, AdamW step) at a realistic batch size, counts the FLOPs of one step with
``torch.utils.flop_counter.FlopCounterMode`` and divides the achieved FLOP/s by this
machine's matmul peak, measured here with a large ``torch.matmul`` in the same dtype
(bf16 on CUDA, fp32 on CPU). Target: >= 40 % of peak for MAE steps on a GPU at
realistic batch sizes. Results are merged into bench/results/train.json.

    .venv/bin/python bench/train.py [--only mae] [--sizes tiny small] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from ecgcmr.specs import VIEWS
from ecgcmr.models.vit_mae import VIT_SIZES, EcgMAE, flops_per_sample

RESULTS = Path(__file__).resolve().parent / "results" / "train.json"
aten = torch.ops.aten
# FlopCounterMode has no formula for the CPU flash-attention kernels (CUDA ones are
# registered), so attention would be left out of the count on CPU.
_CPU_SDPA = {
    aten._scaled_dot_product_flash_attention_for_cpu:
        lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v),
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
        lambda g, q, k, v, *a, out_shape=None, **kw: sdpa_backward_flop_count(g, q, k, v),
}


def device_and_dtype() -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(dev: torch.device, dtype: torch.dtype, seconds: float = 2.0) -> float:
    """Achieved FLOP/s of a large square matmul: the practical peak of this machine."""
    n = 8192 if dev.type == "cuda" else 2048
    a, b = (torch.randn(n, n, device=dev, dtype=dtype) for _ in range(2))
    torch.matmul(a, b)
    _sync(dev)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.matmul(a, b)
        reps += 1
        if dev.type == "cuda" and reps % 10:
            continue
        _sync(dev)
    _sync(dev)
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def time_training_step(model, make_batch, step, dev, dtype, n_steps: int) -> dict:
    """Seconds per training step (after one warm-up step) and FLOPs of one step."""
    model.to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = make_batch()

    def one():
        with torch.autocast(dev.type, dtype=dtype, enabled=dev.type == "cuda"):
            loss = step(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False, custom_mapping=_CPU_SDPA) as counter:
        one()  # also the warm-up
    one()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(n_steps):
        one()
    _sync(dev)
    return {"s_per_step": (time.perf_counter() - t0) / n_steps, "flops_per_step": counter.get_total_flops()}


def bench_mae(dev, dtype, peak: float, sizes, steps: int, batch: dict[str, int]) -> dict:
    out = {}
    for size in sizes:
        torch.manual_seed(0)
        model = EcgMAE.from_size(size)
        bs = batch[size]
        r = time_training_step(model, lambda: torch.randn(bs, 12, 5000, device=dev),
                               lambda m, x: m(x)[0], dev, dtype, steps)
        achieved = r["flops_per_step"] / r["s_per_step"]
        out[size] = {
            "batch_size": bs, "steps_timed": steps,
            "samples_per_s": round(bs / r["s_per_step"], 3),
            "s_per_step": round(r["s_per_step"], 4),
            "gflop_per_step": round(r["flops_per_step"] / 1e9, 2),
            # forward+backward ~ 3x forward: checks the counter against the model's shapes
            "gflop_per_step_analytic": round(3 * bs * flops_per_sample(model) / 1e9, 2),
            "achieved_tflops": round(achieved / 1e12, 4),
            "fraction_of_peak": round(achieved / peak, 3),
            "encoder_params_m": round(model.encoder_parameters() / 1e6, 2),
        }
        print(f"mae {size:6s} batch {bs:3d}: {out[size]['samples_per_s']:8.2f} samples/s, "
              f"{out[size]['achieved_tflops']:.3f} TFLOP/s = {100 * out[size]['fraction_of_peak']:.0f}% of peak",
              flush=True)
        del model
    return out


def bench_cmr(dev, dtype, peak: float, views, steps: int, batch: int, side: int, frames: int) -> dict:
    """CMR encoders (paper 2.2): one pretraining step (regression head, MSE) per view on
    crops of ``side`` x ``side`` pixels (six slices for ED/ES, ``frames`` for 2DT)."""
    from ecgcmr.models.cmr_encoders import build_cmr_encoder

    shapes = {"ED": (1, side, side, 6), "ES": (1, side, side, 6), "2D": (1, side, side),
              "2DT": (frames, 1, side, side)}
    out = {}
    for view in views:
        torch.manual_seed(0)
        model = build_cmr_encoder(view)
        shape = shapes[VIEWS[view].crop]
        r = time_training_step(model, lambda: torch.randn(batch, *shape, device=dev),
                               lambda m, x: m(x).float().pow(2).mean(), dev, dtype, steps)
        achieved = r["flops_per_step"] / r["s_per_step"]
        out[view] = {
            "batch_size": batch, "input_shape": list(shape), "steps_timed": steps,
            "samples_per_s": round(batch / r["s_per_step"], 3),
            "s_per_step": round(r["s_per_step"], 4),
            "gflop_per_step": round(r["flops_per_step"] / 1e9, 2),
            "achieved_tflops": round(achieved / 1e12, 4),
            "fraction_of_peak": round(achieved / peak, 3),
            "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        }
        print(f"cmr {view:6s} batch {batch:3d}: {out[view]['samples_per_s']:8.2f} samples/s, "
              f"{out[view]['achieved_tflops']:.3f} TFLOP/s = {100 * out[view]['fraction_of_peak']:.0f}% of peak",
              flush=True)
        del model
    return out


def bench_cmr_views(dev, dtype, peak: float, views, steps: int) -> dict:
    """UKB-like crops on a GPU: ~1.8 mm pixels and a ~170 mm heart box -> 96 px, all 50
    frames for 2DT; the authors' batch 64 (2DT: 8 subjects = 400 frames). CPU: a
    smoke-sized run (batch 2, 64 px, 10 frames)."""
    gpu = dev.type == "cuda"
    out = {}
    for view in views:
        batch = (8 if view == "mid2dt" else 64) if gpu else 2
        out.update(bench_cmr(dev, dtype, peak, [view], steps, batch, 96 if gpu else 64, 50 if gpu else 10))
    return out


# name -> function(dev, dtype, peak, args) -> dict; other trainers add their entry here
MEASUREMENTS = {
    "mae": lambda dev, dtype, peak, a: bench_mae(
        dev, dtype, peak, a.sizes, a.steps,
        # realistic: the authors' batch 64 on a GPU; CPU runs small batches (slow)
        {s: (64 if dev.type == "cuda" else {"tiny": 8, "small": 4}.get(s, 2)) for s in VIT_SIZES}),
    "cmr": lambda dev, dtype, peak, a: bench_cmr_views(dev, dtype, peak, a.views, a.steps),
}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=list(MEASUREMENTS), choices=list(MEASUREMENTS))
    ap.add_argument("--sizes", nargs="*", default=list(VIT_SIZES), choices=list(VIT_SIZES))
    ap.add_argument("--views", nargs="*", default=[v for v, s in VIEWS.items() if s.crop != "ES"],
                    choices=list(VIEWS),
                    help="CMR encoder views to time (default: all but the ES views, their ED twins' cost)")
    ap.add_argument("--steps", type=int, default=2, help="timed steps per model (after 2 untimed)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev, dtype = device_and_dtype()
    peak = matmul_peak(dev, dtype)
    print(f"{dev} {dtype}: matmul peak {peak / 1e12:.3f} TFLOP/s", flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {
        "device": torch.cuda.get_device_name() if dev.type == "cuda" else platform.processor() or platform.machine(),
        "dtype": str(dtype), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "matmul_peak_tflops": round(peak / 1e12, 4),
    }
    for name in args.only:
        results[name] = MEASUREMENTS[name](dev, dtype, peak, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()

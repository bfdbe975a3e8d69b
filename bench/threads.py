"""A ViT-MAE training step alone and beside a CPU hog, with torch's old thread setup and
with ``ecgcmr.train.threads`` -> bench/results/train.json "contention".

    .venv/bin/python bench/threads.py [--steps 8] [--rounds 2] [--threads 2]

Each measurement is a fresh interpreter (OpenMP's wait policy is fixed when torch
loads): "default" is what the trainer scripts did before (``torch.set_num_threads(threads)``,
OpenMP's default spinning waits), "configured" imports ``ecgcmr.train.threads`` first and
calls ``configure_threads(threads)``. The hog is one busy Python loop per CPU, started
before and stopped after the step loop. Runs are interleaved (alone/hog x both setups, per
round). Reported: wall and CPU seconds per step and the hog/alone ratio of wall time per
step (what a job's runtime feels). The demo's model (ViT-Tiny, 120 tokens, batch 16) and
the paper's token count (600) are measured. CPU only in this session: no GPU figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "train.json"


def child(setup: str, threads: int, steps: int, patch_size: int, batch: int) -> dict:
    if setup == "configured":
        from ecgcmr.train.threads import configure_threads

        import torch
        configure_threads(threads)
    else:
        import torch
        torch.set_num_threads(threads)
    from ecgcmr.models.vit_mae import EcgMAE

    torch.manual_seed(0)
    model = EcgMAE.from_size("tiny", patch_size=patch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 12, 5000)

    def step():
        loss, _, _ = model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return {"wall_s_per_step": (time.perf_counter() - t0) / steps, "cpu_s_per_step": (time.process_time() - c0) / steps,
            "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)")}


def _measure(setup: str, hog: bool, args, patch_size: int) -> dict:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)] if hog else []
    try:
        out = subprocess.run([sys.executable, __file__, "--child", setup, "--threads", str(args.threads),
                              "--steps", str(args.steps), "--patch-size", str(patch_size), "--batch", str(args.batch)],
                             check=True, capture_output=True, text=True).stdout
    finally:
        for p in hogs:   # only the processes started here
            p.kill()
            p.wait()
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", choices=["default", "configured"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch-size", type=int, default=500)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.threads, args.steps, args.patch_size, args.batch)))
        return 0
    result = {"threads": args.threads, "steps": args.steps, "rounds": args.rounds, "batch": args.batch,
              "model": "ViT-Tiny MAE", "load_avg_before": [round(v, 2) for v in os.getloadavg()],
              "device": "cpu (no GPU in this session: GPU figures left for a GPU machine)"}
    for patch_size in (500, 100):
        runs: dict[str, list[dict]] = {}
        for _ in range(args.rounds):
            for setup in ("default", "configured"):
                for hog in (False, True):
                    runs.setdefault(f"{setup}_{'hog' if hog else 'alone'}", []).append(_measure(setup, hog, args, patch_size))
        best = {k: {m: round(min(r[m] for r in v), 4) for m in ("wall_s_per_step", "cpu_s_per_step")} for k, v in runs.items()}
        for setup in ("default", "configured"):
            best[f"{setup}_hog_over_alone_wall"] = round(best[f"{setup}_hog"]["wall_s_per_step"]
                                                         / best[f"{setup}_alone"]["wall_s_per_step"], 2)
        result[f"tokens_{12 * 5000 // patch_size}"] = best
    result["load_avg_after"] = [round(v, 2) for v in os.getloadavg()]
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["contention"] = result
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A small hand-built run directory for the inference commands (predict, embed,
export): a tiny ViT MAE encoder, norm stats, probes trained on its embedding width and
the manifest, laid out like {results}. Imported explicitly (not a pytest conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from conftest_evaluate import FAST_PROBE, planted_cohort
from ecgcmr.evaluate.probe import run_probes
from ecgcmr.inference.manifest import write_manifest
from ecgcmr.models import save_ecg_encoder
from ecgcmr.models.vit_mae import EcgMAE

ECG_PARAMS = {"sample_rate": 500, "n_samples": 5000, "highpass_hz": 0.5, "highpass_order": 4, "notch_hz": 50,
              "notch_q": 40, "savgol_window": 15, "savgol_polyorder": 3, "cache_dtype": "float16",
              "flat_lead_uv": 10}
DIM = 16


def build_run(run: Path, training_ranges: Path | None = None, cohort: dict | None = None) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    enc_dir = run / "models" / "align_dual_phase"
    enc_dir.mkdir(parents=True)
    model = EcgMAE(embed_dim=DIM, depth=1, num_heads=2, decoder=False)
    save_ecg_encoder(model, enc_dir / "ecg_encoder.pt")
    (run / "ecg").mkdir()
    (run / "ecg" / "norm_stats.json").write_text(json.dumps({"mean": [0.0] * 12, "std": [0.2] * 12, "n_records": 9}))
    c = planted_cohort(run / "planted", n=80, dim=DIM)
    targets = ["LVEF", "LVDV", "HF", "SCD"]   # SCD: no cases -> unusable probe
    weights = []
    for seed in (0, 1):   # as the probe rule: every target of one seed in one call
        outs = [run / "probes" / "dual_phase" / t / f"seed{seed}.json" for t in targets]
        run_probes(c["signal"], c["targets"], c["splits"], targets, seed, "dual_phase", "paired_split",
                   {**FAST_PROBE, "max_epochs": 5}, outs, [o.with_suffix(".pt") for o in outs])
        weights += [o.with_suffix(".pt") for o in outs]
    write_manifest(run / "inference" / "manifest.json", "dual_phase", enc_dir / "ecg_encoder.pt",
                   run / "ecg" / "norm_stats.json", ECG_PARAMS, weights, training_ranges, cohort)
    return run

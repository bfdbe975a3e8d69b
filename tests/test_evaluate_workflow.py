"""The evaluation rules under real Snakemake: on a hand-built run directory (ECG cache,
splits, targets, two saved encoders) the embed -> probe -> tables -> manifest rules
run, their outputs have the right rows and columns, and `ecgcmr predict` uses them.

Only the evaluation rules are allowed (--allowed-rules), so the upstream files count
as given; the whole pipeline on the synthetic cohort is the lead's workflow test.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from ecgcmr.ecg.cache import gather_ecg_index, shard_table
from ecgcmr.models import save_ecg_encoder
from ecgcmr.models.vit_mae import EcgMAE
from ecgcmr.phenotypes import OUTCOMES, PHENOTYPES

REPO = Path(__file__).resolve().parents[1]
N = 60
EVAL_RULES = ["embed", "probe", "table1", "table2", "table3", "probe_plots_table1", "probe_plots_table2",
              "inference_manifest"]


def build_run(root: Path) -> Path:
    results = root / "results" / "t"
    rng = np.random.default_rng(0)
    eids = [str(2_000_000 + 13 * i) for i in range(N)]
    z = rng.standard_normal(N)
    # a planted signal: lead I amplitude follows z, so even a random encoder sees it
    signals = rng.normal(0, 0.05, (N, 12, 5000)).astype(np.float32)
    signals[:, 0] += (1 + 0.5 * z)[:, None] * np.sin(np.linspace(0, 60, 5000))[None]
    meas = [{"qrs_duration": 90 + 10 * v, "qrs_num": 10.0} for v in z]
    shard = results / "ecg" / "shards" / "shard_0.parquet"
    shard.parent.mkdir(parents=True)
    import pyarrow.parquet as pq
    pq.write_table(shard_table(eids, ["synthetic"] * N, signals, meas), shard)
    gather_ecg_index([shard], results / "ecg" / "index.parquet", results / "ecg" / "index.exclusions.csv")
    (results / "ecg" / "norm_stats.json").write_text(json.dumps({"mean": [0.0] * 12, "std": [0.5] * 12,
                                                                 "n_records": N}))
    part = np.array(["train"] * 36 + ["val"] * 12 + ["test"] * 12)
    pd.DataFrame({"eid": eids, "has_ecg": True, "has_cmr": True, "paired": True, "pretrain": part,
                  "paired_split": part}).to_parquet(results / "splits.parquet")
    targets = pd.DataFrame({"eid": eids, **{p: 50 + 5 * z + rng.normal(0, 1, N) for p in PHENOTYPES},
                            **{o: (z + rng.normal(0, 0.5, N) > 0.5).astype(np.int8) for o in OUTCOMES},
                            "age": 60 + rng.normal(0, 5, N), "sex": (z > 0).astype(np.int8)})
    (results / "tables").mkdir()
    targets.to_parquet(results / "tables" / "targets.parquet")
    torch.manual_seed(0)
    for d, name in [("ecg_mae_tiny", "encoder.pt"), ("align_dual_phase", "ecg_encoder.pt")]:
        (results / "models" / d).mkdir(parents=True)
        save_ecg_encoder(EcgMAE(embed_dim=16, depth=1, num_heads=2, decoder=False), results / "models" / d / name)
    config = {"results_dir": str(results),
              "evaluate": {"representations": ["baseline", "dual_phase"], "vit_sizes": ["tiny"], "seeds": [0, 1],
                           "targets": ["LVEF", "HF"], "table2_targets": ["sex", "qrs_duration"],
                           "device": "cpu", "inference_representation": "dual_phase",
                           "probe": {"hidden_dims": None, "dropout": 0.0, "lr": 0.003, "betas": [0.9, 0.95],
                                     "weight_decay": 0.005, "batch_size": 32, "max_epochs": 20, "patience": 5,
                                     "balance_outcomes": True}}}
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    return results


@pytest.mark.slow
def test_evaluation_rules_end_to_end(tmp_path):
    results = build_run(tmp_path)
    tables = results / "tables"
    targets = [str(tables / f) for f in ("table1.md", "table2.md", "table3.md", "table1_bars.png",
                                         "table2_bars.png")] + [str(results / "inference" / "manifest.json")]
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "config.yaml"), "--cores", "2", "--allowed-rules", *EVAL_RULES,
           "--nolock", "--quiet", "--", *targets]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    t1 = pd.read_csv(tables / "table1.csv")
    assert list(t1["name"]) == ["ECG (baseline)", "ECG 3D CL dual-phase"]
    assert [c for c in t1.columns if c.endswith("_mean")] == ["LVEF_mean", "HF_mean"]
    assert np.isfinite(t1[["LVEF_mean", "LVEF_std", "HF_mean"]].to_numpy()).all()
    assert (t1["LVEF_n_seeds"] == 2).all()
    t2 = pd.read_csv(tables / "table2.csv")
    assert list(t2["name"]) == ["Tiny"] and np.isfinite(t2[["sex_mean", "qrs_duration_mean"]].to_numpy()).all()
    t3 = pd.read_csv(tables / "table3.csv")
    assert t3.loc[0, "Parameters"] == sum(p.numel() for p in EcgMAE(embed_dim=16, depth=1, num_heads=2,
                                                                      decoder=False).parameters())
    probe = json.loads((results / "probes" / "vit_tiny" / "qrs_duration" / "seed1.json").read_text())
    assert probe["n_train"] == 36 and probe["metric"] == "r2"

    # one HTML report (Snakemake's own) holding the flagged tables and plots
    report = tmp_path / "report.html"
    rep = subprocess.run(cmd[:-len(targets) - 2] + ["--report", str(report), "--", *targets], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-3000:]
    html = report.read_text(errors="replace")
    assert "table1.html" in html and "table1_bars.png" in html and "ecgcmr: CMR-guided ECG" in html

    # the run directory is all `ecgcmr predict` needs
    out = tmp_path / "pred.csv"
    rc = subprocess.run([sys.executable, "-m", "ecgcmr.cli", "predict", "--run", str(results), "-o", str(out),
                         "/work/shared/data/wfdb_ptbxl/HR06000"], capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    pred = pd.read_csv(out)
    assert np.isfinite(pred.loc[0, "LVEF [%]"]) and 0 < pred.loc[0, "HF probability"] < 1
    assert pred["LVDV [mL]"].isna().all()   # not configured in this run: empty, not invented

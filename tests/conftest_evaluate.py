"""Hand-built inputs for the evaluation tests: embeddings with a planted signal (and
pure noise), a targets table and splits, in the pipeline's file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecgcmr.evaluate.embed import write_embeddings
from ecgcmr.phenotypes import OUTCOMES, PHENOTYPES

FAST_PROBE = {"hidden_dims": [32, 16], "dropout": 0.0, "lr": 3e-3, "betas": [0.9, 0.95], "weight_decay": 0.005,
              "batch_size": 64, "max_epochs": 60, "patience": 10, "balance_outcomes": True}


def planted_cohort(root: Path, n: int = 240, dim: int = 16, seed: int = 0) -> dict[str, Path]:
    """Writes targets.parquet, splits.parquet, ecg_index.parquet and embeddings
    ``signal.parquet`` (a linear image of the latents, little noise) and
    ``noise.parquet`` (independent of everything). Returns the paths."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    eids = [str(1_000_000 + 7 * i) for i in range(n)]
    z = rng.standard_normal((n, 3))
    targets = pd.DataFrame({"eid": eids})
    for i, name in enumerate(PHENOTYPES):
        w = rng.standard_normal(3)
        targets[name] = 50 + 10 * (z @ w) / np.linalg.norm(w) + rng.normal(0, 2, n)
    targets.loc[rng.random(n) < 0.03, "LVMT"] = np.nan           # missing values, as UKB
    for name in OUTCOMES:
        p = 1 / (1 + np.exp(-(2.5 * z[:, 0] - 1.5)))
        targets[name] = (rng.random(n) < p).astype(np.int8)
    targets["SCD"] = np.int8(0)                                   # an outcome with no cases
    targets["age"] = 64 + 7 * z[:, 1] + rng.normal(0, 1, n)
    targets["sex"] = (z[:, 2] + rng.normal(0, 0.3, n) > 0).astype(np.int8)
    part = rng.choice(["train", "val", "test"], size=n, p=[0.6, 0.2, 0.2])
    splits = pd.DataFrame({"eid": eids, "has_ecg": True, "has_cmr": True, "paired": True,
                           "pretrain": part, "paired_split": part})
    index = pd.DataFrame({"eid": eids, "shard": 0, "row": np.arange(n), "path": "",
                          "qrs_duration": 90 + 10 * z[:, 1], "qrs_num": np.round(10 + 2 * z[:, 2])})
    paths = {k: root / f"{k}.parquet" for k in ("targets", "splits", "ecg_index", "signal", "noise")}
    targets.to_parquet(paths["targets"])
    splits.to_parquet(paths["splits"])
    index.to_parquet(paths["ecg_index"])
    mix = rng.standard_normal((3, dim))
    write_embeddings(eids, z @ mix + 0.05 * rng.standard_normal((n, dim)), paths["signal"])
    write_embeddings(eids, rng.standard_normal((n, dim)), paths["noise"])
    return paths

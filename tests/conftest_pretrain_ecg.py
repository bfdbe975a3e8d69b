"""Test helper (imported explicitly): realistic 12-lead ECGs from the synthetic cohort's
beat model, normalised per lead like the pretraining input."""

from __future__ import annotations

import numpy as np
import torch

from ecgcmr.synth.ecg import BeatModel, derive_limb_leads, render_leads
from ecgcmr.synth.physiology import sample_cohort


def synthetic_ecgs(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 12, 5000) float32, each lead standardised (mean 0, SD 1 per record)."""
    cohort = sample_cohort(n, seed)
    out = []
    for i, row in cohort.reset_index(drop=True).iterrows():
        rng = np.random.default_rng([seed, i])
        indep, _ = render_leads(BeatModel(row, rng), 10.0, 500.0,
                                {"wander_uv": 0, "mains_uv": 0, "noise_uv": 10}, rng)
        leads = derive_limb_leads(indep)
        leads = (leads - leads.mean(1, keepdims=True)) / (leads.std(1, keepdims=True) + 1e-6)
        out.append(leads.astype(np.float32))
    return torch.from_numpy(np.stack(out))

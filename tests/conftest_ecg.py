"""Helpers shared by the ECG tests (imported explicitly, not a pytest conftest)."""

from __future__ import annotations

from pathlib import Path

from shared_data import SHARED_DATA

from ecgcmr.ids import bulk_name
from ecgcmr.synth.ecg import write_subject_ecg
from ecgcmr.synth.physiology import sample_cohort

REAL_XML = SHARED_DATA / "cardiosoft_xml" / "ukbb_scrubbed.xml"
MUSE_XML = SHARED_DATA / "other_vendor_xml" / "muse_ecg_deidentified_1.xml"
WFDB_DIR = SHARED_DATA / "wfdb"
PTBXL_DIR = SHARED_DATA / "wfdb_ptbxl"

# config['synth']['ecg'] of the demo, fixed here so tests do not move with config edits
SYNTH_ECG = {"sample_rate": 500, "duration_s": 10, "resolution_uv": 5, "mains_hz": 50, "noise_uv": 15,
             "wander_uv": 150, "mains_uv": 40, "missing_measurement_rate": 0.03, "full_disclosure_s": 27}
FAST = {**SYNTH_ECG, "full_disclosure_s": 0}   # no FullDisclosure block content: faster tests

ECG_PARAMS = {"sample_rate": 500, "n_samples": 5000, "highpass_hz": 0.5, "highpass_order": 4,
              "notch_hz": 60, "notch_q": 40, "savgol_window": 15, "savgol_polyorder": 3,
              "cache_dtype": "float16", "flat_lead_uv": 10}


def synth_cohort(folder: Path, n: int, seed: int = 0, cfg: dict | None = None):
    """Write ``n`` synthetic subjects' XMLs into ``folder``; returns (latents, paths)."""
    latents = sample_cohort(n, seed)
    paths = []
    for _, row in latents.iterrows():
        p = Path(folder) / bulk_name(row.eid, 20205, 2, 0, "xml")
        write_subject_ecg(row, p, cfg or FAST, seed)
        paths.append(p)
    return latents, paths

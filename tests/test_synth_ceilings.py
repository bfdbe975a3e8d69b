"""Headroom ceilings (ecgcmr.synth.ceilings): the ECG waveform depends on the declared
waveform variables only, and the ceiling an ECG-only predictor could reach follows
what the generator lets reach the ECG."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgcmr.config import EMBEDDED, load_config
from ecgcmr.io.cardiosoft import read_cardiosoft_xml
from ecgcmr.synth.ceilings import ecg_ceilings, headroom_share
from ecgcmr.synth.ecg import write_subject_ecg
from ecgcmr.synth.physiology import ECG_WAVEFORM_VARIABLES, sample_cohort


def test_the_waveform_is_rendered_from_the_declared_variables_only(tmp_path):
    """Two subjects that share eid (the noise seed) and the waveform variables but
    differ in every other column have the same 12-lead strip."""
    cohort = sample_cohort(2, seed=4)
    a, b = cohort.iloc[0].copy(), cohort.iloc[1].copy()
    for col in ECG_WAVEFORM_VARIABLES:
        b[col] = a[col]
    b["eid"] = a["eid"]
    assert all(a[c] != b[c] for c in cohort.columns
               if c not in (*ECG_WAVEFORM_VARIABLES, "eid", "has_cmr", "ed_frame", *cohort.columns[-6:])
               and cohort[c].dtype.kind == "f")
    cfg = load_config(EMBEDDED)["synth"]["ecg"]
    signals = []
    for name, row in (("a", a), ("b", b)):
        write_subject_ecg(row, tmp_path / f"{name}.xml", cfg, 0)
        signals.append(read_cardiosoft_xml(tmp_path / f"{name}.xml", "1").signal)
    np.testing.assert_array_equal(signals[0], signals[1])


def _observed(test: pd.DataFrame, targets) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"eid": test["eid"], "target": t, "y_true": test[t]}) for t in targets])


def test_the_lvef_ceiling_falls_when_contractility_does_not_reach_the_ecg():
    test = sample_cohort(400, seed=5)
    seen = ecg_ceilings(test, _observed(test, ["LVEF", "LVDV", "HF"]), n_reference=6000).set_index("target")
    control = sample_cohort(400, seed=5, ecg_contractility=0.0)
    blind = ecg_ceilings(control, _observed(control, ["LVEF", "LVDV"]), {"ecg_contractility": 0.0},
                         n_reference=6000).set_index("target")
    # LVEF is 0.055 contractility - 0.02 dilation + noise: most of it reaches the ECG
    # through heart rate, QTc and T amplitude, and almost nothing when those ignore it
    assert 0.3 < seen.loc["LVEF", "ceiling"] < 0.9 and blind.loc["LVEF", "ceiling"] < 0.15
    # LVDV reaches the ECG through voltage and QRS width, contractility or not
    assert abs(seen.loc["LVDV", "ceiling"] - blind.loc["LVDV", "ceiling"]) < 0.1
    assert seen.loc["HF", "metric"] == "auroc" and 0.5 < seen.loc["HF", "ceiling"] <= 1
    assert (seen["n_test"] == 400).all()


def test_headroom_share():
    assert headroom_share(0.05, 0.3, 0.5) == 0.25
    assert np.isnan(headroom_share(0.05, 0.5, 0.5))

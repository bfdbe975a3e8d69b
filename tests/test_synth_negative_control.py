"""synth.ecg_contractility 0: a negative-control cohort whose ECG carries nothing of
contractility (so alignment cannot raise the functional phenotypes), with the heart's
own physiology unchanged; 1 (the default) is the demo's cohort, value for value."""

import numpy as np
import pandas as pd

from ecgcmr.config import EMBEDDED, load_config
from ecgcmr.synth.physiology import ECG_WAVEFORM_VARIABLES, sample_cohort


def _corr(df, a, b):
    return float(np.corrcoef(df[a], df[b])[0, 1])


def test_contractility_reaches_the_ecg_only_when_asked():
    seen = sample_cohort(4000, seed=3)
    control = sample_cohort(4000, seed=3, ecg_contractility=0.0)
    assert _corr(seen, "contractility", "qtc_ms") < -0.3 and _corr(seen, "contractility", "t_mv") > 0.5
    # no ECG input follows contractility in the control (|r| within sampling noise, ~0.016)
    assert max(abs(_corr(control, "contractility", c)) for c in ECG_WAVEFORM_VARIABLES) < 0.05
    # the heart itself is the same: same latents, same ejection fraction and strain
    pd.testing.assert_series_equal(seen["contractility"], control["contractility"])
    for c in ("LVEF", "RVEF", "LVGLS", "LVDV"):
        pd.testing.assert_series_equal(seen[c], control[c])


def test_the_default_is_the_demo_cohort_value_for_value():
    assert load_config(EMBEDDED)["synth"]["ecg_contractility"] == 1.0
    pd.testing.assert_frame_equal(sample_cohort(300, seed=0), sample_cohort(300, seed=0, ecg_contractility=1.0))

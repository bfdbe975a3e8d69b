"""Synthetic ECG writer: reproducible, lead relations like real data, carries the latents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest_ecg import ECG_PARAMS, FAST, synth_cohort

from ecgcmr.ecg.preprocess import preprocess_batch
from ecgcmr.io.cardiosoft import read_cardiosoft_xml
from ecgcmr.synth.ecg import LEAD_VECTORS, derive_limb_leads, write_subject_ecg
from ecgcmr.synth.physiology import sample_cohort


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    row = sample_cohort(3, seed=5).iloc[1]
    for name, seed in (("a.xml", 5), ("b.xml", 5), ("c.xml", 6)):
        write_subject_ecg(row, tmp_path / name, FAST, seed)
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.xml", "b.xml", "c.xml"))
    assert a == b and a != c


def test_subject_independent_of_cohort_order(tmp_path):
    cohort = sample_cohort(4, seed=2)
    write_subject_ecg(cohort.iloc[3], tmp_path / "alone.xml", FAST, 2)
    for _, row in cohort.iterrows():
        write_subject_ecg(row, tmp_path / f"{row.eid}.xml", FAST, 2)
    assert (tmp_path / "alone.xml").read_bytes() == (tmp_path / f"{cohort.eid.iloc[3]}.xml").read_bytes()


def test_limb_leads_follow_einthoven_and_goldberger():
    indep = np.random.default_rng(0).integers(-300, 300, (8, 50))
    leads = derive_limb_leads(indep)
    i, ii, iii, avr, avl, avf = leads[:6]
    assert np.array_equal(iii, ii - i)
    assert np.abs(avr + (i + ii) / 2).max() <= 0.5 and np.abs(avl - (i - iii) / 2).max() <= 0.5
    assert np.abs(avf - (ii + iii) / 2).max() <= 0.5
    assert LEAD_VECTORS.shape == (8, 3)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """60 subjects, read back and filtered like the ingest does."""
    folder = tmp_path_factory.mktemp("cohort")
    latents, paths = synth_cohort(folder, 60, seed=11)
    records = [read_cardiosoft_xml(p) for p in paths]
    filtered = preprocess_batch(np.stack([r.signal for r in records]), ECG_PARAMS)
    meas = pd.DataFrame([r.measurements for r in records])
    return latents, meas, filtered


def _corr(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return np.corrcoef(np.asarray(a)[ok], np.asarray(b)[ok])[0, 1]


def test_device_measurements_track_latents(cohort):
    latents, meas, _ = cohort
    assert _corr(meas["qrs_duration"], latents["qrs_ms"]) > 0.9
    assert _corr(meas["ventricular_rate"], latents["hr_bpm"]) > 0.9
    assert _corr(meas["qt_interval"], latents["qt_ms"]) > 0.8
    assert _corr(meas["r_axis"], latents["r_axis"]) > 0.9
    rate_from_count = meas["qrs_num"] * 6                      # beats in 10 s -> per minute
    assert np.abs(rate_from_count - latents["hr_bpm"]).median() < 8


def test_filtered_qrs_amplitude_tracks_qrs_mv(cohort):
    latents, _, filtered = cohort
    middle = filtered[:, :, 250:-250]
    amplitude = np.percentile(np.sqrt((middle ** 2).sum(1)), 99.5, axis=1)   # spatial peak ~ R wave
    assert _corr(amplitude, latents["qrs_mv"]) > 0.7


def test_af_has_irregular_rhythm_and_no_p(cohort, tmp_path):
    latents, meas, _ = cohort
    row = latents.iloc[0].copy()
    rr_cv = {}
    for af in (False, True):
        row["af_rhythm"] = af
        write_subject_ecg(row, tmp_path / f"{af}.xml", FAST, 1)
        text = (tmp_path / f"{af}.xml").read_text("latin-1")
        times = [float(t) for t in pd.Series(text.split('<Time units="ms">')[1:]).str.split("<").str[0]]
        rr_cv[af] = np.std(np.diff(times)) / np.mean(np.diff(times))
        pq = read_cardiosoft_xml(tmp_path / f"{af}.xml").measurements["pq_interval"]
        assert np.isnan(pq) == af
    assert rr_cv[True] > 2 * rr_cv[False]

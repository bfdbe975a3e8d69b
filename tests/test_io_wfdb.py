"""WFDB reader on real PhysioNet records (PTB, PTB-XL, MIT-BIH) and written ones."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from conftest_ecg import PTBXL_DIR, WFDB_DIR
from scipy.signal import resample_poly

from ecgcmr.io.record import STANDARD_LEADS
from ecgcmr.errors import InputError
from ecgcmr.io.wfdb_records import read_wfdb_record


def test_ptb_lowercase_leads_1000hz():
    rec = read_wfdb_record(WFDB_DIR / "s0010_re")
    assert rec.eid == "s0010_re" and rec.fs == 500 and rec.leads == STANDARD_LEADS
    assert rec.signal.shape == (12, 5000) and rec.signal.dtype == np.float32
    raw = wfdb.rdrecord(str(WFDB_DIR / "s0010_re"), sampto=10000)
    names = [n.lower() for n in raw.sig_name]
    for lead in ("I", "aVR", "V1", "V6"):   # picked by name, not position; Frank leads ignored
        expected = resample_poly(raw.p_signal[:, names.index(lead.lower())], 1, 2)
        got = rec.signal[STANDARD_LEADS.index(lead)]
        assert np.abs(got - expected).max() < 1e-4, lead
    assert np.abs(rec.signal[1] - rec.signal[0] - rec.signal[2]).max() < 0.05   # II ~ I + III


@pytest.mark.parametrize("name", ["HR06000", "HR06001", "HR06002"])
def test_ptbxl_mat_records(name):
    rec = read_wfdb_record(PTBXL_DIR / f"{name}.hea")          # extension is tolerated
    raw = wfdb.rdrecord(str(PTBXL_DIR / name))
    assert rec.eid == name and rec.signal.shape == (12, 5000) and rec.fs == 500
    np.testing.assert_allclose(rec.signal, raw.p_signal.T.astype(np.float32), atol=1e-6)   # units 'mv'


def test_mit_bih_two_leads_is_not_12_lead():
    with pytest.raises(InputError) as e:
        read_wfdb_record(WFDB_DIR / "100")
    assert e.value.reason == "not_12_lead" and "MLII" in e.value.detail


def _write(tmp_path, name, seconds, units="mV", scale=1.0, fs=500):
    sig = np.random.default_rng(1).normal(0, 0.3, (int(seconds * fs), 12)) * scale
    wfdb.wrsamp(name, fs=fs, units=[units] * 12, sig_name=STANDARD_LEADS, p_signal=sig,
                fmt=["16"] * 12, adc_gain=[1000.0 / scale] * 12, baseline=[0] * 12, write_dir=str(tmp_path))
    return tmp_path / name, sig


def test_short_record_is_too_short(tmp_path):
    base, _ = _write(tmp_path, "short", 6)
    with pytest.raises(InputError) as e:
        read_wfdb_record(base)
    assert e.value.reason == "too_short"


def test_microvolt_units_are_converted(tmp_path):
    base, sig = _write(tmp_path, "micro", 12, units="uV", scale=1000.0)
    rec = read_wfdb_record(base)
    assert rec.signal.shape == (12, 5000)
    np.testing.assert_allclose(rec.signal, (sig[:5000].T / 1000).astype(np.float32), atol=2e-3)


def test_missing_record_is_unreadable(tmp_path):
    with pytest.raises(InputError) as e:
        read_wfdb_record(tmp_path / "nothing")
    assert e.value.reason == "unreadable_file"

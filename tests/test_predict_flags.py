"""`ecgcmr predict` names the run's training cohort and flags records outside the
training ranges of amplitude, heart rate and noise: a real record exported at 5× gain,
and the same record with a header claiming half its sampling rate, are flagged; the
record itself is not."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import wfdb

from conftest_inference import ECG_PARAMS, build_run
from shared_data import SHARED_DATA, require
from ecgcmr.cli import main
from ecgcmr.ecg.ingest import reader_kwargs
from ecgcmr.ecg.preprocess import preprocess_batch
from ecgcmr.inference.predict import predict_files
from ecgcmr.inference.signal_ranges import ranges_of, signal_features
from ecgcmr.io.ecg_xml import read_ecg_xml
from ecgcmr.io.wfdb_records import read_wfdb_record

DATA = SHARED_DATA
COHORT = {"source": "synthetic demo cohort (ecgcmr synth)", "synthetic": True, "run_name": "t",
          "n_ecg_train": 6, "n_paired_train": 4, "n_paired_test": 1}


def real_records():
    kw = reader_kwargs(ECG_PARAMS)
    ptb = sorted(require(DATA / "wfdb_ptbxl").glob("*.hea"))
    return ([read_wfdb_record(str(p.with_suffix("")), **kw) for p in ptb]
            + [read_wfdb_record(str(DATA / "wfdb" / "s0010_re"), **kw),
               read_ecg_xml(DATA / "cardiosoft_xml" / "ukbb_scrubbed.xml", **kw),
               read_ecg_xml(DATA / "other_vendor_xml" / "muse_ecg_deidentified_1.xml", **kw)])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The six real records stand in for the training cohort."""
    root = tmp_path_factory.mktemp("run")
    x = preprocess_batch(np.stack([r.signal for r in real_records()]), ECG_PARAMS)
    ranges = root / "training_ranges.json"
    ranges.write_text(json.dumps({"features": ranges_of(signal_features(x, 500))}))
    return build_run(root, ranges, COHORT)


def altered_copies(tmp_path):
    """HR06001 at 5× gain, and HR06001 with its header saying 250 Hz (it is 500 Hz)."""
    src = wfdb.rdrecord(str(DATA / "wfdb_ptbxl" / "HR06001"))
    out = {}
    noise = np.random.default_rng(0).normal(0, 0.1, src.p_signal.shape)
    for name, gain, fs, add in [("gain5x", 5.0, src.fs, 0), ("wrong_rate", 1.0, src.fs / 2, 0),
                                ("noisy", 1.0, src.fs, noise)]:
        wfdb.wrsamp(name, fs=fs, units=src.units, sig_name=src.sig_name, p_signal=src.p_signal * gain + add,
                    fmt=["16"] * src.n_sig, write_dir=str(tmp_path))
        out[name] = str(tmp_path / name)
    return out


def test_flags_gain_and_rate_not_the_original(run_dir, tmp_path):
    copies = altered_copies(tmp_path)
    original = str(DATA / "wfdb_ptbxl" / "HR06001")
    df = predict_files([original, copies["gain5x"], copies["wrong_rate"], copies["noisy"]], run_dir).set_index("eid")
    assert df.loc["noisy", "status"] == "out_of_range" and "noise_ratio" in df.loc["noisy", "detail"]
    assert df.loc["HR06001", "status"] == "ok", df.loc["HR06001", "detail"]
    gain = df.loc["gain5x"]
    assert gain["status"] == "out_of_range" and "amplitude_mv" in gain["detail"]
    assert "heart_rate_bpm" not in gain["detail"]
    assert gain["amplitude_mv"] == pytest.approx(5 * df.loc["HR06001", "amplitude_mv"], rel=0.02)
    rate = df.loc["wrong_rate"]
    assert rate["status"] == "out_of_range" and "heart_rate_bpm" in rate["detail"]
    assert rate["heart_rate_bpm"] == pytest.approx(df.loc["HR06001", "heart_rate_bpm"] / 2, rel=0.1)
    assert np.isfinite(gain["LVEF [%]"])   # still predicted, but flagged
    assert (df["training_cohort"].str.startswith("synthetic demo cohort")).all()
    assert "6 training ECGs" in df["training_cohort"].iloc[0]


def test_cli_says_cohort_and_flag_count(run_dir, tmp_path, capsys):
    copies = altered_copies(tmp_path)
    out = tmp_path / "p.json"
    assert main(["predict", "--run", str(run_dir), "--format", "json", "-o", str(out), copies["gain5x"]]) == 0
    err = capsys.readouterr().err
    assert "trained on synthetic demo cohort" in err and "1 of 1 records lie outside" in err
    obj = json.loads(out.read_text())[0]
    assert obj["status"] == "out_of_range" and obj["signal"]["amplitude_mv"] > 3
    assert obj["phenotypes"]["LVEF"]["value"] is not None


def test_noise_is_flagged_only_above_the_range():
    from ecgcmr.inference.signal_ranges import out_of_range

    ranges = {"noise_ratio": {"low": 0.002, "high": 0.006}, "amplitude_mv": {"low": 0.5, "high": 1.8}}
    assert out_of_range({"noise_ratio": 0.001, "amplitude_mv": 1.0}, ranges) == []   # cleaner: fine
    assert out_of_range({"noise_ratio": 0.01, "amplitude_mv": 0.2}, ranges) == [
        "noise_ratio=0.01 above 0.006", "amplitude_mv=0.2 outside [0.5, 1.8]"]


def test_run_without_ranges_flags_nothing_and_says_cohort_unknown(tmp_path):
    run = build_run(tmp_path / "old")
    df = predict_files([str(DATA / "wfdb_ptbxl" / "HR06001")], run)
    assert df["status"].tolist() == ["ok"] and df["training_cohort"].str.startswith("unknown").all()
    assert isinstance(df, pd.DataFrame)

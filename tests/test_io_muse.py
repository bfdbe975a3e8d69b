"""GE MUSE XML reader on the real public export (shared/data/other_vendor_xml) and on
damaged copies of it; the vendor dispatch that ingest and predict use."""

import base64
import math
import re

import numpy as np
import pytest
from scipy.signal import find_peaks

from conftest_ecg import ECG_PARAMS, MUSE_XML, REAL_XML
from shared_data import require
from ecgcmr.ecg.ingest import ingest_records
from ecgcmr.io.record import STANDARD_LEADS
from ecgcmr.errors import InputError
from ecgcmr.io.ecg_xml import read_ecg_xml, root_tag
from ecgcmr.io.muse_xml import read_muse_xml


@pytest.fixture(scope="module")
def muse_text():
    return require(MUSE_XML).read_bytes().decode("latin-1")


def rhythm_lead_i_base64(text: str) -> str:
    """The base64 text of lead I in the Rhythm block (the second <Waveform>)."""
    rhythm = text[text.index("<WaveformType>Rhythm</WaveformType>"):]
    return re.search(r"<WaveFormData>(.*?)</WaveFormData>", rhythm, re.S).group(1)


def write(tmp_path, text: str, name="bad.xml"):
    p = tmp_path / name
    p.write_bytes(text.encode("latin-1"))
    return p


def test_real_muse_rhythm_strip(muse_text):
    rec = read_muse_xml(MUSE_XML)
    assert rec.eid == "muse_ecg_deidentified_1" and rec.leads == STANDARD_LEADS
    assert rec.signal.shape == (12, 5000) and rec.fs == 500 and rec.signal.dtype == np.float32
    # 8 stored leads; the 4 derived limb leads follow Einthoven and Goldberger exactly
    I, II, III, aVR, aVL, aVF = rec.signal[:6].astype(np.float64)
    np.testing.assert_allclose(III, II - I, atol=1e-5)
    np.testing.assert_allclose(aVR, -(I + II) / 2, atol=1e-5)
    np.testing.assert_allclose(aVL, I - II / 2, atol=1e-5)
    np.testing.assert_allclose(aVF, II - I / 2, atol=1e-5)
    # millivolts: a QRS of a resting ECG is a few tenths of a mV to a few mV
    assert 0.3 < np.ptp(II) < 5.0
    m = rec.measurements
    assert (m["ventricular_rate"], m["qrs_duration"], m["qrs_num"], m["r_axis"]) == (102, 83, 17, -31)
    assert m["rr_interval"] == pytest.approx(60000 / 102)


def test_stored_samples_decode_to_microvolts(muse_text):
    """Lead I's first second equals its base64 int16 counts × 4.88 µV, resampled 240 → 500 Hz."""
    counts = np.frombuffer(base64.b64decode("".join(rhythm_lead_i_base64(muse_text).split())), "<i2")
    rec = read_muse_xml(MUSE_XML, n_samples=None)
    assert rec.signal.shape[1] == math.ceil(counts.size * 500 / 240)   # resample_poly's length
    raw = read_muse_xml(MUSE_XML, sample_rate=240, n_samples=None)   # no resampling
    np.testing.assert_allclose(raw.signal[0], counts * 4.88e-3, rtol=1e-6)


def test_beat_count_matches_the_device_rate():
    """The rate read from SampleBase is right: R peaks in 10 s match the cart's 102 bpm."""
    rec = read_muse_xml(MUSE_XML, flat_lead_uv=None)
    s = -rec.signal[STANDARD_LEADS.index("V2")]   # deep S waves; one ectopic beat is wide elsewhere
    s -= np.median(s)
    peaks, _ = find_peaks(s, height=0.5 * s.max(), distance=150)
    assert abs(len(peaks) - 102 / 6) <= 1.5, len(peaks)


def test_dispatch_by_root_element():
    assert root_tag(MUSE_XML) == "RestingECG" and root_tag(require(REAL_XML)) == "CardiologyXML"
    assert read_ecg_xml(MUSE_XML).eid == "muse_ecg_deidentified_1"
    assert read_ecg_xml(REAL_XML).eid == "ukbb_scrubbed"


@pytest.mark.parametrize("damage, reason", [
    (lambda t: t[: len(t) // 2], "truncated_xml"),
    (lambda t: t.replace("<RestingECG>", "<OtherECG>", 1).replace("</RestingECG>", "</OtherECG>"), "not_muse"),
    (lambda t: t.replace("<WaveformType>Rhythm</WaveformType>", "<WaveformType>Other</WaveformType>"),
     "missing_rhythm"),
    (lambda t: t.replace("<LeadID>V3</LeadID>", "<LeadID>X</LeadID>"), "missing_lead"),
    (lambda t: t.replace("<LeadID>V3</LeadID>", "<LeadID>V2</LeadID>"), "duplicate_lead"),
    (lambda t: t.replace("<LeadAmplitudeUnits>MICROVOLTS</LeadAmplitudeUnits>",
                         "<LeadAmplitudeUnits>FURLONGS</LeadAmplitudeUnits>"), "bad_units"),
    (lambda t: t.replace(rhythm_lead_i_base64(t), "@@not base64@@"), "bad_waveform"),
    (lambda t: t.replace("<SampleBase>240</SampleBase>", "<SampleBase>abc</SampleBase>"), "bad_sample_rate"),
    (lambda t: t.replace("<LeadSampleCountTotal>2500</LeadSampleCountTotal>",
                         "<LeadSampleCountTotal>2400</LeadSampleCountTotal>", 1), "wrong_sample_count"),
    (lambda t: t.replace("<SampleBase>240</SampleBase>", "<SampleBase>500</SampleBase>"), "too_short"),
    (lambda t: t.replace('<!DOCTYPE RestingECG SYSTEM "restecg.dtd">',
                         '<!DOCTYPE RestingECG [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'), "unsafe_xml"),
])
def test_bad_muse_files_name_the_file_and_reason(tmp_path, muse_text, damage, reason):
    path = write(tmp_path, damage(muse_text))
    with pytest.raises(InputError) as e:
        read_muse_xml(path)
    assert e.value.reason == reason and str(path) in str(e.value)


def test_flat_lead_is_refused(tmp_path, muse_text):
    n_bytes = len(base64.b64decode("".join(rhythm_lead_i_base64(muse_text).split())))
    flat = base64.b64encode(bytes(n_bytes)).decode()
    with pytest.raises(InputError) as e:
        read_muse_xml(write(tmp_path, muse_text.replace(rhythm_lead_i_base64(muse_text), flat)))
    assert e.value.reason == "flat_lead" and str(e.value).endswith("in I)")   # derived leads still move


def test_mixed_vendor_folder_ingests_with_exclusions(tmp_path, muse_text):
    bad = write(tmp_path, muse_text[:5000], "cut_muse.xml")
    items = [(p.stem, p) for p in (MUSE_XML, REAL_XML, bad)]
    summary = ingest_records(items, read_ecg_xml, tmp_path / "shard.parquet", tmp_path / "ex.csv", ECG_PARAMS)
    assert (summary["n_records"], summary["n_excluded"]) == (2, 1)
    assert "cut_muse,ingest_ecg,truncated_xml" in (tmp_path / "ex.csv").read_text()

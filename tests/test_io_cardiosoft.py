"""CardioSoft XML reader/writer against the real UK Biobank export and damaged copies."""

from __future__ import annotations

import re

import defusedxml.ElementTree as DET
import numpy as np
import pytest
from conftest_ecg import MUSE_XML, REAL_XML, SYNTH_ECG, synth_cohort

from ecgcmr.io.record import MEASUREMENTS, STANDARD_LEADS, EcgRecord
from ecgcmr.errors import InputError
from ecgcmr.io.cardiosoft import parse_counts, read_cardiosoft_xml, write_cardiosoft_xml


@pytest.fixture(scope="module")
def synth_xml(tmp_path_factory):
    """One synthetic subject with every block, FullDisclosure included."""
    _, paths = synth_cohort(tmp_path_factory.mktemp("xml"), 1, seed=3, cfg=SYNTH_ECG)
    return paths[0]


def test_real_ukb_file_parses():
    rec = read_cardiosoft_xml(REAL_XML)
    assert rec.signal.shape == (12, 5000) and rec.signal.dtype == np.float32
    assert rec.fs == 500 and rec.leads == STANDARD_LEADS and rec.eid == "ukbb_scrubbed"
    counts = np.rint(rec.signal * 200).astype(int)          # 5 uV per LSB
    assert np.abs(counts[1] - counts[0] - counts[2]).max() <= 1   # II = I + III
    assert 0.3 < np.ptp(rec.signal[1]) < 5                  # mV, a real lead II
    m = rec.measurements
    assert set(m) == set(MEASUREMENTS)
    assert (m["ventricular_rate"], m["qrs_duration"], m["qt_interval"], m["qtc_interval"]) == (75, 76, 378, 422)
    assert (m["rr_interval"], m["qrs_num"]) == (804, 12)
    assert np.isnan(m["pq_interval"]) and np.isnan(m["p_duration"])    # empty elements


def test_muse_xml_is_not_cardiosoft():
    with pytest.raises(InputError) as e:
        read_cardiosoft_xml(MUSE_XML)
    assert e.value.reason == "not_cardiosoft" and str(MUSE_XML) in str(e.value)


def _tag_paths(path):
    paths = set()

    def walk(el, prefix):
        here = f"{prefix}/{el.tag}"
        paths.add((here, tuple(sorted(el.attrib))))
        for child in el:
            walk(child, here)

    root = DET.parse(path).getroot()
    walk(root, "")
    return paths, [c.tag for c in root]


def test_synthetic_structure_matches_real_export(synth_xml):
    real_paths, real_blocks = _tag_paths(REAL_XML)
    syn_paths, syn_blocks = _tag_paths(synth_xml)
    assert syn_blocks == real_blocks
    assert syn_paths == real_paths
    head = synth_xml.read_bytes()[:80]
    assert head.startswith(b'<?xml version="1.0" encoding="ISO-8859-1" ?>\r\n<CardiologyXML>\r\n')


def test_synthetic_file_round_trips(synth_xml, tmp_path):
    rec = read_cardiosoft_xml(synth_xml)
    assert rec.signal.shape == (12, 5000)
    counts = np.rint(rec.signal * 200).astype(int)
    assert np.array_equal(counts[1] - counts[0], counts[2])                    # III = II - I exactly
    assert np.abs(counts[3] + (counts[0] + counts[1]) / 2).max() <= 0.5        # aVR = -(I+II)/2
    out = tmp_path / "again.xml"
    write_cardiosoft_xml(out, rec)
    back = read_cardiosoft_xml(out)
    assert np.array_equal(back.signal, rec.signal)
    for k in MEASUREMENTS:
        a, b = rec.measurements[k], back.measurements[k]
        assert (np.isnan(a) and np.isnan(b)) or a == b, k


def test_writer_quantises_and_blanks_missing(tmp_path):
    rng = np.random.default_rng(0)
    sig = rng.normal(0, 0.5, (12, 5000)).astype(np.float32)
    meas = {k: float(i * 10) for i, k in enumerate(MEASUREMENTS)}
    meas["qt_interval"] = np.nan
    write_cardiosoft_xml(tmp_path / "a.xml", EcgRecord("7", sig, 500.0, measurements=meas))
    text = (tmp_path / "a.xml").read_text("latin-1")
    assert '<QTInterval units="ms"></QTInterval>' in text
    back = read_cardiosoft_xml(tmp_path / "a.xml")
    assert np.abs(back.signal - sig).max() <= 0.0025 + 1e-6                # half an LSB
    assert np.isnan(back.measurements["qt_interval"]) and back.measurements["qrs_duration"] == 30


def test_other_rate_is_resampled(tmp_path):
    t = np.arange(10000) / 1000
    sig = np.tile(np.sin(2 * np.pi * 3 * t), (12, 1)) * (1 + np.arange(12)[:, None] / 10)
    write_cardiosoft_xml(tmp_path / "k.xml", EcgRecord("k", sig.astype(np.float32), 1000.0))
    rec = read_cardiosoft_xml(tmp_path / "k.xml")
    assert rec.signal.shape == (12, 5000) and rec.fs == 500
    assert np.abs(rec.signal[:, 100:-100] - sig[:, ::2][:, 100:-100]).max() < 0.01


def _damage(src, tmp_path, fn):
    out = tmp_path / "damaged_20205_2_0.xml"
    out.write_bytes(fn(src.read_bytes().decode("latin-1")).encode("latin-1"))
    return out


def _lead(text, name, fn):
    """Apply ``fn`` to the CSV of StripData lead ``name``."""
    strip = text.index("<StripData>")
    pat = re.compile(rf'(<WaveformData lead="{name}">)([^<]*)(</WaveformData>)')
    m = pat.search(text, strip)
    return text[:m.start(2)] + fn(m.group(2)) + text[m.end(2):]


BAD = {
    "truncated_xml": lambda t: t[: len(t) // 2],
    "truncated_in_strip": lambda t: t[: t.index("<StripData>") + 5000],
    "truncated_after_strip": lambda t: t[: t.index("</StripData>") + len("</StripData>")],
    "not_xml": lambda t: "this is, not, xml\n" * 20,
    "wrong_root": lambda t: t.replace("CardiologyXML>", "RestingECG>"),
    "missing_strip_data": lambda t: re.sub(r"<StripData>.*</StripData>", "", t, flags=re.S),
    "missing_lead": lambda t: _lead(t, "V3", lambda s: "").replace('<WaveformData lead="V3"></WaveformData>', "", 1),
    "wrong_sample_count": lambda t: _lead(t, "V2", lambda s: s.rsplit(",", 1)[0]),
    "non_numeric": lambda t: _lead(t, "I", lambda s: s.replace(",", ",abc,", 1).replace(",", "", 1)),
    "nan": lambda t: _lead(t, "aVF", lambda s: "nan," + s.split(",", 1)[1]),
    "flat_lead": lambda t: _lead(t, "V4", lambda s: ",".join(["17"] * 5000)),
    "bad_rate": lambda t: t.replace('<SampleRate units="Hz">500</SampleRate>\r\n\t\t<ChannelSampleCountTotal>5000',
                                    '<SampleRate units="Hz">abc</SampleRate>\r\n\t\t<ChannelSampleCountTotal>5000'),
    "rate_without_samples": lambda t: t.replace('<SampleRate units="Hz">500</SampleRate>\r\n\t\t<ChannelSampleCountTotal>5000',
                                                '<SampleRate units="Hz">1000</SampleRate>\r\n\t\t<ChannelSampleCountTotal>5000'),
}
EXPECTED = {"truncated_xml": "truncated_xml", "truncated_in_strip": "truncated_xml",
            "truncated_after_strip": "truncated_xml", "not_xml": "not_xml",
            "wrong_root": "not_cardiosoft", "missing_strip_data": "missing_strip_data",
            "missing_lead": "missing_lead", "wrong_sample_count": "wrong_sample_count",
            "non_numeric": "non_numeric_samples", "nan": "nan_samples", "flat_lead": "flat_lead",
            "bad_rate": "bad_sample_rate", "rate_without_samples": "wrong_sample_count"}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_each_bad_input_has_its_reason(kind, synth_xml, tmp_path):
    path = _damage(synth_xml, tmp_path, BAD[kind])
    with pytest.raises(InputError) as e:
        read_cardiosoft_xml(path)
    assert e.value.reason == EXPECTED[kind], str(e.value)
    assert e.value.path == str(path)


@pytest.mark.parametrize("chunk", [997, 4096, 1 << 20])
def test_partial_read_gives_the_whole_file_parse(chunk, synth_xml, tmp_path, monkeypatch):
    """The reader stops at </StripData> wherever the read chunks split it, and a file
    that ends right after the root's end tag (a tail shorter than its window) passes."""
    import ecgcmr.io.cardiosoft as cs

    text = synth_xml.read_bytes().decode("latin-1")
    short = text[: text.index("</StripData>") + len("</StripData>")] + "\r\n</CardiologyXML>\r\n"
    short_path = tmp_path / "short_20205_2_0.xml"
    short_path.write_bytes(short.encode("latin-1"))
    whole = DET.fromstring(synth_xml.read_bytes())
    leads = {w.get("lead"): w.text for w in whole.find("StripData").iter("WaveformData")}
    expected = parse_counts([leads[n] for n in STANDARD_LEADS])[0].reshape(12, -1) * 0.005
    monkeypatch.setattr(cs, "_CHUNK", chunk)
    for path in (synth_xml, short_path):
        rec = read_cardiosoft_xml(path)
        np.testing.assert_allclose(rec.signal, expected, rtol=1e-6, atol=1e-6)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.xml").write_bytes(b"")
    with pytest.raises(InputError, match="not_xml"):
        read_cardiosoft_xml(tmp_path / "empty.xml")
    with pytest.raises(InputError, match="unreadable_file"):
        read_cardiosoft_xml(tmp_path / "absent.xml")


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE CardiologyXML [
 <!ENTITY a "aaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<CardiologyXML><ObservationType>&d;</ObservationType></CardiologyXML>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE CardiologyXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<CardiologyXML><ObservationType>&x;</ObservationType></CardiologyXML>
"""


@pytest.mark.parametrize("doc", [LAUGHS, EXTERNAL], ids=["billion_laughs", "external_entity"])
def test_entity_declarations_are_refused(doc, tmp_path):
    p = tmp_path / "evil.xml"
    p.write_text(doc)
    with pytest.raises(InputError) as e:
        read_cardiosoft_xml(p)
    assert e.value.reason == "unsafe_xml"


def test_parse_counts_fast_and_exact_paths():
    values, per = parse_counts([" 1,-2,\r\n\t\t30", "-400,5,"])
    assert values.tolist() == [1, -2, 30, -400, 5] and per == [3, 2]
    assert parse_counts(["1.5,2"])[0].tolist() == [1.5, 2.0]
    assert parse_counts(["3,-0,-7"])[0].tolist() == [3, 0, -7]          # "-0" takes the exact path
    for bad in ["1,,2", "1,-,2", "1-2", "1,a", "1, ,2", "1,+,2", "1,- ,2", "-", "4,-"]:   # numpy alone reads some as 0
        with pytest.raises(ValueError, match="not a number"):
            parse_counts([bad])
    with pytest.raises(ValueError, match="nan"):
        parse_counts(["1,nan"])

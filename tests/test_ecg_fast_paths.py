"""The ECG ingest's fast paths stay equal to the slow ones they replaced (issue 15)."""

from __future__ import annotations

import subprocess
from pathlib import Path
import sys

from ecgcmr.exclusions import COLUMNS, Exclusion, to_frame, write


def test_ingest_import_pulls_in_neither_torch_nor_pandas():
    # torch alone was ~2 CPU-s and ~200 MB of every ingest process's start
    code = ("import sys, ecgcmr.ecg.ingest, ecgcmr.ecg.cache; "
            "print(sorted(m for m in ('torch', 'pandas', 'wfdb', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ecg_dataset_is_still_a_torch_dataset():
    import torch.utils.data

    from ecgcmr.ecg.cache import EcgDataset

    assert issubclass(EcgDataset, torch.utils.data.Dataset)
    assert EcgDataset.__module__ == "ecgcmr.ecg.cache"


def test_exclusions_csv_is_byte_identical_to_pandas(tmp_path):
    rows = [Exclusion("1", "ingest_ecg", "not_xml", 'bad "quote", comma\nnewline', "/a b/c.xml"),
            Exclusion("2", "ingest_ecg", "flat_lead", "", ""), Exclusion("3", "s", "r", "ü ✓", "p")]
    for case in (rows, []):
        write(case, tmp_path / "new.csv")
        to_frame(case).to_csv(tmp_path / "pandas.csv", index=False)
        assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert list(to_frame(rows).columns) == COLUMNS


# --- CardioSoft reader: waveform texts cut out before parsing (io/xml_skeleton.py) ---

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest_ecg import REAL_XML, SYNTH_ECG, synth_cohort  # noqa: E402

from ecgcmr.io import cardiosoft  # noqa: E402
from ecgcmr.io.xml_skeleton import parse_skeleton  # noqa: E402


@pytest.fixture(scope="module")
def synth_xmls(tmp_path_factory):
    return synth_cohort(tmp_path_factory.mktemp("xml"), 3, seed=5, cfg=SYNTH_ECG)[1]


def _slow_read(monkeypatch, path):
    with monkeypatch.context() as m:
        m.setattr(cardiosoft, "parse_skeleton", lambda *a, **k: None)   # the defusedxml path
        return cardiosoft.read_cardiosoft_xml(path)


def test_skeleton_read_equals_the_defusedxml_read(monkeypatch, synth_xmls):
    for path in (REAL_XML, *synth_xmls):
        fast, slow = cardiosoft.read_cardiosoft_xml(path), _slow_read(monkeypatch, path)
        assert np.array_equal(fast.signal, slow.signal)
        assert fast.measurements == pytest.approx(slow.measurements, nan_ok=True)


@pytest.mark.parametrize("text", [b"1,2,&#51;,4", b"1,<![CDATA[2]]>,3", b"1,2<!-- c -->,3", b"1,<b/>2"])
def test_skeleton_refuses_markup_inside_a_cut_text(text):
    assert parse_skeleton(b"<R><W lead='I'>" + text + b"</W></R>", b"W") is None


def test_skeleton_refuses_a_dtd_and_cuts_plain_texts():
    assert parse_skeleton(b'<?xml version="1.0"?><!DOCTYPE R [<!ENTITY e "x">]><R><W>1,2</W></R>', b"W") is None
    root, texts = parse_skeleton(b"<R><W a='1'>1,2</W><W>3</W></R>", b"W")
    assert list(texts.values()) == [b"1,2", b"3"] and root.tag == "R"


def test_character_reference_in_a_lead_is_read_by_the_full_parser(tmp_path):
    data = REAL_XML.read_bytes()
    first = data.index(b">", data.index(b"<WaveformData", data.index(b"<StripData>"))) + 1
    comma = data.index(b",", first)
    value = data[first:comma].strip()
    as_refs = b"".join(b"&#%d;" % c for c in value)      # "12" -> "&#49;&#50;": same number
    path = tmp_path / "refs.xml"
    path.write_bytes(data[:first] + as_refs + data[comma:])
    assert np.array_equal(cardiosoft.read_cardiosoft_xml(path).signal,
                          cardiosoft.read_cardiosoft_xml(REAL_XML).signal)


# --- the bench's reference (the authors' approach) caches the same signals as ingest ---

def _reference_module():
    import importlib.util

    from shared_data import REPO

    spec = importlib.util.spec_from_file_location("ecg_reference", REPO / "bench" / "ecg_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ingest_cache_equals_the_per_lead_scipy_reference(tmp_path, synth_xmls):
    from ecgcmr.ecg.cache import decode_signals
    from ecgcmr.ecg.ingest import ingest_records
    import pyarrow.parquet as pq

    files = [REAL_XML, *synth_xmls]
    from ecgcmr.config import load_config

    # the pipeline's own filter settings (the library has no defaults of its own)
    params = {**load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")["ecg"],
              "notch_hz": 50.0, "cache_dtype": "float16"}
    ingest_records([(str(i), f) for i, f in enumerate(files)], cardiosoft.read_cardiosoft_xml,
                   tmp_path / "s.parquet", tmp_path / "s.csv", params)
    ours = decode_signals(pq.read_table(tmp_path / "s.parquet").column("signal")).astype(np.float64)
    ref = _reference_module().ingest(files, notch_hz=50.0).astype(np.float64)
    # float64 -> float32 -> float16 (ours) against float64 -> float16: at most one float16
    # step apart where a value sits on a rounding boundary
    spacing = np.spacing(np.abs(ref).astype(np.float16)).astype(np.float64)
    assert (np.abs(ours - ref) <= spacing).all()
    assert (ours != ref).mean() < 1e-2   # 0.09 % on ukbb_scrubbed.xml

"""Adding an ECG format is one reader and one row of ``ecgcmr.io.ecg_formats.FORMATS``
(docs/architecture.md, "How to add"): a toy text format registered here, at run time,
is read by ``read_ecg``, found and cached by ``ecgcmr ingest-ecg`` and predicted by the
ECG-only predictor, with no other change."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ecgcmr import exclusions
from ecgcmr.cli import main
from ecgcmr.errors import InputError
from ecgcmr.io import ecg_formats
from ecgcmr.io.ecg_common import check_flat_leads, resample_to
from ecgcmr.io.ecg_formats import EcgFormat, ecg_kind, find_records, read_ecg
from ecgcmr.io.record import STANDARD_LEADS, EcgRecord

REPO = Path(__file__).resolve().parents[1]
BUILT_IN = "a CardioSoft or MUSE .xml or a WFDB record (.hea)"


def write_toy(path: Path, fs: int = 250, seconds: float = 10.0, seed: int = 0) -> Path:
    """``fs <rate>`` then one ``<lead> <mV>,<mV>,...`` line per lead."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs * seconds)) / fs
    lines = [f"fs {fs}"]
    for k, lead in enumerate(STANDARD_LEADS):
        beat = (0.3 + 0.05 * k) * np.sin(2 * np.pi * 1.2 * t + k) + 0.02 * rng.standard_normal(t.size)
        lines.append(lead + " " + ",".join(f"{v:.4f}" for v in beat))
    path.write_text("\n".join(lines) + "\n")
    return path


def read_toy(path: str | Path, eid: str | None = None, *, sample_rate: int = 500,
             n_samples: int | None = 5000, flat_lead_uv: float | None = 10.0) -> EcgRecord:
    path = Path(path)
    try:
        head, *rows = path.read_text().splitlines()
        fs = float(head.split()[1])
        leads = {name: np.array(values.split(","), float) for name, values in (r.split(" ", 1) for r in rows)}
        signal = np.stack([leads[name] for name in STANDARD_LEADS])
    except (OSError, ValueError, IndexError, KeyError) as e:
        raise InputError(path, "not_toy", f"{type(e).__name__}: {e}") from None
    signal = resample_to(signal, fs, sample_rate, path)[:, :n_samples]
    check_flat_leads(signal, flat_lead_uv, path)
    return EcgRecord(eid=path.stem if eid is None else str(eid), signal=signal.astype(np.float32),
                     fs=float(sample_rate), leads=list(STANDARD_LEADS), measurements={}, source=str(path))


@pytest.fixture
def toy(monkeypatch):
    """The one row a new format needs (removed again after the test)."""
    monkeypatch.setitem(ecg_formats.FORMATS, "toy", EcgFormat("toy", "toy", "toy text ECG", ".ecgtxt", read_toy))


def test_built_in_messages_are_made_from_the_table():
    assert ecg_formats.accepted() == BUILT_IN
    with pytest.raises(InputError, match=r"unsupported_input \(expected " + re.escape(BUILT_IN)):
        read_ecg(REPO / "README.md")
    with pytest.raises(InputError, match=r"not_found \(no such file or folder \(or a folder without \.xml/\.hea\)\)"):
        read_ecg(REPO / "no-such-record")


def test_a_registered_format_is_read_found_and_described(toy, tmp_path):
    path = write_toy(tmp_path / "toy1.ecgtxt")
    rec = read_ecg(path, sample_rate=500, n_samples=5000)
    assert rec.eid == "toy1" and rec.signal.shape == (12, 5000) and rec.fs == 500
    assert ecg_kind(path) == "toy"
    assert find_records([tmp_path]) == [("toy", str(path))]
    assert ecg_formats.accepted() == BUILT_IN + " or a toy text ECG .ecgtxt"
    bad = tmp_path / "bad.ecgtxt"
    bad.write_text("fs x\n")
    with pytest.raises(InputError, match="not_toy"):   # the new reader's own reasons reach the caller
        read_ecg(bad)


def test_ingest_cli_caches_a_registered_format(toy, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(2):
        write_toy(folder / f"T{k}.ecgtxt", seed=k)
    (folder / "notes.txt").write_text("not a record")
    out = tmp_path / "shard.parquet"
    rc = main(["ingest-ecg", "--input", str(folder), "--out", str(out), "--format", "toy",
               "--config", str(REPO / "config" / "config.yaml")])
    assert rc == 0
    assert sorted(pq.read_table(out, columns=["eid"])["eid"].to_pylist()) == ["T0", "T1"]
    ex = exclusions.read(tmp_path / "shard.exclusions.csv")
    assert ex[["eid", "reason"]].values.tolist() == [["notes", "unrecognised_file"]]


def test_predictor_reads_a_registered_format(toy, tmp_path_factory):
    from conftest_inference import build_run
    from ecgcmr.inference.predict import phenotype_column, predict_files

    run = build_run(tmp_path_factory.mktemp("run"))
    folder = tmp_path_factory.mktemp("toy")
    write_toy(folder / "P1.ecgtxt")
    df = predict_files([folder], run)
    assert df[["eid", "status"]].values.tolist() == [["P1", "ok"]]
    assert np.isfinite(df[phenotype_column("LVEF")]).all()

"""ECG ingest -> shard parquet -> index -> norm stats -> cache/dataset, end to end (tiny)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest_ecg import ECG_PARAMS, PTBXL_DIR, WFDB_DIR, synth_cohort

from ecgcmr import exclusions
from ecgcmr.cli import main as ecgcmr_main
from ecgcmr.ecg.cache import EcgCache, EcgDataset, compute_norm_stats, decode_signals, gather_ecg_index
from ecgcmr.ecg.ingest import ingest_ecg_shard, ingest_wfdb
from ecgcmr.io.record import MEASUREMENTS
from ecgcmr.ids import bulk_name, shard_of


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """6 good subjects, one truncated, one flat-lead, one eid twice (instances 2 and 3)."""
    root = tmp_path_factory.mktemp("ingest")
    raw = root / "raw"
    latents, paths = synth_cohort(raw, 8, seed=4)
    paths[6].write_bytes(paths[6].read_bytes()[:-5000])                      # interrupted download
    text = paths[7].read_text("latin-1")
    i = text.index('<WaveformData lead="V5">', text.index("<StripData>")) + len('<WaveformData lead="V5">')
    j = text.index("</WaveformData>", i)
    paths[7].write_text(text[:i] + ",".join(["3"] * 5000) + text[j:], "latin-1")   # electrode off
    dup_eid = latents.eid.iloc[0]
    shutil.copy(paths[0], raw / bulk_name(dup_eid, 20205, 3, 0, "xml"))     # repeat visit
    (raw / "notes.xml").write_text("<not/>")                                 # not UKB-named: ignored
    shards, excl = [], []
    for s in range(2):
        shards.append(root / f"shard_{s}.parquet")
        excl.append(root / f"shard_{s}.exclusions.csv")
        # every UKB-named file of the shard, the repeat visit included: the bulk index
        # would keep one file per subject (tests/test_bulk.py), but a shard written
        # another way must still give one index row per eid
        files = sorted(p for p in raw.glob("*_20205_*.xml") if shard_of(p.name.split("_")[0], 2) == s)
        ingest_ecg_shard(raw, s, 2, shards[-1], excl[-1], ECG_PARAMS, files=files)
    return {"root": root, "latents": latents, "shards": shards, "excl": excl, "dup": dup_eid,
            "bad": {latents.eid.iloc[6]: "truncated_xml", latents.eid.iloc[7]: "flat_lead"}}


def test_shards_hold_good_records_and_exclusions_hold_bad(cohort):
    eids, reasons = [], {}
    for shard, excl in zip(cohort["shards"], cohort["excl"]):
        t = pq.read_table(shard)
        assert t.schema.field("signal").type == pa.list_(pa.float16(), 60000)
        assert all(t.schema.field(m).type == pa.float32() for m in MEASUREMENTS)
        assert t.schema.field("eid").type == pa.string()
        eids += t.column("eid").to_pylist()
        for r in exclusions.read(excl).itertuples():
            reasons[r.eid] = r.reason
            assert r.stage == "ingest_ecg" and r.path.endswith(".xml")
        for e in t.column("eid").to_pylist():
            assert shard_of(e, 2) == int(shard.stem.split("_")[1])
    assert reasons == cohort["bad"]
    good = set(cohort["latents"].eid) - set(cohort["bad"])
    assert set(eids) == good and len(eids) == len(good) + 1                  # + the repeat visit
    sig = decode_signals(pq.read_table(cohort["shards"][0]).column("signal"))
    assert sig.dtype == np.float16 and sig.shape[1:] == (12, 5000)
    assert 0.2 < np.abs(sig).max() < 10                                      # filtered mV


def test_shard_without_good_records_is_valid_and_empty(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / bulk_name(1, 20205)).write_text("<CardiologyXML>")
    out = tmp_path / "shard_0.parquet"
    ingest_ecg_shard(tmp_path / "raw", 0, 1, out, tmp_path / "x.csv", ECG_PARAMS)
    t = pq.read_table(out)
    assert t.num_rows == 0 and t.schema.field("signal").type == pa.list_(pa.float16(), 60000)
    assert exclusions.read(tmp_path / "x.csv").reason.tolist() == ["truncated_xml"]


@pytest.fixture(scope="module")
def indexed(cohort):
    root = cohort["root"]
    excluded = gather_ecg_index(cohort["shards"], root / "index.parquet", root / "index.exclusions.csv")
    index = pd.read_parquet(root / "index.parquet")
    train = index.eid.iloc[::2].tolist()
    pd.DataFrame({"eid": index.eid, "has_ecg": True, "has_cmr": False, "paired": False,
                  "pretrain": ["train" if e in train else "val" for e in index.eid], "paired_split": ""}
                 ).to_parquet(root / "splits.parquet", index=False)
    compute_norm_stats(root / "index.parquet", root / "splits.parquet", root / "norm_stats.json")
    return index, excluded, train


def test_index_keeps_one_copy_of_a_duplicated_eid(cohort, indexed):
    index, excluded, _ = indexed
    assert index.eid.is_unique and cohort["dup"] in set(index.eid)
    assert list(index.columns[:5]) == ["eid", "shard", "row", "path", "source"]
    assert str(index.eid.dtype) in ("string", "str", "object")
    assert excluded.reason.tolist() == ["duplicate_eid"] and excluded.eid.tolist() == [cohort["dup"]]
    assert "_20205_3_0.xml" in excluded.path.iloc[0]                        # the later visit goes
    assert exclusions.read(cohort["root"] / "index.exclusions.csv").shape[0] == 1


def test_norm_stats_are_train_only(cohort, indexed):
    index, _, train = indexed
    stats = json.loads((cohort["root"] / "norm_stats.json").read_text())
    sel = index.set_index("eid").loc[train]
    x = np.concatenate([decode_signals(pq.read_table(p).column("signal"))[g["row"].to_numpy()]
                        for p, g in sel.groupby("path")]).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], x.mean(axis=(0, 2)), atol=1e-9)
    np.testing.assert_allclose(stats["std"], x.std(axis=(0, 2)), rtol=1e-9)
    assert stats["n_records"] == len(train) and len(stats["mean"]) == 12 and stats["mode"] == "lead"
    everything = np.concatenate([decode_signals(pq.read_table(p).column("signal")) for p in cohort["shards"]])
    assert not np.allclose(stats["std"], everything.astype(np.float64).std(axis=(0, 2)), rtol=1e-6)


def test_cache_returns_normalised_batches_in_order(cohort, indexed):
    index, _, _ = indexed
    root = cohort["root"]
    raw = EcgCache(root / "index.parquet")
    norm = EcgCache(root / "index.parquet", root / "norm_stats.json")
    stats = json.loads((root / "norm_stats.json").read_text())
    eids = list(reversed(norm.eids))
    x = norm.get(eids)
    assert x.shape == (len(eids), 12, 5000) and x.dtype == np.float32
    expected = (raw.get(eids) - np.array(stats["mean"])[:, None]) / np.array(stats["std"])[:, None]
    np.testing.assert_allclose(x, expected, rtol=1e-4, atol=1e-4)
    first = index.iloc[0]
    direct = decode_signals(pq.read_table(first.path).column("signal"))[first.row].astype(np.float32)
    np.testing.assert_array_equal(raw.get([first.eid])[0], direct)
    assert norm.measurements.loc[first.eid, "qrs_duration"] == first.qrs_duration
    with pytest.raises(KeyError):
        norm.get(["no-such-eid"])
    loader = torch.utils.data.DataLoader(EcgDataset(norm, eids[:4]), batch_size=4)
    batch = next(iter(loader))
    assert batch.shape == (4, 12, 5000) and batch.dtype == torch.float32
    torch.testing.assert_close(batch, torch.from_numpy(x[:4]))
    assert EcgDataset(norm)[0].shape == (12, 5000)


def test_wfdb_ingest_real_records_float32(tmp_path):
    records = [WFDB_DIR / "s0010_re", WFDB_DIR / "100", PTBXL_DIR / "HR06000", PTBXL_DIR / "HR06001.hea"]
    ingest_wfdb(records, tmp_path / "w.parquet", tmp_path / "w.csv", {**ECG_PARAMS, "cache_dtype": "float32"})
    t = pq.read_table(tmp_path / "w.parquet")
    assert sorted(t.column("eid").to_pylist()) == ["HR06000", "HR06001", "s0010_re"]
    assert t.schema.field("signal").type == pa.list_(pa.float32(), 60000)
    assert np.isnan(t.column("qrs_duration").to_numpy(zero_copy_only=False)).all()   # WFDB has none
    ex = exclusions.read(tmp_path / "w.csv")
    assert ex[["eid", "reason"]].values.tolist() == [["100", "not_12_lead"]]


REPO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def test_cli_ingests_a_folder(cohort, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted((cohort["root"] / "raw").glob("*_20205_2_0.xml"))[:2]:
        shutil.copy(p, folder)
    out = tmp_path / "cli.parquet"
    # a config that does not exist is refused (it once meant silent library defaults)
    assert ecgcmr_main(["ingest-ecg", "--input", str(folder), "--out", str(out),
                        "--config", str(tmp_path / "absent.yaml")]) == 2 and not out.exists()
    assert ecgcmr_main(["ingest-ecg", "--input", str(folder), "--out", str(out),
                        "--config", str(REPO_CONFIG)]) == 0
    assert pq.read_table(out).num_rows + len(exclusions.read(tmp_path / "cli.exclusions.csv")) == 2


def _get_in_child(index_path, norm_path, eids, cache_dir, start, queue):
    import os

    os.environ["ECGCMR_ECG_CACHE_DIR"] = str(cache_dir)
    start.wait()   # both processes decode at the same moment
    queue.put(EcgCache(index_path, norm_path).get(eids))


def test_shared_memory_mapped_signals_equal_the_in_memory_cache(cohort, indexed, tmp_path, monkeypatch):
    """Two real processes race to build the node's mapped shard files: both read the
    same values as the in-memory cache, and each shard is written once."""
    import multiprocessing as mp

    root = cohort["root"]
    args = (root / "index.parquet", root / "norm_stats.json")
    in_memory = EcgCache(*args)
    eids = list(reversed(in_memory.eids))
    expected = in_memory.get(eids)

    ctx = mp.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_get_in_child, args=(*args, eids, tmp_path / "node", start, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for got in results:
        np.testing.assert_array_equal(got, expected)
    files = sorted((tmp_path / "node").glob("ecg-signals-*.npy"))
    assert len(files) == len(cohort["shards"])
    assert not list((tmp_path / "node").glob("*.tmp"))

    monkeypatch.setenv("ECGCMR_ECG_CACHE_DIR", str(tmp_path / "node"))
    stamps = [f.stat().st_mtime_ns for f in files]
    mapped = EcgCache(*args)
    np.testing.assert_array_equal(mapped.get(eids), expected)
    assert isinstance(mapped._signals(0), np.memmap)            # mapped, not read into memory
    assert [f.stat().st_mtime_ns for f in files] == stamps       # reused, not rewritten

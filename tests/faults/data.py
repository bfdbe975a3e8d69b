"""Inputs of the fault cases, built once per process (small: the campaign must stay
fast) and copied by each case before it damages them."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from ecgcmr.config import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "config.yaml"
TINY = REPO / "tests" / "configs" / "tiny.yaml"
N_ECG = 6


@functools.lru_cache(maxsize=None)
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ecgcmr_faults_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@functools.lru_cache(maxsize=None)
def config() -> dict:
    """The tiny test config as the workflow validates it (schema defaults filled)."""
    return load_config(TINY)


def ecg_params() -> dict:
    return dict(config()["ecg"])


def cmr_params() -> dict:
    return {**config()["cmr"], "instance": 2}


@functools.lru_cache(maxsize=None)
def ecg_xml_dir() -> Path:
    from conftest_ecg import synth_cohort

    folder = _root() / "xml"
    folder.mkdir()
    synth_cohort(folder, N_ECG, seed=3)
    return folder


def xml_files() -> list[Path]:
    return sorted(ecg_xml_dir().glob("*.xml"))


@functools.lru_cache(maxsize=None)
def _ecg_cache() -> Path:
    """Two shards + index + splits of the synthetic XMLs, as the pipeline writes them."""
    from ecgcmr.ecg.cache import gather_ecg_index
    from ecgcmr.ecg.ingest import ingest_records, read_any

    root = _root() / "cache"
    files = xml_files()
    halves = [files[: N_ECG // 2], files[N_ECG // 2:]]
    shards = []
    for k, part in enumerate(halves):
        out = root / "shards" / f"shard_{k}.parquet"
        ingest_records([(p.name.split("_")[0], p) for p in part], read_any, out, root / f"x{k}.csv", ecg_params())
        shards.append(out)
    gather_ecg_index(shards, root / "index.parquet")
    eids = [p.name.split("_")[0] for p in files]
    pd.DataFrame({"eid": eids, "pretrain": ["train"] * len(eids)}).to_parquet(root / "splits.parquet")
    return root


def ecg_cache(tmp: Path) -> dict:
    """A private copy of the cache (index paths rewritten to the copy)."""
    dst = Path(tmp) / "cache"
    shutil.copytree(_ecg_cache(), dst)
    index = pd.read_parquet(dst / "index.parquet")
    index["path"] = index["path"].str.replace(str(_ecg_cache()), str(dst), regex=False)
    index.to_parquet(dst / "index.parquet", index=False)
    return {"root": dst, "index": dst / "index.parquet", "splits": dst / "splits.parquet",
            "shards": sorted((dst / "shards").glob("shard_*.parquet")), "eids": index["eid"].tolist()}


@functools.lru_cache(maxsize=None)
def _cohort():
    from conftest_cmr import tiny_cohort

    return tiny_cohort(3, seed=1)


@functools.lru_cache(maxsize=None)
def _zip(k: int) -> Path:
    from conftest_cmr import write_tiny

    folder = _root() / f"zip{k}"
    folder.mkdir()
    zpath, _ = write_tiny(folder, _cohort().iloc[k], seed=k)
    return zpath


def cmr_zip(tmp: Path, k: int = 0) -> Path:
    """A private copy of tiny synthetic subject ``k``'s UKB zip, in ``tmp/cmr``."""
    src = _zip(k)
    (Path(tmp) / "cmr").mkdir(exist_ok=True)
    return Path(shutil.copy(src, Path(tmp) / "cmr" / src.name))


def eid_of(path: Path) -> str:
    return Path(path).name.split("_")[0]

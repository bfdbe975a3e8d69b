"""ECG ingest: raw records (CardioSoft or MUSE XML, or WFDB) -> filtered parquet shard + exclusions.

Records are read one by one (a bad file becomes an exclusion row, never a crash) and
filtered in batches, so the filters run as a few vectorised calls per batch; each batch
is one parquet row group, so memory stays bounded on a full-size shard.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ..errors import InputError
from ..exclusions import Exclusion
from ..exclusions import write as write_exclusions
from ..ids import files_for_shard, shard_of
from ..io.cardiosoft import eid_from_path, read_cardiosoft_xml
from ..io.ecg_xml import read_ecg_xml
from ..io.wfdb_records import read_wfdb_record, record_base
from .preprocess import preprocess_batch
from .cache import shard_schema, shard_table
from .record import MEASUREMENTS, EcgRecord

log = logging.getLogger(__name__)
STAGE = "ingest_ecg"
ECG_FIELD = 20205
BATCH = 64   # records filtered together / written as one row group (~8 MB at float16)


def reader_kwargs(params: dict) -> dict:
    """Reader arguments (rate, length, flat-lead threshold) from ``config['ecg']``:
    ingest and ECG-only inference read records identically through this."""
    return {"sample_rate": int(params.get("sample_rate", 500)), "n_samples": int(params.get("n_samples", 5000)),
            "flat_lead_uv": params.get("flat_lead_uv", 10.0)}


_reader_kwargs = reader_kwargs   # the name inference/predict.py imported first


def ingest_records(items: list[tuple[str, str | Path]], read: Callable[..., EcgRecord],
                   out_parquet: str | Path, out_exclusions: str | Path, params: dict) -> dict:
    """Read ``(eid, path)`` items with ``read``, filter, write one shard + exclusions."""
    kwargs = reader_kwargs(params)
    n_values = 12 * kwargs["n_samples"]
    dtype = params.get("cache_dtype", "float16")
    out_parquet = Path(out_parquet)
    out_parquet.parent.mkdir(parents=True, exist_ok=True)
    excluded: list[Exclusion] = []
    n_ok, t0 = 0, time.perf_counter()
    # no dictionary encoding / statistics for the signal: ~60k distinct float16 values
    # a row group make both pointless, and they tripled the write time; nor snappy: it
    # saves 0.0 % of a filtered float16 signal and was half the write (bench/ingest.py)
    with pq.ParquetWriter(out_parquet, shard_schema(n_values, dtype), use_dictionary=False,
                          compression={"signal": "none", "eid": "snappy", "source": "snappy"},
                          write_statistics=["eid", *MEASUREMENTS]) as writer:
        batch: list[EcgRecord] = []
        for k, (eid, path) in enumerate(items):
            try:
                batch.append(read(path, eid, **kwargs))
            except InputError as e:
                excluded.append(Exclusion.from_error(eid, STAGE, e))
            except Exception as e:  # a reader bug or library surprise must not sink the shard
                log.exception("unexpected error reading %s", path)
                excluded.append(Exclusion(eid, STAGE, "unexpected_error", f"{type(e).__name__}: {e}", str(path)))
            if len(batch) == BATCH or (k == len(items) - 1 and batch):
                writer.write_table(_filtered_table(batch, params, dtype))
                n_ok += len(batch)
                batch = []
        if n_ok == 0:   # a valid, empty shard with the same schema
            writer.write_table(shard_schema(n_values, dtype).empty_table())
    write_exclusions(excluded, out_exclusions)
    dt = time.perf_counter() - t0
    log.info("%s: %d records cached, %d excluded in %.1f s", out_parquet, n_ok, len(excluded), dt)
    return {"n_records": n_ok, "n_excluded": len(excluded), "seconds": dt}


def _filtered_table(batch: list[EcgRecord], params: dict, dtype: str):
    signals = preprocess_batch(np.stack([r.signal for r in batch]), params)
    return shard_table([r.eid for r in batch], [r.source for r in batch], signals,
                       [r.measurements for r in batch], dtype)


def ingest_ecg_shard(ecg_dir: str | Path, shard: int, n_shards: int, out_parquet: str | Path,
                     out_exclusions: str | Path, params: dict) -> dict:
    """UKB-named field-20205 XMLs of ``ecg_dir`` that fall into ``shard`` -> one cache shard.

    ``params`` is ``config['ecg']`` (rates, filter settings, cache_dtype, flat_lead_uv).
    """
    files = files_for_shard(ecg_dir, ECG_FIELD, "xml", int(shard), int(n_shards))
    return ingest_records([(eid_from_path(p), p) for p in files], read_cardiosoft_xml,
                          out_parquet, out_exclusions, params)


def ingest_wfdb(records: list[str | Path], out_parquet: str | Path, out_exclusions: str | Path,
                params: dict) -> dict:
    """WFDB records (paths with or without extension; eid = record name) -> one cache shard."""
    bases = sorted({record_base(r) for r in records})
    return ingest_records([(Path(b).name, b) for b in bases], read_wfdb_record,
                          out_parquet, out_exclusions, params)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="folder of CardioSoft or MUSE XML files, or of WFDB records (.hea)")
    p.add_argument("--out", required=True, help="output shard parquet")
    p.add_argument("--exclusions", help="output exclusions CSV (default: next to --out)")
    p.add_argument("--format", choices=["auto", "xml", "wfdb"], default="auto")
    p.add_argument("--config", default="config/config.yaml", help="its `ecg` section gives the filter settings")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--n-shards", type=int, default=1, help="only records with shard_of(eid) == --shard")


def cli(args) -> int:
    import yaml

    from ..logs import setup

    setup()
    cfg_path = Path(args.config)
    params = yaml.safe_load(cfg_path.read_text()).get("ecg", {}) if cfg_path.exists() else {}
    folder = Path(args.input)
    fmt = args.format
    if fmt == "auto":
        fmt = "xml" if any(folder.glob("*.xml")) else "wfdb"
    exclusions = args.exclusions or str(Path(args.out).with_suffix("")) + ".exclusions.csv"
    mine = lambda eid: shard_of(eid, args.n_shards) == args.shard  # noqa: E731
    if fmt == "xml":
        items = [(eid_from_path(p), p) for p in sorted(folder.glob("*.xml")) if mine(eid_from_path(p))]
        summary = ingest_records(items, read_ecg_xml, args.out, exclusions, params)
    else:
        records = [p.with_suffix("") for p in sorted(folder.glob("*.hea")) if mine(p.stem)]
        summary = ingest_wfdb(records, args.out, exclusions, params)
    print(f"{summary['n_records']} records -> {args.out}; {summary['n_excluded']} excluded -> {exclusions}")
    return 0

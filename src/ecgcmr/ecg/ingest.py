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
from ..ids import shard_of
from ..io.ecg_formats import FORMATS, accepted, kind_format, kind_of_file, kinds, part_of, read_ecg
from ..io.record import MEASUREMENTS, EcgRecord
from .cache import shard_schema, shard_table
from .preprocess import preprocess_batch

log = logging.getLogger(__name__)
STAGE = "ingest_ecg"
ECG_FIELD = 20205
UKB_FORMAT = "cardiosoft"   # field 20205 is CardioSoft only: no root sniff on the pipeline's path
BATCH = 64   # records filtered together / written as one row group (~8 MB at float16)


def reader_kwargs(params: dict) -> dict:
    """Reader arguments (rate, length, flat-lead threshold) from ``config['ecg']``:
    ingest and ECG-only inference read records identically through this."""
    return {"sample_rate": int(params.get("sample_rate", 500)), "n_samples": int(params.get("n_samples", 5000)),
            "flat_lead_uv": params.get("flat_lead_uv", 10.0)}


def ingest_records(items: list[tuple[str, str | Path]], read: Callable[..., EcgRecord],
                   out_parquet: str | Path, out_exclusions: str | Path, params: dict,
                   also_excluded: list[Exclusion] | None = None) -> dict:
    """Read ``(eid, path)`` items with ``read``, filter, write one shard + exclusions
    (``also_excluded``: rows the caller decided on, e.g. files that are no record)."""
    kwargs = reader_kwargs(params)
    n_values = 12 * kwargs["n_samples"]
    dtype = params.get("cache_dtype", "float16")
    out_parquet = Path(out_parquet)
    out_parquet.parent.mkdir(parents=True, exist_ok=True)
    excluded: list[Exclusion] = list(also_excluded or [])
    n_ok, t0 = 0, time.perf_counter()
    # no dictionary encoding / statistics for the signal: ~60k distinct float16 values
    # a row group make both pointless, and they tripled the write time; nor snappy: it
    # saves 0.0 % of a filtered float16 signal and was half the write (bench/ingest.py).
    # Page checksums: readers verify every page against its write-time CRC (ecgcmr.integrity)
    with pq.ParquetWriter(out_parquet, shard_schema(n_values, dtype), use_dictionary=False,
                          compression={"signal": "none", "eid": "snappy", "source": "snappy"},
                          write_statistics=["eid", *MEASUREMENTS], write_page_checksum=True) as writer:
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
                table, implausible = _filtered_table(batch, params, dtype)
                excluded += implausible
                if table.num_rows:
                    writer.write_table(table)
                n_ok += table.num_rows
                batch = []
        if n_ok == 0:   # a valid, empty shard with the same schema
            writer.write_table(shard_schema(n_values, dtype).empty_table())
    write_exclusions(excluded, out_exclusions)
    dt = time.perf_counter() - t0
    log.info("%s: %d records cached, %d excluded in %.1f s", out_parquet, n_ok, len(excluded), dt)
    return {"n_records": n_ok, "n_excluded": len(excluded), "seconds": dt}


def _filtered_table(batch: list[EcgRecord], params: dict, dtype: str):
    """The batch's shard table, and exclusions for records of implausible amplitude."""
    signals = preprocess_batch(np.stack([r.signal for r in batch]), params)
    keep, excluded = _plausible(batch, signals, params.get("max_amplitude_mv"))
    batch = [r for r, k in zip(batch, keep) if k]
    return shard_table([r.eid for r in batch], [r.source for r in batch], signals[keep],
                       [r.measurements for r in batch], dtype), excluded


def _plausible(batch: list[EcgRecord], signals: np.ndarray, max_mv: float | None):
    """A filtered lead beyond ``max_mv`` (config ``ecg.max_amplitude_mv``) is a wrong
    gain or unit, not a heart: the ECG-only predictor would turn it into a huge LV."""
    peak = np.abs(signals).max(axis=2) if signals.size else np.zeros((len(batch), 12))
    keep = np.ones(len(batch), bool) if max_mv is None else ~(peak > float(max_mv)).any(axis=1)
    excluded = []
    for r, p, k in zip(batch, peak, keep):
        if not k:
            lead = int(np.argmax(p))
            excluded.append(Exclusion(r.eid, STAGE, "implausible_amplitude",
                                      f"lead {r.leads[lead]} peaks at "
                                      f"{p[lead]:.1f} mV after filtering, over ecg.max_amplitude_mv = "
                                      f"{float(max_mv):g} (wrong gain or units?)", r.source))
    return keep, excluded


def ingest_ecg_shard(ecg_dir: str | Path, shard: int, n_shards: int, out_parquet: str | Path,
                     out_exclusions: str | Path, params: dict, files: list[Path] | None = None) -> dict:
    """UKB-named field-20205 XMLs of ``ecg_dir`` that fall into ``shard`` -> one cache shard.

    ``params`` is ``config['ecg']`` (rates, filter settings, cache_dtype, flat_lead_uv);
    ``files``: the shard's files as the bulk index chose them (``ecgcmr.bulk``), else
    ``ecg_dir`` is listed here.
    """
    if files is None:
        from ..bulk import files_for_shard   # (here: the bulk index needs pandas, a shard with files does not)

        files = files_for_shard(ecg_dir, ECG_FIELD, "xml", int(shard), int(n_shards))
    fmt = FORMATS[UKB_FORMAT]
    return ingest_records([(fmt.eid(p), p) for p in files], fmt.read, out_parquet, out_exclusions, params)


def ingest_wfdb(records: list[str | Path], out_parquet: str | Path, out_exclusions: str | Path,
                params: dict) -> dict:
    """WFDB records (paths with or without extension; eid = record name) -> one cache shard."""
    fmt = FORMATS["wfdb"]
    bases = sorted({fmt.record(r) for r in records})
    return ingest_records([(Path(b).name, b) for b in bases], fmt.read, out_parquet, out_exclusions, params)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help=f"folder of ECG records, each {accepted()}")
    p.add_argument("--out", required=True, help="output shard parquet")
    p.add_argument("--exclusions", help="output exclusions CSV (default: next to --out)")
    p.add_argument("--format", choices=["auto", *kinds()], default="auto")
    p.add_argument("--config", default="config/config.yaml",
                   help="pipeline config (validated; its `ecg` section gives the filter settings)")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--n-shards", type=int, default=1, help="only records with shard_of(eid) == --shard")


def cli(args) -> int:
    from ..config import load_config
    from ..logs import setup

    setup()
    params = load_config(args.config)["ecg"]
    folder = Path(args.input)
    if not folder.is_dir():
        raise FileNotFoundError(f"--input {folder} is not a folder")
    exclusions = args.exclusions or str(Path(args.out).with_suffix("")) + ".exclusions.csv"
    mine = lambda eid: shard_of(eid, args.n_shards) == args.shard  # noqa: E731
    items, unused = input_items(folder, args.format)
    items = [(eid, p) for eid, p in items if mine(eid)]
    unused = [u for u in unused if mine(u.eid)]
    summary = ingest_records(items, read_any, args.out, exclusions, params, also_excluded=unused)
    print(f"{summary['n_records']} records -> {args.out}; {summary['n_excluded']} excluded -> {exclusions}")
    return 0


def read_any(path: str | Path, eid: str, **kwargs) -> EcgRecord:
    """A record of any format of ``ecgcmr.io.ecg_formats``, by its path."""
    return read_ecg(path, eid, **kwargs)


def input_items(folder: Path, fmt: str = "auto") -> tuple[list[tuple[str, Path]], list[Exclusion]]:
    """``(eid, path)`` of every record of ``folder`` (its files of a format's record
    suffix: XML files, WFDB headers), and an exclusion row for each file that belongs to
    none, or to a format not asked for, so no file of the folder is passed over without a word."""
    items, unused = [], []
    # records of several files: their other files are read through the record file
    heads = {k: {p.with_suffix("") for p in folder.glob("*" + fs[0].suffix)}
             for k, fs in kinds().items() if fs[0].parts}
    for p in sorted(q for q in folder.iterdir() if q.is_file()):
        kind, owner = kind_of_file(p), part_of(p)
        eid = kind_format(kind).eid(p) if kind else p.stem
        if kind and fmt in ("auto", kind):
            items.append((eid, Path(kind_format(kind).record(p))))
        elif kind:
            unused.append(Exclusion(eid, STAGE, "format_not_selected", f"--format {fmt}", str(p)))
        elif owner and p.with_suffix("") in heads[owner]:
            continue
        elif not p.name.startswith("."):
            reason = f"{owner}_without_header" if owner else "unrecognised_file"
            unused.append(Exclusion(eid, STAGE, reason, f"expected {accepted()}", str(p)))
    return items, unused

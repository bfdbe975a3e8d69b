"""The ECG parquet cache: shard schema, index, normalisation statistics and the loader.

Shard ``shard_{k}.parquet``: ``eid`` string, ``source`` string, ``signal``
fixed_size_list<float16|float32>[12*T] (lead-major, filtered, mV, not normalised) and
the device measurements as float32 (NaN = missing). See docs/architecture.md.

Why float16 is enough: the filtered signal is in mV and rarely exceeds ±5 mV;
float16 has 10 mantissa bits, so its spacing is ~1 µV at 1-2 mV (0.98 µV in [1, 2),
1.95 µV in [2, 4)), finer than the 5 µV LSB of the UK Biobank recorder and far
below the noise. It halves the cache and the loader's memory traffic.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..exclusions import Exclusion, to_frame
from ..exclusions import write as write_exclusions
from ..integrity import file_digest, read_parquet_verified, verify_file, verify_pages
from ..io.record import MEASUREMENTS, STANDARD_LEADS
from .norm import MODES as NORM_MODES
from .norm import NormStats
from .shared_signals import cache_dir, mapped_signals

log = logging.getLogger(__name__)
INDEX_STAGE = "ecg_index"


def shard_schema(n_values: int, dtype: str = "float16") -> pa.Schema:
    value_type = {"float16": pa.float16(), "float32": pa.float32()}[dtype]
    return pa.schema([("eid", pa.string()), ("source", pa.string()),
                      ("signal", pa.list_(value_type, n_values)),
                      *[(m, pa.float32()) for m in MEASUREMENTS]])


def shard_table(eids: list[str], sources: list[str], signals: np.ndarray, measurements: list[dict],
                dtype: str = "float16") -> pa.Table:
    """(N, 12, T) float signals + per-record measurement dicts -> one shard table."""
    n_values = signals.shape[1] * signals.shape[2] if signals.ndim == 3 else 0
    flat = np.ascontiguousarray(signals, dtype=np.dtype(dtype)).reshape(-1)
    schema = shard_schema(n_values, dtype)
    cols = {"eid": pa.array(eids, pa.string()), "source": pa.array(sources, pa.string()),
            "signal": pa.FixedSizeListArray.from_arrays(pa.array(flat, schema.field("signal").type.value_type),
                                                        n_values)}
    for m in MEASUREMENTS:
        cols[m] = pa.array(np.array([r.get(m, np.nan) for r in measurements], dtype=np.float32), pa.float32())
    return pa.table(cols, schema=schema)


def decode_signals(column: pa.ChunkedArray | pa.Array, n_leads: int = 12) -> np.ndarray:
    """A shard's ``signal`` column -> (N, 12, T) numpy array in its stored dtype (one copy)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    size = arr.type.list_size
    values = arr.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(arr), n_leads, size // n_leads)


def _shard_number(path: str | Path, position: int) -> int:
    m = re.search(r"shard_(\d+)", Path(path).name)
    return int(m.group(1)) if m else position


def gather_ecg_index(shard_parquets: list[str | Path], out_index: str | Path,
                     out_exclusions: str | Path | None = None) -> pd.DataFrame:
    """Index of all cached records: ``eid, shard, row, path, source`` + measurements,
    and ``sha256`` of each record's shard file (checked by every reader).

    An eid cached more than once (e.g. two instances, or the same subject in two
    inputs) keeps its first occurrence in shard order; the others are excluded with
    reason ``duplicate_eid``. Returns the exclusions (also written to ``out_exclusions``).
    """
    import pandas as pd

    frames = []
    for pos, path in enumerate(shard_parquets):
        verify_pages(path)   # the digest below is then of the content as written
        digest = file_digest(path)
        t = read_parquet_verified(path, columns=["eid", "source", *MEASUREMENTS]).to_pandas()
        t["sha256"] = digest
        t.insert(1, "shard", np.int32(_shard_number(path, pos)))
        t.insert(2, "row", np.arange(len(t), dtype=np.int64))
        t.insert(3, "path", str(path))
        frames.append(t)
    cols = ["eid", "shard", "row", "path", "source", *MEASUREMENTS, "sha256"]
    index = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    first = index.drop_duplicates("eid", keep="first").set_index("eid")
    dup = index.duplicated("eid", keep="first")
    rows = [Exclusion(r.eid, INDEX_STAGE, "duplicate_eid",
                      f"also cached from {first.at[r.eid, 'source']} (kept); this copy: {r.path} row {r.row}",
                      r.source) for r in index[dup].itertuples()]
    index = index[~dup].reset_index(drop=True)
    index = index.astype({"eid": "string", "path": "string", "source": "string", "shard": "int32",
                          "row": "int64", "sha256": "string", **{m: "float32" for m in MEASUREMENTS}})
    Path(out_index).parent.mkdir(parents=True, exist_ok=True)
    index[cols].to_parquet(out_index, index=False)
    if out_exclusions is not None:
        write_exclusions(rows, out_exclusions)
    log.info("ECG index: %d records from %d shards, %d duplicates excluded", len(index), len(shard_parquets), len(rows))
    return to_frame(rows)


def compute_norm_stats(index_path: str | Path, splits_path: str | Path, out_json: str | Path,
                       chunk: int = 256, mode: str = "lead") -> dict:
    """Per-lead mean and std over the records of the pretraining train split, and the
    normalisation ``mode`` every reader of the run applies (``ecgcmr.ecg.norm``).

    Streams over shards (``chunk`` records at a time) with float64 partial moments
    merged by Chan's parallel formula, so a full-size cohort never sits in memory as
    float64 and the sum of squares never cancels catastrophically.
    """
    import pandas as pd

    from ..splits import subjects

    if mode not in NORM_MODES:
        raise ValueError(f"ecg.normalisation must be one of {NORM_MODES}, got {mode!r}")
    index = pd.read_parquet(index_path)
    train = set(subjects(splits_path, "train", of="pretrain"))
    sel = index[index["eid"].astype(str).isin(train)]
    if sel.empty:
        raise ValueError(f"no record of {index_path} is in the pretraining train split of {splits_path}")
    n_tot = np.zeros(12)
    mean = np.zeros(12)
    m2 = np.zeros(12)
    for path, group in sel.groupby("path", sort=True):
        table = _read_shard_signals(path, _digest_of(group))
        order = np.argsort(group["row"].to_numpy(), kind="stable")
        rows, eids = group["row"].to_numpy()[order], group["eid"].astype(str).to_numpy()[order]
        for i in range(0, len(rows), chunk):
            x = decode_signals(table.column("signal").take(pa.array(rows[i:i + chunk]))).astype(np.float64)
            _refuse_non_finite(x, eids[i:i + chunk], path)
            n_b = x.shape[0] * x.shape[2]
            mean_b = x.mean(axis=(0, 2))
            m2_b = ((x - mean_b[None, :, None]) ** 2).sum(axis=(0, 2))
            delta = mean_b - mean
            n_new = n_tot + n_b
            mean = mean + delta * n_b / n_new
            m2 = m2 + m2_b + delta ** 2 * n_tot * n_b / n_new
            n_tot = n_new
    std = np.sqrt(m2 / n_tot)
    stats = {"leads": list(STANDARD_LEADS), "mean": mean.tolist(), "std": std.tolist(),
             "n_records": int(len(sel)), "split": "pretrain=train", "mode": mode}
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def _digest_of(rows: pd.DataFrame) -> str | None:
    import pandas as pd   # not at module level: ingest imports this module without pandas

    return str(rows["sha256"].iloc[0]) if "sha256" in rows and len(rows) and pd.notna(rows["sha256"].iloc[0]) else None


def _read_shard_signals(path: str | Path, digest: str | None) -> pa.Table:
    """The signal column of a shard, its file checked against the index's SHA-256 and
    every page against its write-time CRC."""
    verify_file(path, digest)
    return read_parquet_verified(path, columns=["signal"])


def _refuse_non_finite(x: np.ndarray, eids: np.ndarray, path: str | Path) -> None:
    """Normalisation statistics over a NaN/inf would poison every later batch; the
    records are named so they can be excluded or the shard rebuilt."""
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        names = [str(e) for e in eids[bad]]
        raise ValueError(f"{path}: {len(names)} record(s) with non-finite signal values, e.g. eid "
                         f"{', '.join(names[:5])}: norm stats refused (rebuild the shard if it was "
                         f"damaged, or exclude these records)")


class EcgCache:
    """Random access to cached ECGs by eid, lead-wise normalised when stats are given.

    A shard's signal column is decoded once, on first use, and kept (in its stored
    dtype, float16 = 120 kB a record); ``get`` gathers rows with numpy fancy indexing
    and normalises in place, so a batch costs two passes over its own memory. With
    ``ECGCMR_ECG_CACHE_DIR`` set, the decoded shard is a memory-mapped file shared by
    all processes of the node instead (``ecgcmr.ecg.shared_signals``).
    """

    def __init__(self, index_path: str | Path, norm_stats_path: str | Path | None = None):
        import pandas as pd

        self.index = pd.read_parquet(index_path)
        self.index["eid"] = self.index["eid"].astype(str)
        self.eids: list[str] = self.index["eid"].tolist()
        self._pos = {eid: i for i, eid in enumerate(self.eids)}
        self.measurements = self.index.set_index("eid")[MEASUREMENTS]
        self._paths = sorted(self.index["path"].astype(str).unique())
        code = {p: i for i, p in enumerate(self._paths)}
        self._code = self.index["path"].astype(str).map(code).to_numpy(np.int64)
        self._row = self.index["row"].to_numpy(np.int64)
        digests = self.index.drop_duplicates("path").set_index("path")["sha256"] if "sha256" in self.index else {}
        self._digest = {p: (str(digests[p]) if p in digests and pd.notna(digests[p]) else None) for p in self._paths}
        self._shards: dict[int, np.ndarray] = {}
        self._mmap_dir = cache_dir()
        self.norm = NormStats.load(norm_stats_path) if norm_stats_path is not None else None

    def __len__(self) -> int:
        return len(self.eids)

    def _signals(self, code: int) -> np.ndarray:
        if code not in self._shards:
            path = self._paths[code]

            def decode() -> np.ndarray:
                return decode_signals(_read_shard_signals(path, self._digest[path]).column("signal"))

            self._shards[code] = decode() if self._mmap_dir is None else mapped_signals(path, self._mmap_dir, decode)
        return self._shards[code]

    def get(self, eids: list[str], normalise: bool = True) -> np.ndarray:
        """(B, 12, T) float32 signals of ``eids`` in that order (KeyError for unknown
        eids), normalised when the cache has statistics and ``normalise``."""

        pos = np.fromiter((self._pos[str(e)] for e in eids), np.int64, len(eids))
        codes, rows = self._code[pos], self._row[pos]
        first = self._signals(int(codes[0])) if len(pos) else np.zeros((0, 12, 0), np.float16)
        out = np.empty((len(pos), *first.shape[1:]), np.float32)
        for c in np.unique(codes):
            sel = np.flatnonzero(codes == c)
            out[sel] = self._signals(int(c))[rows[sel]]
        return out if self.norm is None or not normalise else self.norm.apply(out)


def _make_ecg_dataset():
    """EcgDataset, built on first use: importing torch costs ~2 CPU-s and ~200 MB, which
    ingest (this module's shard writer) must not pay (``__getattr__`` below)."""
    try:  # torch is optional for ingest-only installs
        from torch.utils.data import Dataset as _TorchDataset
    except ImportError:  # pragma: no cover
        _TorchDataset = object

    class EcgDataset(_TorchDataset):
        """torch Dataset of (12, T) float32 tensors for ``eids`` (a batch sampler's indices
        are fetched in one ``cache.get`` through ``__getitems__``)."""

        def __init__(self, cache: EcgCache, eids: list[str] | None = None):
            self.cache = cache
            self.eids = [str(e) for e in (cache.eids if eids is None else eids)]

        def __len__(self) -> int:
            return len(self.eids)

        def __getitem__(self, i: int):
            import torch

            return torch.from_numpy(self.cache.get([self.eids[i]])[0])

        def __getitems__(self, indices: list[int]):
            import torch

            batch = torch.from_numpy(self.cache.get([self.eids[i] for i in indices]))
            return list(batch.unbind(0))

    EcgDataset.__module__ = __name__
    return EcgDataset


def __getattr__(name: str):
    if name == "EcgDataset":
        cls = globals()["EcgDataset"] = _make_ecg_dataset()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

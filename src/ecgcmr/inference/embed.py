"""``ecgcmr embed``: ECG files → the run's encoder embeddings, one parquet row per record.

Reads every format ``ecgcmr predict`` reads (CardioSoft / MUSE XML, WFDB, folders of
them) with the same reading, filtering and normalisation, so an embedding here equals
the one the run's probes saw for a cached record. Columns: ``input``, ``eid``,
``status`` (``ok``, ``out_of_range`` or ``error``), ``reason``, ``detail``, the signal
summaries (:mod:`.signal_ranges`) and ``embedding`` (list of float32; null for a record
that could not be read), the layout of the pipeline's ``embeddings/*.parquet``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from .predict import ID_COLUMNS, Predictor, discover_inputs
from .signal_ranges import FEATURES


def embed_files(inputs: list[str | Path], run_dir: str | Path, out: str | Path, device: str = "cpu",
                batch_size: int = 32) -> pa.Table:
    rows, batches = Predictor(run_dir, device).embed_items(discover_inputs(inputs), batch_size)
    for row in rows:
        row["embedding"] = None    # a record that could not be read
    for idx, z in batches:
        for j, i in enumerate(idx):
            rows[i]["embedding"] = z[j].tolist()
    table = pa.table({
        **{c: pa.array([r[c] for r in rows], pa.string()) for c in ID_COLUMNS},
        **{f: pa.array([r.get(f) for r in rows], pa.float64()) for f in FEATURES},
        "embedding": pa.array([r["embedding"] for r in rows], pa.list_(pa.float32())),
    })
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    return table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+",
                   help="CardioSoft or MUSE XML files, WFDB records (path without extension or .hea), or folders of either")
    p.add_argument("--run", required=True, help="finished run directory (e.g. results/demo)")
    p.add_argument("--out", "-o", required=True, help="output parquet (one row per record)")
    p.add_argument("--device", default="cpu", help="torch device for the encoder (cpu, cuda)")
    p.add_argument("--batch-size", type=int, default=32)


def cli(args) -> int:
    from ..logs import setup

    setup(level=logging.WARNING)
    try:
        table = embed_files(args.inputs, args.run, args.out, args.device, args.batch_size)
    except InputError as e:   # the run directory itself is unusable
        print(f"ecgcmr embed: {e}", file=sys.stderr)
        return 2
    status = table.column("status").to_pylist()
    n_ok = sum(s != "error" for s in status)
    print(f"ecgcmr embed: {n_ok} of {len(status)} records embedded -> {args.out}", file=sys.stderr)
    return 0 if n_ok else 1

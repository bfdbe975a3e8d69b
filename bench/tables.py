"""Benchmark: ingest_tables and bulk_index at UK Biobank-like scale.

* tables — a ukbconv main table of ``--n`` subjects with the 12 phenotypes, age, sex,
  visit date and ``--arrays`` columns each of 41270/41280 (UKB has ~260; most cells
  empty), plus 40000/40001, read end to end by ``ecgcmr.targets.ingest_tables``
  (prevalent window); the same data in RAP form (codes in one ``p41270`` cell).
* bulk — ``ecgcmr.bulk.build_index`` on a RAP-style nested tree of ``--files`` empty
  files (100 prefix folders).

Writes bench/results/tables.json.

    .venv/bin/python bench/tables.py [--n 50000] [--arrays 40] [--files 60000]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ecgcmr.bulk import build_index
from ecgcmr.phenotypes import OUTCOMES
from ecgcmr.synth.physiology import sample_cohort
from ecgcmr.synth.tables import diagnoses_table, main_table, outcome_columns
from ecgcmr.targets import ingest_tables

REPO = Path(__file__).resolve().parents[1]


def tables(tmp: Path, n: int, arrays: int, cfg: dict) -> dict:
    latents = sample_cohort(n, seed=0, prevalence={o: 0.05 for o in OUTCOMES})
    diag = diagnoses_table(latents, cfg["outcomes"], seed=0)
    out = {}
    for form in ("ukbconv", "rap"):
        main = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.05, 0, form=form)
        fields = outcome_columns(diag, latents["eid"], cfg["outcomes"]["SCD"], form=form)
        # pad to `arrays` (mostly empty) array columns, as real exports are wide
        for k in range(arrays):
            for f in ((41270, 41280) if form == "ukbconv" else (41280,)):
                name = f"{f}-0.{k}" if form == "ukbconv" else f"p{f}_a{k}"
                if name not in fields:
                    fields[name] = ""
        path = tmp / f"{form}.csv"
        main.merge(fields, on="eid").to_csv(path, index=False)
        t0 = time.perf_counter()
        ingest_tables(path, None, tmp / form / "t.parquet", tmp / form / "x.csv", cfg["phenotype_fields"],
                      cfg["demographic_fields"], cfg["outcomes"], 2, {"mode": "prevalent"}, cfg["outcome_fields"])
        out[form] = {"seconds": round(time.perf_counter() - t0, 2), "mb": round(path.stat().st_size / 1e6, 1)}
    assert (tmp / "ukbconv" / "t.parquet").read_bytes() == (tmp / "rap" / "t.parquet").read_bytes()
    return out


def bulk(tmp: Path, files: int) -> dict:
    root = tmp / "Bulk"
    for k in range(files):
        eid = 1_000_000 + k * 97
        d = root / str(eid)[:2]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{eid}_20205_2_0.xml").touch()
    t0 = time.perf_counter()
    index = build_index(root, 20205, "xml", 2)
    return {"files": len(index), "seconds": round(time.perf_counter() - t0, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--arrays", type=int, default=40)
    p.add_argument("--files", type=int, default=60_000)
    args = p.parse_args()
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    with tempfile.TemporaryDirectory() as d:
        result = {"n_subjects": args.n, "array_columns": args.arrays, "tables": tables(Path(d), args.n, args.arrays, cfg),
                  "bulk_index": bulk(Path(d), args.files), "machine": platform.processor() or platform.machine(),
                  "numpy": np.__version__, "pandas": pd.__version__}
    out = REPO / "bench" / "results" / "tables.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

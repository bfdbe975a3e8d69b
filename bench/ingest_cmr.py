"""Benchmark: synthetic CMR generation and CMR ingest throughput, one process (= one core).

Targets: ingest >= 1 subject/s per core, synthetic render+write >= 5 subjects/s per core,
both at the demo size of config/config.yaml (synth.cmr). Writes
bench/results/ingest_cmr.json. ``bench_cmr`` is the measurement function that
bench/ingest.py's table of named measurements can call.

At UK Biobank size (``--real-size``: 208 x 208, 10-12 slices x 50 frames, deflated zips)
``bench_real_size`` runs, on the same zips and interleaved subject by subject, ecgcmr's
ingest, dcm2niix (unzip + ``dcm2niix -z n`` + ``gzip -1``, at least the compression of
ecgcmr's files) and a plain pydicom + nibabel loop, and reports CPU-second ratios with the
load average. dcm2niix is the Debian package ``dcm2niix`` (``make system-packages``);
without it that column says so.

    .venv/bin/python bench/ingest_cmr.py [--n 20] [--config config/config.yaml]
    .venv/bin/python bench/ingest_cmr.py --real-size [--n 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml

from ecgcmr.cmr.ingest import ingest_cmr_shard
from ecgcmr.ids import bulk_name
from ecgcmr.synth.cmr import write_subject_cmr
from ecgcmr.synth.physiology import sample_cohort


def bench_cmr(config: dict, n_subjects: int = 20, workdir: str | Path | None = None) -> dict:
    """Time writing ``n_subjects`` synthetic zips, then ingesting them (one shard)."""
    synth_cfg = config["synth"]["cmr"]
    cohort = sample_cohort(n_subjects, seed=123, n_frames=synth_cfg["n_frames"],
                           es_fraction=synth_cfg.get("es_fraction", 0.33))
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        raw, out = Path(tmp, "raw"), Path(tmp, "nifti")
        t0, c0 = time.perf_counter(), time.process_time()
        for row in cohort.itertuples():
            write_subject_cmr(row, raw / bulk_name(row.eid, 20209, 2, 0, "zip"),
                              Path(tmp, "masks", f"{row.eid}.nii.gz"), synth_cfg, seed=0)
        t_synth, c_synth = time.perf_counter() - t0, time.process_time() - c0
        zip_mb = sum(p.stat().st_size for p in raw.glob("*.zip")) / 2**20
        t0, c0 = time.perf_counter(), time.process_time()
        index = ingest_cmr_shard(raw, 0, 1, out, Path(tmp, "index.parquet"), Path(tmp, "ex.csv"),
                                 dict(config.get("cmr", {})))
        t_ingest, c_ingest = time.perf_counter() - t0, time.process_time() - c0
    if len(index) != n_subjects:
        raise RuntimeError(f"only {len(index)} of {n_subjects} synthetic subjects ingested")
    return {
        "n_subjects": n_subjects,
        "matrix": synth_cfg["matrix"], "n_slices": synth_cfg["n_slices"], "n_frames": synth_cfg["n_frames"],
        "zip_compression": synth_cfg.get("zip_compression", "deflated"),
        # per core = per CPU-second of this one process (the machine may be shared, so
        # wall-clock rates are reported too but understate a dedicated core)
        "synth_subjects_per_s_per_core": n_subjects / c_synth,
        "ingest_subjects_per_s_per_core": n_subjects / c_ingest,
        "synth_subjects_per_s_wall": n_subjects / t_synth,
        "ingest_subjects_per_s_wall": n_subjects / t_ingest,
        "synth_target": 5.0, "ingest_target": 1.0,
        "mean_zip_mb": zip_mb / n_subjects,
    }


def main() -> None:
    ap0 = argparse.ArgumentParser(add_help=False)
    ap0.add_argument("--real-size", action="store_true")
    known, _ = ap0.parse_known_args()
    if known.real_size:
        from ingest_cmr_real_size import main as real_size_main   # bench/ is sys.path[0]

        return real_size_main()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--out", default="bench/results/ingest_cmr.json")
    args = ap.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    result = {"bench_cmr": bench_cmr(config, args.n),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_1min": os.getloadavg()[0]}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

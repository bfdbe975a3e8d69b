"""ECG ingest against the reference (the authors' approach, bench/ecg_reference.py) on the
same files, interleaved, per CPU-second -> bench/results/ingest.json "ecg_vs_reference".

    .venv/bin/python bench/ingest.py --only ecg_vs_reference [--n-subjects 300] [--rounds 3]

A shared machine slows both sides alike only if they run at the same time, so each round
runs the reference then ecgcmr (in-process: the same Python process; whole process: a
fresh interpreter each, startup included), and the ratio is of CPU seconds (this
process's ``process_time`` / the children's ``getrusage``), not wall time. The load
average is recorded before and after.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run_child(cmd: list[str]) -> float:
    """CPU seconds of one child process (user + system)."""
    c0 = _children_cpu()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _children_cpu() - c0


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _summary(ref: list[float], ours: list[float], n: int) -> dict:
    ratios = [r / o for r, o in zip(ref, ours)]
    return {"reference_cpu_s": [round(v, 3) for v in ref], "ecgcmr_cpu_s": [round(v, 3) for v in ours],
            "reference_records_per_cpu_s": round(n * len(ref) / sum(ref), 1),
            "ecgcmr_records_per_cpu_s": round(n * len(ours) / sum(ours), 1),
            "ratio": round(sum(ref) / sum(ours), 2), "ratio_per_round": [round(r, 2) for r in ratios],
            "ratio_min": round(min(ratios), 2)}


def in_process(files: list[Path], workdir: Path, params: dict, rounds: int) -> dict:
    sys.path.insert(0, str(HERE))
    import ecg_reference

    from ecgcmr.ecg.ingest import ingest_records
    from ecgcmr.io.cardiosoft import read_cardiosoft_xml

    items = [(f.name.split("_")[0], f) for f in files]
    notch = float(params.get("notch_hz") or 0) or None
    ecg_reference.ingest(files[:2], notch)          # warm both (imports, filter designs)
    ingest_records(items[:2], read_cardiosoft_xml, workdir / "warm.parquet", workdir / "warm.csv", params)
    ref, ours = [], []
    for k in range(rounds):
        c0 = time.process_time()
        np.save(workdir / f"ref_{k}.npy", ecg_reference.ingest(files, notch))
        ref.append(time.process_time() - c0)
        c0 = time.process_time()
        ingest_records(items, read_cardiosoft_xml, workdir / f"ours_{k}.parquet", workdir / f"ours_{k}.csv", params)
        ours.append(time.process_time() - c0)
    return _summary(ref, ours, len(files))


# ``ecgcmr ingest-ecg`` minus the CLI's table of every command (whose imports are the
# CLI's own startup, issue 13): the ingest module's arguments and entry point, as a
# Snakemake job or a per-shard process runs them
_INGEST_MAIN = ("import argparse, sys; from ecgcmr.ecg import ingest; p = argparse.ArgumentParser(); "
                "ingest.add_arguments(p); sys.exit(ingest.cli(p.parse_args()))")


def whole_process(raw: Path, workdir: Path, config: Path, notch_hz: float, rounds: int) -> dict:
    args = ["--input", str(raw), "--out", str(workdir / "proc.parquet"), "--config", str(config)]
    ref_cmd = [sys.executable, str(HERE / "ecg_reference.py"), str(raw), str(workdir / "ref.npy"),
               "--notch-hz", str(notch_hz)]
    ours_cmd = [sys.executable, "-c", _INGEST_MAIN, *args]
    ref, ours = [], []
    for _ in range(rounds):
        ref.append(_run_child(ref_cmd))
        ours.append(_run_child(ours_cmd))
    n = len(list(raw.glob("*.xml")))
    out = _summary(ref, ours, n)
    out["commands"] = {"reference": "python bench/ecg_reference.py RAW OUT.npy --notch-hz %g" % notch_hz,
                       "ecgcmr": "python -c '<ecgcmr.ecg.ingest add_arguments + cli>' " + " ".join(args)}
    # the same through the installed CLI, once: its startup is the CLI's (issue 13)
    out["ecgcmr_cli_cpu_s"] = round(_run_child([str(Path(sys.executable).with_name("ecgcmr")), "ingest-ecg", *args]), 3)
    return out


def startup(rounds: int = 3) -> dict:
    """CPU and wall seconds of a bare interpreter importing the ingest module (min of
    ``rounds``), and of ``ecgcmr --help``; the issue's target is < 1 s."""
    ecgcmr = str(Path(sys.executable).with_name("ecgcmr"))
    cases = {"python_bare": [sys.executable, "-c", "pass"],
             "import_ecgcmr_ecg_ingest": [sys.executable, "-c", "import ecgcmr.ecg.ingest"],
             "ecgcmr_help": [ecgcmr, "--help"]}
    out = {}
    for name, cmd in cases.items():
        cpu, wall = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            cpu.append(_run_child(cmd))
            wall.append(time.perf_counter() - t0)
        out[name] = {"cpu_s": round(min(cpu), 3), "wall_s": round(min(wall), 3)}
    return out


def csv_candidates(path: Path, repeats: int = 20) -> dict:
    """CPU ms a record of the CSV text -> int candidates the issue asked to measure."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ecgcmr.io.cardiosoft import clean_counts_text, parse_counts
    from ecgcmr.io.xml_skeleton import parse_skeleton

    head = path.read_bytes()
    head = head[:head.index(b"</StripData>") + len(b"</StripData>")]
    root, texts = parse_skeleton(head, b"WaveformData", b"</CardiologyXML>")
    strip = [texts[wf] for wf in root.find("StripData").iter("WaveformData")]
    cleaned = [clean_counts_text(t) for t in strip]
    joined = b",".join(cleaned)

    def scan():   # a single vectorised pass over the bytes
        b = np.frombuffer(joined, np.uint8)
        sep = b == 44
        ends = np.append(np.flatnonzero(sep), len(b))
        tok = np.cumsum(sep)
        d = np.where(sep | (b == 45), 0, b.astype(np.int64) - 48)
        vals = np.bincount(tok, weights=d * 10.0 ** (ends[tok] - np.arange(len(b)) - 1).clip(0, 9))
        starts = np.append(0, ends[:-1] + 1)
        return np.where(b[starts] == 45, -vals, vals)

    def arrow():
        column = pacsv.read_csv(pa.py_buffer(joined.replace(b",", b"\n")),
                                read_options=pacsv.ReadOptions(column_names=["v"], use_threads=False),
                                convert_options=pacsv.ConvertOptions(column_types={"v": pa.int32()}))
        return column.column(0).to_numpy()

    cands = {"np_fromstring_per_lead (used)": lambda: parse_counts(strip)[0],
             "np_fromstring_whole_strip": lambda: np.fromstring(joined, dtype=np.int32, sep=","),
             "numpy_byte_scan": scan, "pyarrow_csv": arrow,
             "python_float_lists (reference)": lambda: [[float(v) for v in t.split(b",")] for t in strip]}
    expected = parse_counts(strip)[0]
    out = {}
    for name, fn in cands.items():
        result = np.asarray(fn(), dtype=np.float64).reshape(-1)
        assert np.array_equal(result, expected), name
        c0 = time.process_time()
        for _ in range(repeats):
            fn()
        out[name] = round((time.process_time() - c0) / repeats * 1000, 3)
    return out


def bench(workdir: Path, args, config: dict, write_files) -> dict:
    raw = workdir / "raw"
    files = write_files(raw, args.n_subjects)
    load_before = _load()
    result = {"n_files": len(files), "rounds": args.rounds, "load_avg_before": load_before,
              "in_process": in_process(files, workdir, config["ecg"], args.rounds),
              "whole_process": whole_process(raw, workdir, ROOT / "config" / "config.yaml",
                                             float(config["ecg"].get("notch_hz") or 0), args.rounds),
              "startup": startup(), "csv_to_int_cpu_ms_per_record": csv_candidates(files[0]),
              "load_avg_after": _load(), "os_cpu_count": os.cpu_count(),
              "targets": {"in_process_ratio": 10, "whole_process_ratio": 5, "startup_s": 1}}
    return result

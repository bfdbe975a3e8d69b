"""Cost of the cache checksums -> bench/results/ingest.json, key ``integrity``.

    .venv/bin/python bench/integrity.py [--records 1024]

A float16 ECG shard of ``--records`` random records (12 x 5000, the cache's layout, one
row group per 64 records as ingest writes it) is written with and without parquet page
checksums, then its signal column read (a) plain, (b) verifying every page CRC, and
(c) after a SHA-256 of the whole file (what EcgCache and the norm stats do: index
digest + page CRCs); ``index_page_check_s`` is the every-page check the ECG index job
runs on each shard before recording its digest. A synthetic NIfTI cine is timed the same way (load vs SHA-256).
Other keys of ingest.json are left as they are.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "ingest.json"


def best(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_shard(workdir: Path, n: int) -> dict:
    import pyarrow.parquet as pq

    from ecgcmr.ecg.cache import decode_signals, shard_schema, shard_table
    from ecgcmr.io.record import MEASUREMENTS
    from ecgcmr.integrity import file_digest, verify_pages

    rng = np.random.default_rng(0)
    out = {}
    for crc in (False, True):
        path = workdir / f"shard_crc{int(crc)}.parquet"
        t0 = time.perf_counter()
        with pq.ParquetWriter(path, shard_schema(60000), use_dictionary=False,
                              write_statistics=["eid", *MEASUREMENTS], write_page_checksum=crc) as w:
            for i in range(0, n, 64):
                k = min(64, n - i)
                sig = rng.normal(0, 0.3, (k, 12, 5000)).astype(np.float32)
                w.write_table(shard_table([str(j) for j in range(i, i + k)], ["x"] * k, sig, [{}] * k))
        out[f"write_s_crc{int(crc)}"] = time.perf_counter() - t0
    path = workdir / "shard_crc1.parquet"
    mb = path.stat().st_size / 2**20

    def read(verify):
        return decode_signals(pq.read_table(path, columns=["signal"], page_checksum_verification=verify)
                              .column("signal"))

    t_plain = best(lambda: read(False))
    t_crc = best(lambda: read(True))
    t_sha = best(lambda: file_digest(path))
    t_pages = best(lambda: verify_pages(path))
    return {"index_page_check_s": round(t_pages, 4),"records": n, "shard_mb": round(mb, 1),
            "read_decode_s": round(t_plain, 4), "read_decode_page_crc_s": round(t_crc, 4),
            "sha256_s": round(t_sha, 4), "sha256_mb_per_s": round(mb / t_sha, 1),
            "verified_read_overhead": round((t_crc + t_sha) / t_plain - 1, 3),
            "page_crc_overhead": round(t_crc / t_plain - 1, 3),
            "write_overhead_page_crc": round(out["write_s_crc1"] / out["write_s_crc0"] - 1, 3)}


def bench_nifti(workdir: Path) -> dict:
    import nibabel as nib

    from ecgcmr.integrity import file_digest

    rng = np.random.default_rng(1)
    data = rng.integers(0, 1500, (208, 208, 10, 50), dtype=np.uint16)   # a UKB-sized SAX cine
    path = workdir / "cine.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    t_load = best(lambda: np.asarray(nib.load(path).dataobj), 3)
    t_sha = best(lambda: file_digest(path), 3)
    return {"cine_mb": round(path.stat().st_size / 2**20, 1), "load_s": round(t_load, 4),
            "sha256_s": round(t_sha, 4), "overhead": round(t_sha / t_load, 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1024)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = {"ecg_shard": bench_shard(Path(tmp), args.records), "nifti": bench_nifti(Path(tmp)),
                  "machine": f"{platform.machine()}, {platform.python_version()}",
                  "command": "python bench/integrity.py --records %d" % args.records}
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["integrity"] = result
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

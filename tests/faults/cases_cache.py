"""Caches that prove their integrity: ECG parquet shards and NIfTI cines damaged after
they were written (mtime kept), and norm stats fed non-finite records."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ecgcmr import exclusions
from ecgcmr.ecg.cache import EcgCache, compute_norm_stats, gather_ecg_index, shard_table
from ecgcmr.integrity import CacheCorruptError

from . import data
from .registry import Silent, case, excluded, refused

AREA = "cache integrity"


def damage(path: Path, at: float, n: int = 4096, how: str = "random", seed: int = 0) -> None:
    """Overwrite ``n`` bytes at fraction ``at`` of the file, keeping its mtime."""
    st = os.stat(path)
    size = st.st_size
    start = min(int(size * at), max(size - n, 0))
    rng = np.random.default_rng(seed)
    with open(path, "r+b") as fh:
        fh.seek(start)
        old = fh.read(n)
        new = bytes(rng.integers(0, 256, len(old), dtype=np.uint8)) if how == "random" else bytes(len(old))
        if how == "bitflip":
            new = bytes([old[0] ^ 0x10]) + old[1:]
        fh.seek(start)
        fh.write(new)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _norm_stats_refused(c: dict, shard: Path) -> None:
    refused(lambda: compute_norm_stats(c["index"], c["splits"], c["root"] / "norm.json"),
            CacheCorruptError, str(shard), "snakemake")
    if (c["root"] / "norm.json").exists():
        raise Silent("norm_stats.json written from a damaged shard")


for pct in (10, 30, 50, 70, 90):
    def _after_index(tmp, pct=pct):
        c = data.ecg_cache(tmp)
        damage(c["shards"][0], pct / 100)
        _norm_stats_refused(c, c["shards"][0])

    case(f"ecg_shard_random_4k_at_{pct}pct", AREA, f"4 KiB random bytes at {pct}% of an indexed ECG shard, mtime kept",
         "norm stats refused: checksum mismatch naming the shard and the rebuild command")(_after_index)

for pct in (40, 60, 80):
    def _before_index(tmp, pct=pct):
        c = data.ecg_cache(tmp)
        damage(c["shards"][1], pct / 100, seed=pct)
        try:
            gather_ecg_index(c["shards"], c["index"])
        except CacheCorruptError as e:
            if str(c["shards"][1]) not in str(e):
                raise
            return   # refused already when indexing
        _norm_stats_refused(c, c["shards"][1])

    case(f"ecg_shard_random_4k_before_index_{pct}pct", AREA,
         f"4 KiB random bytes at {pct}% of a shard before it is indexed (page CRCs only)",
         "indexing or norm stats refused by the parquet page checksums, naming the shard")(_before_index)


@case("ecg_shard_bitflip", AREA, "one bit flipped in the middle of a shard", "checksum mismatch naming the shard")
def _bitflip(tmp):
    c = data.ecg_cache(tmp)
    damage(c["shards"][0], 0.5, how="bitflip")
    _norm_stats_refused(c, c["shards"][0])


@case("ecg_shard_zeroed_4k", AREA, "4 KiB zeroed inside a shard (a lost disk block)", "checksum mismatch naming the shard")
def _zeroed(tmp):
    c = data.ecg_cache(tmp)
    damage(c["shards"][1], 0.45, how="zero")
    _norm_stats_refused(c, c["shards"][1])


@case("ecg_shard_footer_damaged", AREA, "the last 64 bytes (parquet footer) overwritten", "refused naming the shard")
def _footer(tmp):
    c = data.ecg_cache(tmp)
    damage(c["shards"][0], 1.0, n=64)
    _norm_stats_refused(c, c["shards"][0])


@case("ecg_shard_truncated", AREA, "a shard cut to half its size", "refused naming the shard")
def _truncated(tmp):
    c = data.ecg_cache(tmp)
    p = c["shards"][0]
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    _norm_stats_refused(c, p)


@case("ecg_shards_swapped", AREA, "two valid shards swapped after indexing", "checksum mismatch: wrong rows never read")
def _swapped(tmp):
    c = data.ecg_cache(tmp)
    a, b = c["shards"]
    tmp_copy = Path(tmp) / "swap"
    shutil.move(a, tmp_copy), shutil.move(b, a), shutil.move(tmp_copy, b)
    _norm_stats_refused(c, a)


@case("ecg_shard_deleted", AREA, "an indexed shard deleted", "refused naming the missing shard and the rebuild command")
def _deleted(tmp):
    c = data.ecg_cache(tmp)
    c["shards"][1].unlink()
    refused(lambda: compute_norm_stats(c["index"], c["splits"], c["root"] / "n.json"),
            CacheCorruptError, str(c["shards"][1]), "snakemake")


@case("ecg_cache_loader_damaged_shard", AREA, "the training loader reads a damaged shard",
      "EcgCache.get refuses naming the shard (no garbage batch)")
def _loader(tmp):
    c = data.ecg_cache(tmp)
    damage(c["shards"][0], 0.5, seed=7)
    cache = EcgCache(c["index"])
    refused(lambda: cache.get(c["eids"][:2]), CacheCorruptError, str(c["shards"][0]), "snakemake")


def _shard_with(tmp, value: float) -> dict:
    c = data.ecg_cache(tmp)
    sig = np.zeros((2, 12, 5000), np.float32)
    sig[1, 3, 100:200] = value
    table = shard_table(["9000001", "9000002"], ["a.xml", "b.xml"], sig, [{}, {}])
    import pyarrow.parquet as pq

    p = c["root"] / "shards" / "shard_7.parquet"
    pq.write_table(table, p, write_page_checksum=True)
    gather_ecg_index([*c["shards"], p], c["index"])
    pd.DataFrame({"eid": [*c["eids"], "9000001", "9000002"], "pretrain": "train"}).to_parquet(c["splits"])
    return c


for name, value in (("nan", np.nan), ("inf", np.inf)):
    def _non_finite(tmp, value=value):
        c = _shard_with(tmp, value)
        refused(lambda: compute_norm_stats(c["index"], c["splits"], c["root"] / "n.json"), ValueError,
                "9000002", "non-finite")
        if (c["root"] / "n.json").exists():
            raise Silent("norm stats written")

    case(f"norm_stats_{name}_record", AREA, f"a cached record holding {name} samples",
         "norm stats refused, naming the record")(_non_finite)


# ------------------------------------------------------------------ NIfTI cines
def _ingested(tmp, n: int = 2) -> tuple[Path, pd.DataFrame]:
    from ecgcmr.cmr.ingest import ingest_cmr_shard

    for k in range(n):
        data.cmr_zip(tmp, k)
    index = ingest_cmr_shard(Path(tmp) / "cmr", 0, 1, Path(tmp) / "nii", Path(tmp) / "idx.parquet",
                             Path(tmp) / "x.csv", data.cmr_params())
    if len(index) != n:
        raise RuntimeError(f"fixture: {len(index)} cines ingested")
    return Path(tmp) / "idx.parquet", index


def _segment(tmp, cmr_index: Path) -> pd.DataFrame:
    from ecgcmr.cmr.segment import segment_shard
    from ecgcmr.cmr.segmenter import build_unet, save_segmenter

    arch = {"channels": [4, 8], "strides": [2], "num_res_units": 0, "dropout": 0.0,
            "intensity_percentiles": [1.0, 99.0]}
    model = Path(tmp) / "model.pt"
    save_segmenter(build_unet(**arch), arch, model)
    seg = data.config()["segmentation"]
    params = {"device": "cpu", "batch_size": 64, "largest_component": True, "qc": seg["qc"]}
    segment_shard(str(cmr_index), 0, 1, str(model), str(Path(tmp) / "seg.parquet"), str(Path(tmp) / "sx.csv"),
                  str(Path(tmp) / "masks"), params)
    return exclusions.read(Path(tmp) / "sx.csv")


def _nifti_case(change, reason="cache_checksum_mismatch"):
    def run(tmp):
        cmr_index, index = _ingested(tmp)
        eid, path = str(index["eid"][0]), Path(index["path"][0])
        change(path, Path(index["path"][1]))
        excluded(_segment(tmp, cmr_index), eid, reason, str(path), "snakemake")
    return run


case("nifti_random_bytes", AREA, "4 KiB random bytes inside an ingested NIfTI cine, mtime kept",
     "segment excludes the subject: cache_checksum_mismatch naming the file and the rebuild command")(
    _nifti_case(lambda p, other: damage(p, 0.5)))
case("nifti_truncated", AREA, "an ingested NIfTI cut short", "excluded: cache_checksum_mismatch")(
    _nifti_case(lambda p, other: p.write_bytes(p.read_bytes()[:-500])))
case("nifti_swapped_subject", AREA, "a cine overwritten by another subject's cine",
     "excluded: cache_checksum_mismatch (another subject's pixels never used)")(
    _nifti_case(lambda p, other: shutil.copy(other, p)))
case("nifti_deleted", AREA, "an indexed cine deleted", "excluded: cache_unreadable naming the file")(
    _nifti_case(lambda p, other: p.unlink(), reason="cache_unreadable"))


@case("nifti_damaged_before_crop", AREA, "a cine damaged between segmentation and cropping",
      "crop excludes the subject: cache_checksum_mismatch")
def _crop(tmp):
    from ecgcmr.cmr.crop import crop_shard

    cmr_index, index = _ingested(tmp, 1)
    eid, path = str(index["eid"][0]), Path(index["path"][0])
    damage(path, 0.3)
    pd.DataFrame({"eid": [eid], "ed_frame": [0], "es_frame": [5], "mask_path": ["m.nii.gz"]}).to_parquet(
        Path(tmp) / "seg.parquet")
    crop_shard(str(Path(tmp) / "seg.parquet"), str(cmr_index), str(Path(tmp) / "crops"),
               str(Path(tmp) / "c.parquet"), str(Path(tmp) / "cx.csv"), data.config()["crop"])
    excluded(exclusions.read(Path(tmp) / "cx.csv"), eid, "cache_checksum_mismatch", str(path))


@case("nifti_disk_full", AREA, "the disk fills while a cine is written (ENOSPC simulated)",
      "the job stops with an error naming the file; no partial cine left; earlier cines kept")
def _disk_full(tmp):
    import nibabel as nib

    from ecgcmr.cmr.ingest import ingest_cmr_shard

    for k in range(2):
        data.cmr_zip(tmp, k)
    # the cine is streamed into its compressor (ecgcmr.cmr.ingest.write_cine_nifti):
    # the second write gets part of its bytes out, then the disk is full
    real = nib.Nifti1Image.to_stream
    calls = {"n": 0}

    def full(self, fileobj, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            fileobj.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, fileobj, *a, **kw)

    nib.Nifti1Image.to_stream = full
    try:
        e = refused(lambda: ingest_cmr_shard(Path(tmp) / "cmr", 0, 1, Path(tmp) / "nii", Path(tmp) / "i.parquet",
                                             Path(tmp) / "x.csv", data.cmr_params()), OSError, "nii.gz", "space")
    finally:
        nib.Nifti1Image.to_stream = real
    left = sorted(p.name for p in (Path(tmp) / "nii").iterdir())
    if any("part" in n for n in left) or len(left) != 1:
        raise Silent(f"after ENOSPC the cine folder holds {left} ({e})")

"""CMR ingest: UK Biobank short-axis zips (field 20209) -> NIfTI cines.

One shard of subjects per call (``ecgcmr.ids.shard_of``); each zip becomes
``{out_dir}/{eid}.nii.gz`` (x, y, z, t; RAS affine; zooms dx, dy, dz in mm and the
frame interval in ms), listed in the shard's index parquet, or an exclusion row with
its reason. A bad zip never stops the shard.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import nibabel as nib
import pandas as pd

from .. import exclusions as excl
from ..bulk import files_for_shard
from ..errors import InputError
from ..ids import parse_bulk_name
from ..io.dicom_cine import Cine
from ..integrity import file_digest
from ..io.ukb_cmr_zip import (DEFAULT_MAX_MEMBER_MB, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TOTAL_MB,
                              DEFAULT_TIME_BUDGET_S, read_cmr_zip)

STAGE = "ingest_cmr"
FIELD = 20209
log = logging.getLogger(__name__)

INDEX_SCHEMA = {
    "eid": "string", "path": "string", "nx": "int32", "ny": "int32", "nz": "int32", "nt": "int32",
    "dx": "float32", "dy": "float32", "dz": "float32", "dt_ms": "float32",
    "n_series": "int32", "series": "string", "quirks": "string", "source": "string",
    "sha256": "string",   # of the NIfTI as written (ecgcmr.integrity)
}


def ingest_cmr_shard(cmr_dir: str | Path, shard: int, n_shards: int, out_dir: str | Path,
                     out_index: str | Path, out_exclusions: str | Path, params: dict,
                     files: list[Path] | None = None) -> pd.DataFrame:
    """Ingest the zips of one shard. ``params``: ``prefer_repeat`` (last|first),
    optional ``instance`` (only that UKB instance), ``max_total_mb``, ``max_member_mb``.
    ``files``: the shard's zips as the bulk index chose them (``ecgcmr.bulk``: one per
    subject), else ``cmr_dir`` is listed here with the same rule."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if files is None:
        instance = params.get("instance")
        files = files_for_shard(cmr_dir, FIELD, "zip", int(shard), int(n_shards),
                                None if instance is None else int(instance))
    rows, excluded = [], []
    for zpath in files:
        eid = parse_bulk_name(zpath)["eid"]
        try:
            cine = read_cmr_zip(zpath, prefer_repeat=params.get("prefer_repeat", "last"),
                                max_total_mb=float(params.get("max_total_mb", DEFAULT_MAX_TOTAL_MB)),
                                max_member_mb=float(params.get("max_member_mb", DEFAULT_MAX_MEMBER_MB)),
                                max_members=int(params.get("max_members", DEFAULT_MAX_MEMBERS)),
                                time_budget_s=float(params.get("zip_time_budget_s", DEFAULT_TIME_BUDGET_S)))
        except InputError as e:
            log.warning("excluded %s: %s", eid, e)
            excluded.append(excl.Exclusion.from_error(eid, STAGE, e))
            continue
        # a zip crafted or damaged in a way no check above foresaw must still not stop
        # the cohort: the subject is excluded with the error, and the traceback logged
        except Exception as e:  # noqa: BLE001
            log.exception("unexpected error on %s", zpath)
            excluded.append(excl.Exclusion(eid, STAGE, "read_error", f"{type(e).__name__}: {e}", str(zpath)))
            continue
        out = out_dir / f"{eid}.nii.gz"
        write_cine_nifti(cine, out)
        rows.append(_index_row(eid, out, cine, zpath))
        log.info("ingested %s: %s", eid, cine.data.shape)
    index = index_frame(rows)
    Path(out_index).parent.mkdir(parents=True, exist_ok=True)
    index.to_parquet(out_index, index=False)
    excl.write(excluded, out_exclusions)
    log.info("shard %d/%d: %d cines, %d excluded", shard, n_shards, len(index), len(excluded))
    return index


# gzip level of the cached cines: ISA-L's level 2 compresses a UKB-size cine (208 x 208 x
# 11 x 50 uint16, 47.6 MB) as well as zlib's level 1 (1.73x against 1.71x) in a quarter of
# its CPU time (0.23 s against 0.86 s), which was half of the ingest. Still gzip: the
# files stay {eid}.nii.gz and any NIfTI reader opens them. (Uncompressed .nii would save
# the 0.23 s but store 1.6 TB instead of ~0.95 TB for 34k subjects; bench/ingest_cmr.py.)
NIFTI_GZIP_LEVEL = 2


def write_cine_nifti(cine: Cine, path: str | Path, compresslevel: int = NIFTI_GZIP_LEVEL) -> None:
    """The cine as gzipped NIfTI-1 with spatial zooms in mm and the frame interval in ms."""
    from isal import igzip

    img = nib.Nifti1Image(cine.data, cine.affine)
    img.header.set_xyzt_units("mm", "msec")
    img.header.set_zooms(img.header.get_zooms()[:3] + (cine.frame_interval_ms,))
    path = Path(path)
    tmp = path.with_name(path.name + ".part.nii.gz")
    try:
        # no name and mtime 0 in the gzip header (as nibabel writes): the same cine gives
        # the same bytes, so its checksum in the index is reproducible across runs
        with open(tmp, "wb") as raw, igzip.IGzipFile(filename="", mode="wb", compresslevel=compresslevel,
                                                     fileobj=raw, mtime=0) as f:
            img.to_stream(f)
    except OSError as e:   # disk full, quota: the job stops, no partial cine is left behind
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, f"writing {path} failed ({e.strerror or e}); cines written "
                      f"before it are kept, rerun the job once there is space") from e
    os.replace(tmp, path)           # no half-written cine if the job is killed


def _index_row(eid: str, out: Path, cine: Cine, source: Path) -> dict:
    nx, ny, nz, nt = cine.data.shape
    dx, dy, dz = cine.zooms
    return {"eid": eid, "path": str(out), "nx": nx, "ny": ny, "nz": nz, "nt": nt,
            "dx": dx, "dy": dy, "dz": dz, "dt_ms": cine.frame_interval_ms,
            "n_series": cine.n_series_total,
            "series": ";".join(s["description"] for s in cine.series),
            "quirks": "; ".join(cine.notes), "source": str(source), "sha256": file_digest(out)}


def index_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in INDEX_SCHEMA.items()})
    return pd.DataFrame(rows, columns=list(INDEX_SCHEMA)).astype(INDEX_SCHEMA)


def gather_cmr_index(shard_indexes: list[str | Path], out_index: str | Path) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in shard_indexes]
    df = pd.concat(frames, ignore_index=True) if frames else index_frame([])
    if "sha256" not in df:   # shards ingested before cines carried checksums: not verified
        df["sha256"] = pd.NA
    df = df.astype(INDEX_SCHEMA).sort_values("eid", kind="stable").reset_index(drop=True)
    if df["eid"].duplicated().any():
        raise ValueError(f"eids in more than one shard: {df.loc[df.eid.duplicated(), 'eid'].tolist()[:5]}")
    Path(out_index).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out_index, index=False)
    return df


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cmr-dir", required=True, help="folder of {eid}_20209_{instance}_0.zip files")
    parser.add_argument("--out-dir", required=True, help="folder for {eid}.nii.gz cines")
    parser.add_argument("--index", required=True, help="shard index parquet to write")
    parser.add_argument("--exclusions", required=True, help="shard exclusions CSV to write")
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument("--n-shards", type=int, default=1)
    parser.add_argument("--prefer-repeat", choices=["last", "first"], default="last",
                        help="repeated acquisitions of one slice: keep the last or the first")
    parser.add_argument("--instance", type=int, default=None, help="only this UKB instance (e.g. 2)")
    parser.add_argument("--config", default="config/config.yaml",
                        help="pipeline config (validated; its `cmr` section bounds the work per zip)")


def cli(args: argparse.Namespace) -> int:
    from ..logs import setup

    setup()
    from ..config import load_config

    params = {**load_config(args.config)["cmr"], "prefer_repeat": args.prefer_repeat}
    if args.instance is not None:
        params["instance"] = args.instance
    ingest_cmr_shard(args.cmr_dir, args.shard, args.n_shards, args.out_dir, args.index,
                     args.exclusions, params)
    return 0

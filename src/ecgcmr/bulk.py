"""Bulk folders as UK Biobank hands them out, listed once into an index.

``ukbfetch`` writes one flat folder (``1000010_20205_2_0.xml``); RAP mounts nested
per-prefix folders (``Bulk/Electrocardiogram/Resting/10/1000010_20205_2_0.xml``). Both
are searched recursively in one pass (``os.scandir``, so a 60k-file folder costs one
listing), and the index is written once for every ingest shard and for ``splits``.

Which files ingest uses, per subject (the rule ``docs/ukb-data.md`` documents):

- only files of ``cohort.instance`` (the imaging visit; instance 3 is the repeat
  imaging visit): others are listed as ``other_instance``;
- of several files of that instance, the one with the lowest array index (``_2_0``, the
  first acquisition UK Biobank released) is used; the others are listed as
  ``repeat_file``, because a subject can contribute one ECG and one cine, and
  silently choosing among repeats would make results depend on listing order;
- the same file name found twice (a flat copy beside a nested one) is used once; the
  other copy is listed as ``duplicate_file``.

Files not named ``{eid}_{field}_{instance}_{array}.{ext}``, and files of other fields,
are not subjects' files of this field: they are counted in the log only.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections import Counter
from pathlib import Path

import pandas as pd

from . import exclusions as excl
from .ids import parse_bulk_name, shard_of

log = logging.getLogger(__name__)
STAGE = "bulk_index"
ECG = (20205, "xml")
CMR = (20209, "zip")
SCHEMA = {"eid": "string", "field": "int32", "instance": "int32", "array": "int32", "path": "string",
          "use": "bool", "reason": "string", "detail": "string"}


def scan(directory: str | Path, field: int, ext: str) -> tuple[list[tuple[dict, str]], Counter]:
    """UKB-named files of ``field`` anywhere below ``directory`` (one recursive pass)."""
    found, skipped = [], Counter()
    stack = [str(directory)]
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"{directory}: bulk folder not found")
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir():
                    stack.append(entry.path)
                    continue
                info = parse_bulk_name(entry.name)
                if info is None:
                    skipped["not UKB-named"] += 1
                elif info["field"] != field or info["ext"] != ext:
                    skipped[f"field {info['field']} .{info['ext']}"] += 1
                else:
                    found.append((info, entry.path))
    return found, skipped


def select(found: list[tuple[dict, str]], instance: int | None) -> pd.DataFrame:
    """One row per file with ``use`` and, for the unused, ``reason``/``detail``.
    ``instance`` None: any instance, still one file per subject (lowest instance)."""
    rows = [{"eid": i["eid"], "field": i["field"], "instance": i["instance"], "array": i["array"],
             "path": p, "use": False, "reason": "", "detail": ""} for i, p in found]
    df = pd.DataFrame(rows, columns=list(SCHEMA))
    if df.empty:
        return df.astype(SCHEMA)
    df["name"] = df["path"].map(lambda p: Path(p).name)
    df = df.sort_values(["eid", "instance", "array", "path"], kind="stable").reset_index(drop=True)
    wrong = df["instance"] != instance if instance is not None else pd.Series(False, index=df.index)
    df.loc[wrong, "reason"] = "other_instance"
    df.loc[wrong, "detail"] = [f"instance {i}; cohort.instance is {instance}" for i in df.loc[wrong, "instance"]]
    candidates = df[~wrong]
    first = candidates.groupby("eid", sort=False).head(1)
    df.loc[first.index, "use"] = True
    kept = first.set_index("eid")
    for i, r in candidates.drop(first.index).iterrows():
        k = kept.loc[r.eid]
        same = r["name"] == k["name"]
        df.at[i, "reason"] = "duplicate_file" if same else "repeat_file"
        df.at[i, "detail"] = (f"another copy of {r['name']} is used: {k['path']}" if same else
                              f"instance {r['instance']} array {r['array']}: {k['name']} (array {k['array']}) "
                              "is used, one file per subject")
    return df.drop(columns="name").astype(SCHEMA)


def build_index(directory: str | Path, field: int, ext: str, instance: int | None) -> pd.DataFrame:
    found, skipped = scan(directory, field, ext)
    df = select(found, instance)
    unused = Counter(df.loc[~df["use"], "reason"])
    log.info("%s: %d field-%d files, %d used (%d subjects); unused: %s; not this field's files: %s",
             directory, len(df), field, int(df["use"].sum()), df.loc[df["use"], "eid"].nunique(),
             dict(unused) or "none", dict(skipped) or "none")
    return df


def exclusions(index: pd.DataFrame) -> list[excl.Exclusion]:
    return [excl.Exclusion(r.eid, STAGE, r.reason, r.detail, r.path) for r in index[~index["use"]].itertuples()]


def write_bulk_index(ecg_dir, cmr_dir, instance: int, out_ecg, out_cmr, out_exclusions) -> None:
    rows = []
    for directory, (field, ext), out in ((ecg_dir, ECG, out_ecg), (cmr_dir, CMR, out_cmr)):
        df = build_index(directory, field, ext, instance)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(out, index=False)
        rows += exclusions(df)
    excl.write(rows, out_exclusions)


def used(index: str | Path | pd.DataFrame) -> pd.DataFrame:
    df = pd.read_parquet(index) if not isinstance(index, pd.DataFrame) else index
    return df[df["use"]]


def shard_files(index: str | Path | pd.DataFrame, shard: int, n_shards: int) -> list[Path]:
    """The used files of one shard, in eid order."""
    df = used(index)
    mine = df["eid"].map(lambda e: shard_of(e, n_shards) == shard)
    return [Path(p) for p in df.loc[mine, "path"].sort_values()]


def files_for_shard(directory: str | Path, field: int, ext: str, shard: int, n_shards: int,
                    instance: int | None = None) -> list[Path]:
    """UKB-named bulk files of one field anywhere below ``directory`` (flat or nested)
    that fall into ``shard``: one file per subject, chosen as this module documents
    (of ``instance`` only, if given); the others are logged there."""
    return shard_files(build_index(directory, field, ext, instance), shard, n_shards)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ecg-dir", required=True, help="folder of {eid}_20205_*.xml, flat or nested")
    p.add_argument("--cmr-dir", required=True, help="folder of {eid}_20209_*.zip, flat or nested")
    p.add_argument("--instance", type=int, default=2)
    p.add_argument("--out-dir", required=True, help="writes ecg.parquet, cmr.parquet, exclusions.csv")


def cli(args) -> int:
    out = Path(args.out_dir)
    write_bulk_index(args.ecg_dir, args.cmr_dir, args.instance, out / "ecg.parquet", out / "cmr.parquet",
                     out / "exclusions.csv")
    return 0

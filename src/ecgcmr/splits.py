"""Subject-level, seeded train/val/test splits.

Subjects come from the raw cohort (the bulk files ingest will use, as the bulk index
chose them: ``ecgcmr.bulk``; who has targets), not from the ingest caches: a split is
a property of the cohort, so changing an ECG filter setting re-filters the ECGs
without reshuffling subjects and retraining every CMR model downstream. A subject
whose only file is of another instance or a repeat is not counted; one whose file a
stage later cannot read simply has no data there (and a row in the exclusions table).

Paired (ECG + CMR + targets) subjects are split with the paired proportions
(paper: 23,877 / 5,121 / 5,144 ≈ 70/15/15); ECG-only subjects with the ECG-only
proportions. A paired subject's pretraining split *is* its paired split, so no paired
validation/test subject is ever seen in training by any stage (MAE pretraining
included): the leak the paper's design must avoid.

With ``labelled_ecg_test``, subjects who have an ECG and phenotypes but no CMR file
(UK Biobank participants whose imaging-derived phenotypes are in the main table while
their 20209 zip was not fetched) all join Table 1's test split (``paired_split`` test,
``pretrain`` test, ``paired`` false): they cost an ECG each, no CMR processing, and no
training split of any stage sees them. Off, they are ECG-only pretraining subjects as
any other (the paper's design).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .bulk import build_index, used

log = logging.getLogger(__name__)
NAMES = np.array(["train", "val", "test"])
ECG_FIELD, CMR_FIELD = 20205, 20209


def assign(eids: list[str], proportions: list[float], seed: int, salt: int) -> dict[str, str]:
    """Deterministic given the *set* of eids: sorted first, then permuted by the seed."""
    eids = sorted(eids)
    p = np.asarray(proportions, float)
    if len(p) != 3 or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"split proportions must be 3 non-negative numbers, got {proportions}")
    order = np.random.default_rng([seed, salt]).permutation(len(eids))
    bounds = np.round(np.cumsum(p / p.sum()) * len(eids)).astype(int)
    which = np.searchsorted(bounds, np.arange(len(eids)), side="right")
    return {eids[i]: str(NAMES[min(w, 2)]) for i, w in zip(order, which)}


def make_splits(ecg_eids, cmr_eids, target_eids, paired: list[float], ecg_only: list[float],
                seed: int, labelled_eids=None) -> pd.DataFrame:
    """``labelled_eids``: subjects with phenotypes; given, those of them with an ECG and
    no CMR file are Table 1 test subjects (module docstring). None: the paper's splits."""
    ecg, cmr, tgt = set(map(str, ecg_eids)), set(map(str, cmr_eids)), set(map(str, target_eids))
    paired_eids = sorted(ecg & cmr & tgt)
    labelled_test = sorted((ecg & tgt & set(map(str, labelled_eids))) - cmr) if labelled_eids is not None else []
    only = sorted(ecg - set(paired_eids) - set(labelled_test))
    paired_split = assign(paired_eids, paired, seed, salt=1)
    only_split = assign(only, ecg_only, seed, salt=2)
    held_out = dict.fromkeys(labelled_test, "test")
    everyone = sorted(ecg | cmr)
    df = pd.DataFrame({"eid": everyone})
    df["has_ecg"] = df["eid"].isin(ecg)
    df["has_cmr"] = df["eid"].isin(cmr)
    df["paired"] = df["eid"].isin(paired_split)
    df["paired_split"] = df["eid"].map({**paired_split, **held_out}).fillna("")
    df["pretrain"] = df["eid"].map({**only_split, **paired_split, **held_out}).where(df["has_ecg"], "").fillna("")
    return df


def bulk_eids(source: str | Path, field: int, instance: int | None = 2) -> list[str]:
    """eids with a bulk file of ``field`` that ingest will use: from a bulk index
    parquet (``ecgcmr.bulk``), or by listing a folder (flat or nested) the same way."""
    if str(source).endswith(".parquet"):
        return used(source)["eid"].astype(str).tolist()
    ext = "xml" if field == ECG_FIELD else "zip"
    return used(build_index(source, field, ext, instance))["eid"].astype(str).tolist()


def write_splits(ecg_dir, cmr_dir, targets, out, paired, ecg_only, seed, instance: int | None = 2,
                 labelled_ecg_test: bool = False) -> pd.DataFrame:
    """``ecg_dir``/``cmr_dir``: the bulk index parquets (or the folders themselves);
    ``labelled_ecg_test``: see the module docstring."""
    from .phenotypes import PHENOTYPES

    table = pd.read_parquet(targets, columns=["eid", *PHENOTYPES] if labelled_ecg_test else ["eid"])
    labelled = table.loc[table[list(PHENOTYPES)].notna().any(axis=1), "eid"] if labelled_ecg_test else None
    df = make_splits(bulk_eids(ecg_dir, ECG_FIELD, instance), bulk_eids(cmr_dir, CMR_FIELD, instance),
                     table["eid"], paired, ecg_only, seed, labelled)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out, index=False)
    counts = df[df.paired].paired_split.value_counts().to_dict()
    log.info("splits: %d ECG subjects, %d paired %s, %d labelled ECG-only test", int(df.has_ecg.sum()),
             int(df.paired.sum()), counts, int((~df.paired & (df.paired_split == "test")).sum()))
    return df


# The two split columns of splits.parquet: the paired (ECG-CMR) split, as in alignment and
# Table 1, and the ECG pretraining split, as in the MAE and Table 2.
SPLIT_COLUMNS = {"paired": "paired_split", "pretrain": "pretrain"}


def subjects(splits: pd.DataFrame | str | Path, split: str, of: str = "paired",
             having: set[str] | None = None) -> list[str]:
    """The one query "eids of ``split`` (train/val/test) of the ``of`` split (paired or
    pretrain) that have ``having``" (e.g. crops and a cached ECG), sorted as strings.
    ``splits``: the table or its parquet."""
    if of not in SPLIT_COLUMNS:
        raise ValueError(f"of must be one of {sorted(SPLIT_COLUMNS)}, got {of!r}")
    if split not in NAMES:
        raise ValueError(f"split must be one of {list(NAMES)}, got {split!r}")
    col = SPLIT_COLUMNS[of]
    if not isinstance(splits, pd.DataFrame):
        splits = pd.read_parquet(splits, columns=["eid", col])
    eids = splits.loc[splits[col] == split, "eid"].astype(str)
    return sorted(e for e in eids if having is None or e in having)


def eids_of(*tables: str | Path) -> set[str]:
    """eids present in every one of the parquet ``tables`` (crop index, ECG index, ...)."""
    out = None
    for t in tables:
        have = set(pd.read_parquet(t, columns=["eid"])["eid"].astype(str))
        out = have if out is None else out & have
    return out or set()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ecg-dir", required=True, help="folder of {eid}_20205_*.xml (or its bulk index parquet)")
    p.add_argument("--cmr-dir", required=True, help="folder of {eid}_20209_*.zip (or its bulk index parquet)")
    p.add_argument("--instance", type=int, default=2, help="UKB instance of the files to count")
    p.add_argument("--targets", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--paired", type=float, nargs=3, default=[0.70, 0.15, 0.15])
    p.add_argument("--ecg-only", type=float, nargs=3, default=[0.75, 0.125, 0.125])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labelled-ecg-test", action="store_true",
                   help="subjects with an ECG and phenotypes but no CMR join Table 1's test split")


def cli(args) -> int:
    for flag, path in (("--ecg-dir", args.ecg_dir), ("--cmr-dir", args.cmr_dir), ("--targets", args.targets)):
        if not Path(path).exists():
            raise FileNotFoundError(2, f"{flag} does not exist", str(path))
    write_splits(args.ecg_dir, args.cmr_dir, args.targets, args.out, args.paired, args.ecg_only, args.seed,
                 args.instance, args.labelled_ecg_test)
    return 0

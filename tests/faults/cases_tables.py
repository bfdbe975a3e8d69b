"""Faults of the tables and bulk folders users bring (issue 9's rows of the campaign):
bad values, spaced eids, malformed dates and duplicated columns in the phenotype and
outcome tables; repeats and other instances among the bulk files. Each becomes an
exclusion row naming the subject and reason, or one clear error naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from ecgcmr import exclusions
from ecgcmr import bulk
from ecgcmr.bulk import build_index, shard_files, write_bulk_index
from ecgcmr.cmr.ingest import gather_cmr_index, ingest_cmr_shard
from ecgcmr.errors import InputError
from ecgcmr.outcomes import OutcomeWindow
from ecgcmr.splits import bulk_eids
from ecgcmr.synth.physiology import sample_cohort
from ecgcmr.synth.tables import main_table
from ecgcmr.targets import build_targets

from . import data
from .registry import Silent, case, excluded, refused

AREA = "tables and bulk folders"


def _main(tmp: Path) -> pd.DataFrame:
    cfg = data.config()
    latents = sample_cohort(6, seed=2, cmr_fraction=1.0)
    return main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.0, seed=2).astype(str)


def _targets(tmp: Path, main: pd.DataFrame, diag_rows=(), mode: str = "any"):
    cfg = data.config()
    main_csv, diag_csv = Path(tmp) / "main.csv", Path(tmp) / "diag.csv"
    main.to_csv(main_csv, index=False)
    pd.DataFrame(list(diag_rows), columns=["eid", "icd10", "date"]).to_csv(diag_csv, index=False)
    targets, rows = build_targets(main_csv, diag_csv, cfg["phenotype_fields"], cfg["demographic_fields"],
                                  cfg["outcomes"], window=OutcomeWindow(mode=mode))
    return targets.set_index("eid"), exclusions.to_frame(rows)


@case("table_non_numeric_phenotype", AREA, "'abc' and 'n/a' in phenotype columns of the main table",
      "non_numeric_value rows naming the column and value; the cells are missing, not coerced to a number")
def _non_numeric(tmp):
    main = _main(tmp)
    main.loc[0, "24103-2.0"], main.loc[1, "24100-2.0"] = "abc", "n/a"
    targets, ex = _targets(tmp, main)
    excluded(ex, main.eid[0], "non_numeric_value", "24103-2.0", "abc")
    excluded(ex, main.eid[1], "non_numeric_value", "24100-2.0", "n/a")
    if pd.notna(targets.loc[main.eid[0], "LVEF"]):
        raise Silent("'abc' became a number")


@case("table_eid_whitespace", AREA, "an eid written ' 5892621  ' in the main table",
      "the eid is stripped, so the subject keeps its outcome and pairing")
def _spaced_eid(tmp):
    main = _main(tmp)
    eid = main.loc[2, "eid"]
    main.loc[2, "eid"] = f" {eid}  "
    targets, _ = _targets(tmp, main, [(eid, "I48", "2010-01-01")])
    if eid not in targets.index or targets.loc[eid, "AF"] != 1:
        raise Silent(f"subject {eid!r} lost its row or its outcome: {list(targets.index)}")


@case("table_malformed_diagnosis_date", AREA, "a diagnosis dated '2010-13-45' in prevalent mode",
      "a bad_diagnosis_date row naming the date and the table; the label is missing, not 0")
def _bad_date(tmp):
    main = _main(tmp)
    targets, ex = _targets(tmp, main, [(main.eid[0], "I48", "2010-13-45")], mode="prevalent")
    excluded(ex, main.eid[0], "bad_diagnosis_date", "2010-13-45", "diag.csv")
    if pd.notna(targets.loc[main.eid[0], "AF"]):
        raise Silent("a diagnosis with a malformed date still gave a label")


@case("table_duplicated_column", AREA, "the column 24100-2.0 twice in the main table",
      "one duplicate_columns error naming the file and the column")
def _dup_column(tmp):
    main = _main(tmp)
    path = Path(tmp) / "main.csv"
    lines = [",".join([*main.columns, "24100-2.0"])] + [",".join([*r, "1.0"]) for r in main.to_numpy()]
    path.write_text("\n".join(lines) + "\n")
    cfg = data.config()
    (Path(tmp) / "diag.csv").write_text("eid,icd10,date\n")
    refused(lambda: build_targets(path, Path(tmp) / "diag.csv", cfg["phenotype_fields"], cfg["demographic_fields"],
                                  cfg["outcomes"]), InputError, "main.csv", "duplicate_columns", "24100-2.0")


def _bulk(tmp: Path, *extra: str):
    """One subject's real zip as _2_0 plus copies under the names ``extra``; the
    bulk index, the ingest of the files it picked and the gathered CMR index."""
    t = Path(tmp)
    z = data.cmr_zip(t, 0)
    eid = data.eid_of(z)
    for name in extra:
        shutil.copy(z, t / "cmr" / name.format(eid=eid))
    (t / "ecg").mkdir()
    write_bulk_index(t / "ecg", t / "cmr", 2, t / "bulk_ecg.parquet", t / "bulk_cmr.parquet", t / "bulk.csv")
    index = ingest_cmr_shard(t / "cmr", 0, 1, t / "nii", t / "idx.parquet", t / "x.csv",
                             data.cmr_params(), files=shard_files(t / "bulk_cmr.parquet", 0, 1))
    gathered = gather_cmr_index([t / "idx.parquet"], t / "cmr_index.parquet")
    return eid, index, gathered, exclusions.read(t / "bulk.csv")


@case("bulk_repeat_of_same_instance", AREA, "two zips of one subject and instance (_2_0 and _2_1)",
      "one cine from _2_0, cited by the index; _2_1 listed as repeat_file; no cmr_index crash")
def _repeat(tmp):
    eid, index, gathered, ex = _bulk(tmp, "{eid}_20209_2_1.zip")
    if gathered["eid"].tolist() != [eid] or not str(index["source"].iloc[0]).endswith("_2_0.zip"):
        raise Silent(f"index {gathered.to_dict('records')}")
    excluded(ex, eid, "repeat_file", "_2_1.zip")


@case("bulk_other_instance", AREA, "a subject's zip of instance 3 beside its instance-2 zip, and one with instance 3 only",
      "other_instance rows for both; the instance-3-only subject is not counted as having a CMR")
def _other_instance(tmp):
    eid, _, gathered, ex = _bulk(tmp, "{eid}_20209_3_0.zip", "9999991_20209_3_0.zip")
    excluded(ex, eid, "other_instance", "_3_0.zip")
    excluded(ex, "9999991", "other_instance")
    if "9999991" in bulk_eids(Path(tmp) / "bulk_cmr.parquet", 20209) or "9999991" in set(gathered["eid"]):
        raise Silent("a subject with only an instance-3 zip counts as having a CMR")


@case("bulk_same_file_twice", AREA, "one zip both flat and in a RAP per-prefix folder",
      "used once; the second copy listed as duplicate_file")
def _twice(tmp):
    t = Path(tmp)
    z = data.cmr_zip(t, 0)
    (t / "cmr" / "10").mkdir()
    shutil.copy(z, t / "cmr" / "10" / z.name)
    index = build_index(t / "cmr", 20209, "zip", instance=2)
    if int(index["use"].sum()) != 1:
        raise Silent(f"{int(index['use'].sum())} copies used")
    excluded(exclusions.to_frame(bulk.exclusions(index)), data.eid_of(z), "duplicate_file")

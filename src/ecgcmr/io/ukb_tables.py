"""Reading UK Biobank tabular exports (ukbconv CSV / DNAnexus table exporter).

Columns are ``<field>-<instance>.<array>``; the main dataset has thousands of them, so
only the requested columns are read.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError


def field_column(field: int, instance: int, array: int = 0) -> str:
    return f"{field}-{instance}.{array}"


def read_fields(path: str | Path, columns: dict[str, str], dates: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read ``eid`` + ``columns`` (new name -> UKB column) from a CSV; eid as string,
    the names in ``dates`` as dates, the others as numbers.

    A missing column is an error naming the file and the columns, since a wrong field
    id in config would otherwise silently give an all-missing target. The main table
    can be gigabytes, so every field a stage needs is read in this one pass."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "missing_table", "file not found")
    header = pd.read_csv(path, nrows=0).columns
    wanted = ["eid", *columns.values()]
    absent = [c for c in wanted if c not in header]
    if absent:
        raise InputError(path, "missing_columns", ", ".join(absent))
    df = pd.read_csv(path, usecols=wanted, dtype={"eid": str, **{columns[n]: str for n in dates}})
    df = df.rename(columns={v: k for k, v in columns.items()})
    for name in columns:
        # UKB codes text as missing
        df[name] = parse_dates(df[name]) if name in dates else pd.to_numeric(df[name], errors="coerce")
    return df[["eid", *columns]]


def parse_dates(values: pd.Series) -> pd.Series:
    """ISO 8601 dates (UK Biobank's format); empty or unparsable = NaT."""
    return pd.to_datetime(values.astype("string").str.strip(), errors="coerce", format="ISO8601")


def read_diagnoses(path: str | Path) -> pd.DataFrame:
    """Long-form diagnoses ``eid, icd10[, date]``; codes upper-cased, dots removed,
    dates parsed (ISO 8601; empty or unparsable = NaT)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "missing_table", "file not found")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    code_col = next((c for c in ("icd10", "diag_icd10") if c in df.columns), None)
    if "eid" not in df.columns or code_col is None:
        raise InputError(path, "missing_columns", "need eid and icd10 (or diag_icd10)")
    out = pd.DataFrame({"eid": df["eid"].str.strip(),
                        "icd10": df[code_col].str.upper().str.replace(".", "", regex=False).str.strip()})
    if "date" in df.columns:
        out["date"] = parse_dates(df["date"])
    return out[out["icd10"] != ""]

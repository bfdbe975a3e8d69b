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


def read_fields(path: str | Path, columns: dict[str, str]) -> pd.DataFrame:
    """Read ``eid`` + ``columns`` (new name -> UKB column) from a CSV; eid as string.

    A missing column is an error naming the file and the columns, since a wrong field
    id in config would otherwise silently give an all-missing target."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "missing_table", "file not found")
    header = pd.read_csv(path, nrows=0).columns
    wanted = ["eid", *columns.values()]
    absent = [c for c in wanted if c not in header]
    if absent:
        raise InputError(path, "missing_columns", ", ".join(absent))
    df = pd.read_csv(path, usecols=wanted, dtype={"eid": str})
    df = df.rename(columns={v: k for k, v in columns.items()})
    for name in columns:
        df[name] = pd.to_numeric(df[name], errors="coerce")  # UKB codes text as missing
    return df[["eid", *columns]]


def read_date_field(path: str | Path, column: str) -> pd.Series:
    """One date column of the main table (e.g. ``53-2.0``, the visit date) by eid;
    an empty or unparsable entry is NaT."""
    path = Path(path)
    header = pd.read_csv(path, nrows=0).columns
    if column not in header:
        raise InputError(path, "missing_columns", column)
    df = pd.read_csv(path, usecols=["eid", column], dtype=str, keep_default_na=False)
    dates = pd.to_datetime(df[column].str.strip(), errors="coerce", format="ISO8601")
    return pd.Series(dates.to_numpy(), index=df["eid"].str.strip(), name="visit_date")


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
        out["date"] = pd.to_datetime(df["date"].str.strip(), errors="coerce", format="ISO8601")
    return out[out["icd10"] != ""]

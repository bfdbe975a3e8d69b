"""Diagnosis records from every source UK Biobank provides, in one long form
``eid, icd10, date, date_text, source, path`` for ``ecgcmr.outcomes``:

- ``fields``: hospital inpatient diagnoses of the main table, field 41270 (ICD-10,
  array) with 41280 (date of first diagnosis, same array index). Either one column per
  array index (``41270-0.3``, ``p41270_a3``) or RAP's single ``p41270`` column listing
  the codes (``I219|I48`` or ``["I219","I48"]``), whose k-th code pairs with 41280 array k;
- ``deaths``: 40001 (primary cause) and 40002 (secondary causes) with 40000 (date of
  death) of the same instance: where sudden cardiac death is recorded;
- ``hesin``: the HES record tables, ``hesin_diag`` (eid, ins_index, diag_icd10) joined
  to ``hesin`` on eid + ins_index for the episode date (epistart, else admidate);
- ``diagnoses_table``: a long-form ``eid, icd10[, date]`` table.

A code without a date is kept undated (``ecgcmr.outcomes`` says what that means per
window); a date without a code labels nothing. Both are counted per source.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from .errors import InputError
from .io.ukb_tables import MainTables, field_column, normalise_codes, parse_dates, read_diagnoses

DEFAULT_FIELDS = {"icd10": 41270, "icd10_date": 41280, "death_primary": 40001,
                  "death_secondary": 40002, "death_date": 40000}
SOURCES = ("fields", "deaths", "hesin", "diagnoses_table")
COLUMNS = ["eid", "icd10", "date", "date_text", "source", "path"]


def field_keys(tables: MainTables, fields: dict | None) -> list:
    """The main-table columns the outcome fields need (those the files have)."""
    if not fields:
        return []
    return [k for name in DEFAULT_FIELDS if fields.get(name) is not None
            for k in tables.arrays(int(fields[name]))]


def _cells(values: pd.Series) -> list[list[str]]:
    """A cell as a list of entries: RAP writes an array field in one cell as
    ``a|b`` or as a JSON list; ukbconv writes one entry per column."""
    out = []
    for v in values.astype(str):
        v = v.strip()
        if v.startswith("[") and v.endswith("]"):
            try:
                out.append([str(x).strip() for x in json.loads(v)])
                continue
            except ValueError:
                v = v[1:-1]
        out.append([x.strip().strip('"') for x in v.split("|")] if v else [])
    return out


def _explode(table: pd.DataFrame, tables: MainTables, field: int, instance: int | None,
             by: str) -> pd.DataFrame:
    """Long ``eid, <by>, value`` of one field's columns, ``by`` = array index (k-th
    entry of a listed cell counts from its column's array index) or instance.
    Vectorised per column: ukbconv has ~260 columns of 41270 for ~500k subjects."""
    frames = [pd.DataFrame(columns=["eid", by, "value"])]
    for key in tables.arrays(field, instance):
        col = table[field_column(*key)].astype(str).str.strip()
        keep = col != ""
        vals, eids = col[keep], table.loc[keep, "eid"]
        base = key[2] if by == "array" else key[1]
        listed = vals.str.startswith("[") | vals.str.contains("|", regex=False)
        frames.append(pd.DataFrame({"eid": eids[~listed], by: base, "value": vals[~listed]}))
        if listed.any():
            rows = [(e, base + j if by == "array" else base, v)
                    for e, cell in zip(eids[listed], _cells(vals[listed])) for j, v in enumerate(cell) if v]
            frames.append(pd.DataFrame(rows, columns=["eid", by, "value"]))
    return pd.concat(frames, ignore_index=True).astype({by: "int64"})


def _with_dates(codes: pd.DataFrame, dates: pd.DataFrame, on: list[str], source: str, path: str,
                stats: Counter) -> pd.DataFrame:
    codes = codes.rename(columns={"value": "code"})
    dates = dates.rename(columns={"value": "date_text"}).drop_duplicates(on)
    merged = codes.merge(dates, on=on, how="left")
    stats[f"{source}:dates_without_code"] += len(dates) - len(dates.merge(codes[on].drop_duplicates(), on=on))
    out = pd.DataFrame({"eid": merged["eid"], "icd10": normalise_codes(merged["code"]),
                        "date_text": merged["date_text"].fillna("").astype(str).str.strip()})
    out["date"] = parse_dates(out["date_text"])
    out["source"], out["path"] = source, path
    return out[out["icd10"] != ""][COLUMNS]


def from_fields(table: pd.DataFrame, tables: MainTables, fields: dict, stats: Counter) -> list[pd.DataFrame]:
    """``table``: eid + the text columns of ``field_keys`` (``MainTables.read``)."""
    out = []
    f = {k: fields.get(k) for k in DEFAULT_FIELDS}
    paths = lambda fid: ", ".join(sorted({str(tables.path_of(k)) for k in tables.arrays(fid)}))  # noqa: E731
    if f["icd10"] is not None and tables.arrays(f["icd10"]):
        codes = _explode(table, tables, f["icd10"], 0, "array")
        dates = (_explode(table, tables, f["icd10_date"], 0, "array") if f["icd10_date"] is not None
                 else pd.DataFrame(columns=["eid", "array", "value"]))
        out.append(_with_dates(codes, dates, ["eid", "array"], "fields", paths(f["icd10"]), stats))
    death = [f[k] for k in ("death_primary", "death_secondary") if f[k] is not None and tables.arrays(f[k])]
    if death:
        codes = pd.concat([_explode(table, tables, fid, None, "instance") for fid in death], ignore_index=True)
        dates = (_explode(table, tables, f["death_date"], None, "instance") if f["death_date"] is not None
                 else pd.DataFrame(columns=["eid", "instance", "value"]))
        out.append(_with_dates(codes, dates, ["eid", "instance"], "deaths", paths(death[0]), stats))
    return out


def from_hesin(hesin_diag: str | Path, hesin: str | Path | None, stats: Counter) -> pd.DataFrame:
    """HES diagnoses dated by their episode (``hesin.epistart``, else ``admidate``)."""
    diag = _read_plain(hesin_diag, ["eid", "ins_index", "diag_icd10"])
    diag = diag[diag["diag_icd10"].str.strip() != ""]
    if hesin is not None:
        ep = _read_plain(hesin, ["eid", "ins_index"])
        date_col = next((c for c in ("epistart", "admidate") if c in ep.columns), None)
        if date_col is None:
            raise InputError(hesin, "missing_columns", "epistart (or admidate)")
        date = ep[date_col].str.strip()
        if "admidate" in ep.columns and date_col == "epistart":
            date = date.where(date != "", ep["admidate"].str.strip())
        ep = ep.assign(date_text=date)[["eid", "ins_index", "date_text"]].drop_duplicates(["eid", "ins_index"])
        diag = diag.merge(ep, on=["eid", "ins_index"], how="left")
        stats["hesin:diagnoses_without_episode"] += int(diag["date_text"].isna().sum())
    else:
        diag["date_text"] = ""
    out = pd.DataFrame({"eid": diag["eid"].str.strip(), "icd10": normalise_codes(diag["diag_icd10"]),
                        "date_text": diag["date_text"].fillna("").str.strip()})
    out["date"] = parse_dates(out["date_text"])
    out["source"], out["path"] = "hesin", str(hesin_diag)
    return out[out["icd10"] != ""][COLUMNS]


def from_long_table(path: str | Path) -> pd.DataFrame:
    df = read_diagnoses(path)
    if "date" not in df.columns:
        df["date"], df["date_text"] = pd.NaT, ""
    df["source"], df["path"] = "diagnoses_table", str(path)
    return df[COLUMNS]


def _read_plain(path: str | Path, need: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "missing_table", "file not found")
    with path.open(encoding="utf-8-sig") as fh:
        first = fh.readline()
    sep = "\t" if first.count("\t") > first.count(",") else ","
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    absent = [c for c in need if c not in df.columns]
    if absent:
        raise InputError(path, "missing_columns", ", ".join(absent))
    return df


def provenance(diagnoses: pd.DataFrame, eids: pd.Series, outcomes: dict[str, list[str]],
               stats: Counter) -> pd.DataFrame:
    """Per source and outcome: matching records, cohort subjects they label, records
    without a date, with a malformed date; per source (outcome ``*``) the same over all
    codes plus dates that had no code."""
    cohort = set(eids.astype(str))
    rows = []
    bad = (diagnoses["date_text"] != "") & diagnoses["date"].isna()
    undated = diagnoses["date_text"] == ""
    seen = {k.split(":")[0] for k, n in stats.items() if n} & set(SOURCES)
    for source in sorted(set(diagnoses["source"]) | seen):
        mine = diagnoses["source"] == source
        rows.append({"source": source, "outcome": "*", "records": int(mine.sum()),
                     "subjects": int(diagnoses.loc[mine & diagnoses["eid"].isin(cohort), "eid"].nunique()),
                     "undated": int((mine & undated).sum()), "bad_dates": int((mine & bad).sum()),
                     "dates_without_code": int(stats.get(f"{source}:dates_without_code", 0)),
                     "codes_without_episode": int(stats.get(f"{source}:diagnoses_without_episode", 0))})
        for name, prefixes in outcomes.items():
            p = tuple(x.upper().replace(".", "") for x in prefixes)
            hit = mine & diagnoses["icd10"].str.startswith(p)
            rows.append({"source": source, "outcome": name, "records": int(hit.sum()),
                         "subjects": int(diagnoses.loc[hit & diagnoses["eid"].isin(cohort), "eid"].nunique()),
                         "undated": int((hit & undated).sum()), "bad_dates": int((hit & bad).sum()),
                         "dates_without_code": 0, "codes_without_episode": 0})
    return pd.DataFrame(rows, columns=["source", "outcome", "records", "subjects", "undated", "bad_dates",
                                       "dates_without_code", "codes_without_episode"])

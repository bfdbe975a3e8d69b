"""Reading UK Biobank tabular exports in every form UK Biobank and its Research
Analysis Platform (RAP) hand out, detected from the header:

- ukbconv CSV/TSV: ``eid``, ``<field>-<instance>.<array>`` (``24100-2.0``);
- RAP Table Exporter / ``dx extract_dataset`` with field-name headers: ``eid`` or
  ``participant.eid``; ``p<field>_i<instance>_a<array>``, shortened to
  ``p<field>_i<instance>`` or ``p<field>`` where the field has no array or no instance
  (``p24100_i2``, ``p31``), optionally prefixed ``participant.``;
- any of them split over several files (exports come in chunks), joined on eid.

The main dataset has thousands of columns, so only the requested ones are read, all
of them in one pass per file. Values are read as text and converted here, so that a
value that is not a number (``abc``, ``n/a``) or not a date is reported, never quietly
turned into a missing value.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import pandas as pd

from ..errors import InputError

_UKBCONV = re.compile(r"^(\d+)-(\d+)\.(\d+)$")
_RAP = re.compile(r"^p(\d+)(?:_i(\d+))?(?:_a(\d+))?$")
EID_NAMES = ("eid", "participant.eid", "participant_eid")
Key = tuple[int, int, int]   # (field, instance, array)


def field_column(field: int, instance: int, array: int = 0) -> str:
    """The ukbconv name of a column (``24100-2.0``): how messages and docs name it."""
    return f"{field}-{instance}.{array}"


def parse_column(name: str) -> Key | None:
    """``24100-2.0`` / ``p24100_i2_a0`` / ``p24100_i2`` / ``p31`` -> (field, instance,
    array); a missing instance or array part is 0, as UK Biobank omits it only where
    the field has just that one. None for other columns."""
    name = name.strip()
    if name.startswith("participant."):
        name = name[len("participant."):]
    if m := _UKBCONV.match(name):
        return int(m[1]), int(m[2]), int(m[3])
    if m := _RAP.match(name):
        return int(m[1]), int(m[2] or 0), int(m[3] or 0)
    return None


def _separator(first_line: str) -> str:
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


@dataclass
class _File:
    path: Path
    sep: str
    eid: str                                   # the eid column's name
    columns: dict[Key, str] = dc_field(default_factory=dict)


@dataclass
class Problem:
    """A value that could not be used, for the exclusions table and the log."""
    eid: str
    reason: str
    detail: str
    path: str


class MainTables:
    """The main dataset as one or more files (joined on eid). Opening reads only the
    headers; a missing file, a header without an eid column, a duplicated column name
    (or two columns meaning the same field/instance/array) is an error naming the file
    and the column."""

    def __init__(self, paths: str | Path | list[str | Path]):
        self.paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        if not self.paths:
            raise ValueError("cohort.main_table lists no file")
        self.files = [self._open(p) for p in self.paths]
        owner: dict[Key, _File] = {}
        for f in self.files:
            for key, name in f.columns.items():
                if key in owner:
                    raise InputError(f.path, "duplicate_columns",
                                     f"{name} ({field_column(*key)}) is also in {owner[key].path}")
                owner[key] = f
        self._owner = owner

    @staticmethod
    def _open(path: Path) -> _File:
        if not path.exists():
            raise InputError(path, "missing_table", "file not found")
        with path.open(newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
        sep = _separator(first)
        header = next(csv.reader([first], delimiter=sep), [])
        dup = [n for n, c in Counter(header).items() if c > 1]
        if dup:
            raise InputError(path, "duplicate_columns", f"column {dup[0]!r} appears more than once")
        eid = next((n for n in header if n.strip() in EID_NAMES), None)
        if eid is None:
            raise InputError(path, "missing_columns", f"eid (one of {', '.join(EID_NAMES)})")
        f = _File(path, sep, eid)
        for name in header:
            key = parse_column(name)
            if key is None:
                continue
            if key in f.columns:
                raise InputError(path, "duplicate_columns",
                                 f"{f.columns[key]!r} and {name!r} are both {field_column(*key)}")
            f.columns[key] = name
        return f

    def has(self, key: Key) -> bool:
        return key in self._owner

    def arrays(self, field: int, instance: int | None = None) -> list[Key]:
        """Every column of ``field`` (of one instance, if given), in (instance, array) order."""
        return sorted(k for k in self._owner if k[0] == field and (instance is None or k[1] == instance))

    def label(self, key: Key) -> str:
        """The column as the user's file names it."""
        return self._owner[key].columns[key]

    def path_of(self, key: Key) -> Path:
        return self._owner[key].path

    def read(self, keys: list[Key]) -> tuple[pd.DataFrame, list[Problem], dict]:
        """``eid`` + one text column per key (named by ``field_column``; "" = empty), for
        the union of the files' subjects, in first-seen order. A key no file has is an
        error listing all absent columns. Also returns the problems (repeated eids,
        eids absent from a file) and counts for the log (eids stripped of spaces)."""
        absent = [k for k in keys if k not in self._owner]
        if absent:
            raise InputError(self.paths[0] if len(self.paths) == 1 else ", ".join(map(str, self.paths)),
                             "missing_columns", ", ".join(field_column(*k) for k in absent))
        problems: list[Problem] = []
        counts = Counter()
        frames = []
        for f in self.files:
            mine = [k for k in keys if self._owner[k] is f]
            df = pd.read_csv(f.path, sep=f.sep, usecols=[f.eid, *(f.columns[k] for k in mine)], dtype=str,
                             keep_default_na=False, na_filter=False, encoding="utf-8-sig")
            raw = df[f.eid]
            eid = raw.str.strip()
            counts["eid_whitespace_stripped"] += int((eid != raw).sum())
            counts["rows_without_eid"] += int((eid == "").sum())
            df = df.assign(**{f.eid: eid})[eid != ""]
            df = df.rename(columns={f.eid: "eid", **{f.columns[k]: field_column(*k) for k in mine}})
            dup = df["eid"].duplicated(keep="first")
            problems += [Problem(e, "duplicate_eid", "eid repeated in main table; first row kept", str(f.path))
                         for e in df.loc[dup, "eid"]]
            frames.append((f, df[~dup].set_index("eid")))
        order = list(dict.fromkeys(e for _, df in frames for e in df.index))
        out = pd.DataFrame(index=pd.Index(order, name="eid"))
        for f, df in frames:
            if len(frames) > 1:
                missing = out.index.difference(df.index, sort=False)
                problems += [Problem(e, "absent_from_table",
                                     f"not in this file: its columns ({', '.join(df.columns) or 'none'}) left "
                                     "empty; subject kept", str(f.path)) for e in missing]
            out = out.join(df, how="left")
        out = out.fillna("").reset_index()
        return out[["eid", *(field_column(*k) for k in keys)]], problems, dict(counts)


def to_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text -> numbers (empty = NaN; int64 where every value is an integer, as
    pandas reads a CSV), and a mask of non-empty values that are not numbers."""
    text = values.astype(str).str.strip()
    num = pd.to_numeric(text.where(text != ""), errors="coerce")
    return num, (text != "") & num.isna()


def parse_dates(values: pd.Series) -> pd.Series:
    """ISO 8601 dates (UK Biobank's format); empty or unparsable = NaT."""
    return pd.to_datetime(values.astype("string").str.strip(), errors="coerce", format="ISO8601")


def to_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text -> datetime64 (empty = NaT), and a mask of non-empty values that are not dates."""
    text = values.astype("string").fillna("").str.strip()
    dates = parse_dates(text)
    return dates, (text != "") & dates.isna()


def read_diagnoses(path: str | Path) -> pd.DataFrame:
    """Long-form diagnoses ``eid, icd10[, date]``; codes upper-cased, dots removed;
    ``date`` parsed (empty = NaT) with the original text in ``date_text`` so that a
    malformed date can be reported. CSV or TSV."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "missing_table", "file not found")
    with path.open(encoding="utf-8-sig") as fh:
        sep = _separator(fh.readline())
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    code_col = next((c for c in ("icd10", "diag_icd10") if c in df.columns), None)
    if "eid" not in df.columns or code_col is None:
        raise InputError(path, "missing_columns", "need eid and icd10 (or diag_icd10)")
    out = pd.DataFrame({"eid": df["eid"].str.strip(), "icd10": normalise_codes(df[code_col])})
    if "date" in df.columns:
        out["date"] = parse_dates(df["date"])
        out["date_text"] = df["date"].str.strip()
    return out[out["icd10"] != ""].reset_index(drop=True)


def normalise_codes(codes: pd.Series) -> pd.Series:
    """ICD-10 as UK Biobank's HES tables write it: upper case, no dot (I21.9 -> I219);
    of a coded value with its meaning (``I21.9 Acute myocardial infarction``) the code."""
    first = codes.astype(str).str.strip().str.split(n=1).str[0].fillna("")
    return first.str.upper().str.replace(".", "", regex=False)

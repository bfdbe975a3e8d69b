"""The exclusions table: every subject a stage could not use, with the reason.

Columns: eid, stage, reason, detail, path. A stage never drops a subject silently:
it either writes an output row for it or an exclusion row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError

COLUMNS = ["eid", "stage", "reason", "detail", "path"]


@dataclass(frozen=True)
class Exclusion:
    eid: str
    stage: str
    reason: str
    detail: str = ""
    path: str = ""

    @classmethod
    def from_error(cls, eid: str, stage: str, err: InputError) -> "Exclusion":
        return cls(str(eid), stage, err.reason, err.detail, err.path)


def to_frame(rows: list[Exclusion]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
    return pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS).astype("string")


def write(rows: list[Exclusion], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_frame(rows).to_csv(path, index=False)


def read(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype="string", keep_default_na=False)


def gather(paths: list[str | Path], out: str | Path) -> pd.DataFrame:
    """Concatenate per-stage/per-shard exclusion tables into one."""
    frames = [read(p) for p in paths]
    df = pd.concat(frames, ignore_index=True) if frames else to_frame([])
    df = df.sort_values(["stage", "eid"], kind="stable").reset_index(drop=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df

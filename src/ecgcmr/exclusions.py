"""The exclusions table: every subject a stage could not use, with the reason.

Columns: eid, stage, reason, detail, path. A stage never drops a subject silently:
it either writes an output row for it or an exclusion row.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    import pandas as pd

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
    import pandas as pd

    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
    return pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS).astype("string")


def write(rows: list[Exclusion], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the csv module writes what pandas' to_csv wrote (minimal quoting, "\n" lines) without
    # importing pandas (~0.5 CPU-s) into every ingest process
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows([getattr(r, c) for c in COLUMNS] for r in rows)


def read(path: str | Path) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(path, dtype="string", keep_default_na=False)


def gather(paths: list[str | Path], out: str | Path) -> pd.DataFrame:
    """Concatenate per-stage/per-shard exclusion tables into one."""
    import pandas as pd

    frames = [read(p) for p in paths]
    df = pd.concat(frames, ignore_index=True) if frames else to_frame([])
    df = df.sort_values(["stage", "eid"], kind="stable").reset_index(drop=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df

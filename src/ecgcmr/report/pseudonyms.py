"""Per-run pseudonyms: participant ids never appear in the report.

A run draws one random key (``{results}/pseudonyms/key.txt``) the first time a figure
or table of the report needs it; a participant's pseudonym is ``P-`` + the first 10 hex
digits of HMAC-SHA256(key, eid). So pseudonyms differ between runs (two reports cannot
be joined on them), a figure made in any rule agrees with every other without a shared
table, and without the key a pseudonym cannot be turned back into an eid. The mapping
``{results}/pseudonyms/pseudonyms.csv`` (eid, pseudonym) stays in the results folder:
it is what lets the study team find a subject named in the report.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

PREFIX = "P-"


def write_key(path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32) + "\n")


def read_key(path: str | Path) -> bytes:
    return bytes.fromhex(Path(path).read_text().strip())


def pseudonym(eid: str, key: bytes) -> str:
    return PREFIX + hmac.new(key, str(eid).encode(), hashlib.sha256).hexdigest()[:10]


class Pseudonymiser:
    """eid -> pseudonym with one key; ``scrub`` replaces eids inside free text too
    (file names such as ``1234567_20205_2_0.xml`` in an exclusion's path)."""

    def __init__(self, key_path: str | Path):
        self.key = read_key(key_path)

    def __call__(self, eid) -> str:
        return pseudonym(str(eid), self.key)

    def mapping(self, eids: Iterable) -> pd.DataFrame:
        eids = sorted({str(e) for e in eids if str(e)})
        df = pd.DataFrame({"eid": eids, "pseudonym": [self(e) for e in eids]})
        if df["pseudonym"].duplicated().any():   # 1e12 values: only on a broken key
            raise ValueError("pseudonym collision: delete the key file and rerun the report rules")
        return df

    def scrub(self, text: str, eids: Iterable[str]) -> str:
        """``text`` with every whole-number occurrence of an eid replaced."""
        wanted = set(map(str, eids))
        if not text or not wanted:
            return text
        return re.sub(r"(?<![0-9A-Za-z])[0-9A-Za-z]+(?![0-9A-Za-z])",
                      lambda m: self(m[0]) if m[0] in wanted else m[0], text)

    def table(self, df: pd.DataFrame, eid_column: str = "eid") -> pd.DataFrame:
        """``df`` with ``eid_column`` replaced by ``pseudonym`` (first column) and eids
        scrubbed from every text column."""
        eids = set(df[eid_column].astype(str))
        out = df.drop(columns=[eid_column]).copy()
        for c in out.columns:
            if out[c].dtype == object or str(out[c].dtype).startswith("string"):
                out[c] = out[c].astype(str).map(lambda s: self.scrub(s, eids))
        out.insert(0, "pseudonym", df[eid_column].astype(str).map(self))
        return out


def write_mapping(key_path: str | Path, splits: str | Path, exclusions: str | Path, out: str | Path) -> pd.DataFrame:
    """Every participant of the run (splits: anyone with a raw ECG or CMR; exclusions:
    anyone a stage left out, table-only subjects included)."""
    from .. import exclusions as excl

    eids = set(pd.read_parquet(splits, columns=["eid"])["eid"].astype(str))
    eids |= set(excl.read(exclusions)["eid"].astype(str))
    df = Pseudonymiser(key_path).mapping(eids)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df


def pseudonymised_exclusions(key_path: str | Path, exclusions: str | Path, out_csv: str | Path) -> pd.DataFrame:
    from .. import exclusions as excl

    df = Pseudonymiser(key_path).table(excl.read(exclusions))
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_csv, index=False)
    return df

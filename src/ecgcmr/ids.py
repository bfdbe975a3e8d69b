"""Subject identifiers and the UK Biobank bulk-file naming convention.

eids are kept as strings everywhere: UKB eids are 7-digit integers, but external
records (WFDB, PTB-XL) have names like ``HR06000``.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

_BULK = re.compile(r"^(?P<eid>[^_]+)_(?P<field>\d+)_(?P<instance>\d+)_(?P<array>\d+)\.(?P<ext>\w+)$")


def bulk_name(eid: str | int, field: int, instance: int = 2, array: int = 0, ext: str = "xml") -> str:
    return f"{eid}_{field}_{instance}_{array}.{ext}"


def parse_bulk_name(path: str | Path) -> dict | None:
    """``1234567_20205_2_0.xml`` -> {eid, field, instance, array, ext}; None if not UKB-named."""
    m = _BULK.match(Path(path).name)
    if not m:
        return None
    d = m.groupdict()
    return {"eid": d["eid"], "field": int(d["field"]), "instance": int(d["instance"]),
            "array": int(d["array"]), "ext": d["ext"]}


def shard_of(eid: str | int, n_shards: int) -> int:
    """Stable shard of a subject: known before any file is read, so Snakemake can
    scatter without a checkpoint, and identical on every machine (unlike hash())."""
    return zlib.crc32(str(eid).encode()) % n_shards

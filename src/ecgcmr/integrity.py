"""Content checksums of the caches, so a file changed after it was written is caught
where it is read instead of flowing into training.

- ECG shards are written with parquet page checksums (CRC-32 of every data page,
  computed by the writer at write time) and always read with
  ``page_checksum_verification``: a damaged page fails the read of that page, however
  the file's mtime looks. When the shards are indexed every page is checked and each
  shard's SHA-256 recorded in the index, so the digest is of the content as written; a
  shard changed or replaced after indexing is refused before it is decoded.
- Each NIfTI cine's SHA-256 is recorded in its shard's CMR index row when it is written
  and checked before the cine is read.

A mismatch raises :class:`CacheCorruptError` naming the file and the one command that
rebuilds it (a cache is rebuilt from the raw data, never repaired in place).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import InputError

READ_CHUNK = 1 << 20


class CacheCorruptError(InputError):
    """A cache file whose content is not what was written."""


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def rebuild_command(path: str | Path) -> str:
    """The one command that rebuilds ``path`` (its own job only; the next ordinary run
    then redoes what depends on it, as it is newer). A cine is not a rule output itself:
    the CMR shard index beside it that lists it is."""
    target = _producing_output(Path(path))
    return f"snakemake {target} --force --cores all  (with the run's --configfile/--profile)"


def _producing_output(path: Path) -> Path | str:
    if not path.name.endswith(".nii.gz"):
        return path
    import pandas as pd

    for shard in sorted(path.parent.glob("shard_*.parquet")):
        try:
            if str(path) in set(pd.read_parquet(shard, columns=["path"])["path"].astype(str)):
                return shard
        except Exception:  # noqa: BLE001 - a damaged neighbour only loses the precise hint
            continue
    return f"{path.parent}/shard_<k>.parquet (the CMR shard index listing {path.name})"


def corrupt(path: str | Path, what: str) -> CacheCorruptError:
    return CacheCorruptError(path, "cache_checksum_mismatch",
                             f"{what}; the file changed after it was written. Rebuild it: {rebuild_command(path)}")


def verify_file(path: str | Path, expected: str | None) -> None:
    """Raise :class:`CacheCorruptError` unless ``path`` has SHA-256 ``expected``.
    An index written before checksums existed (``expected`` empty) is not checked."""
    if not isinstance(expected, str) or not expected:   # None/NaN/NA: an older index row
        return
    try:
        got = file_digest(path)
    except OSError as e:
        raise CacheCorruptError(path, "cache_unreadable", f"{e}. Rebuild it: {rebuild_command(path)}") from e
    if got != expected:
        raise corrupt(path, f"SHA-256 is {got[:12]}…, the index recorded {expected[:12]}…")


def read_parquet_verified(path: str | Path, columns: list[str] | None = None):
    """``pyarrow.parquet.read_table`` with every page's CRC checked; a damaged shard
    raises :class:`CacheCorruptError` (pyarrow's own error is kept as the cause)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns, page_checksum_verification=True)
    except (OSError, pa.ArrowException, ValueError) as e:
        raise corrupt(path, f"parquet read failed ({type(e).__name__}: {str(e)[:200]})") from e


def verify_pages(path: str | Path) -> None:
    """Read every page of a parquet file once, row group by row group, checking each
    against its write-time CRC (memory: one row group). Used before a shard's SHA-256
    goes into the index, so the recorded digest is of content as it was written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path, page_checksum_verification=True)
        for k in range(f.num_row_groups):
            f.read_row_group(k)
    except (OSError, pa.ArrowException, ValueError) as e:
        raise corrupt(path, f"parquet page check failed ({type(e).__name__}: {str(e)[:200]})") from e

"""Registry and classifier of the fault campaign.

A case is ``fn(tmp: Path) -> None`` that feeds one fault to the real code path and
checks what came out. Its outcome is classified:

- ``handled``: the case returned, i.e. the fault became the expected exclusion row or
  one clear error naming the file and the reason;
- ``silent_loss``: the case raised :class:`Silent`: the fault went through unnoticed
  (a record accepted, a value coerced, a subject missing without a row);
- ``crashed``: anything else (a traceback, or an error that does not say what and where).
"""

from __future__ import annotations

import importlib
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MODULES = ["faults.cases_cache", "faults.cases_cmr", "faults.cases_ecg", "faults.cases_cli",
           "faults.cases_lock", "faults.cases_loading", "faults.cases_tables"]


class Silent(AssertionError):
    """The fault was not noticed: something was lost or coerced without a word."""


@dataclass(frozen=True)
class Case:
    name: str
    area: str
    fault: str
    expect: str
    fn: Callable[[Path], None]


@dataclass
class Result:
    case: Case
    status: str        # handled | silent_loss | crashed
    detail: str
    seconds: float


CASES: dict[str, Case] = {}


def case(name: str, area: str, fault: str, expect: str):
    """Register ``fn`` as the case ``name`` (``fault``: what is done; ``expect``: the
    handling that counts as handled)."""
    def register(fn):
        if name in CASES:
            raise ValueError(f"fault case {name!r} registered twice")
        CASES[name] = Case(name, area, fault, expect, fn)
        return fn
    return register


def load_all() -> dict[str, Case]:
    for m in MODULES:
        importlib.import_module(m)
    return CASES


def run_case(c: Case, tmp: Path | None = None) -> Result:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"fault_{c.name}_") as d:
        try:
            c.fn(Path(tmp or d))
            status, detail = "handled", c.expect
        except Silent as e:
            status, detail = "silent_loss", str(e)
        except Exception as e:  # noqa: BLE001 - classifying every failure is the point
            status = "crashed"
            detail = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exception(e)[-3:])
    return Result(c, status, detail, time.perf_counter() - t0)


# ------------------------------------------------------------------ checks for cases
class Unclear(Exception):
    """An error was raised, but it does not name the file or the reason."""


def refused(fn: Callable[[], object], types, *needles: str) -> BaseException:
    """``fn()`` must raise one of ``types`` whose message holds every needle."""
    try:
        fn()
    except types as e:
        text = str(e)
        missing = [n for n in needles if n not in text]
        if missing:
            raise Unclear(f"{type(e).__name__} lacks {missing}: {text}") from e
        return e
    raise Silent(f"accepted without error (expected {types})")


def excluded(frame, eid: str, reason: str, *needles: str) -> None:
    """The exclusions table must list ``eid`` with ``reason`` (detail/path holding needles)."""
    rows = frame[(frame["eid"].astype(str) == str(eid)) & (frame["reason"] == reason)]
    if rows.empty:
        raise Silent(f"no exclusion row ({eid}, {reason}); rows: {frame[['eid', 'reason']].values.tolist()}")
    text = " ".join(rows["detail"].astype(str)) + " " + " ".join(rows["path"].astype(str))
    missing = [n for n in needles if n not in text]
    if missing:
        raise Unclear(f"exclusion of {eid} lacks {missing}: {text}")

"""Logging set-up shared by the CLI and the Snakemake scripts."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path


def setup(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextlib.contextmanager
def snakemake_logging(snakemake):
    """Route a rule's logging (and uncaught tracebacks) to its ``log:`` file."""
    log_file = snakemake.log[0] if len(snakemake.log) else None
    setup(log_file)
    try:
        yield logging.getLogger(f"ecgcmr.rule.{snakemake.rule}")
    except Exception:
        logging.getLogger("ecgcmr").exception("rule %s failed", snakemake.rule)
        raise

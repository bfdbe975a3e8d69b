"""One run at a time per results directory.

Snakemake locks its own working directory only; two runs from two working directories
(or two ``--directory`` values, or two users) on one ``results_dir`` would train into
one checkpoint and one log at once. The workflow takes this lock when it starts
executing jobs (not for dry runs, reports or DAG drawings) and releases it when it ends.

The lock is ``{results_dir}/.ecgcmr.lock``, a small JSON file (host, pid, start time,
working directory, command) created atomically with ``os.link`` (also atomic on NFS).
A lock whose process is gone from this host is stale: it is replaced, and the log says
whose it was. A lock from another host cannot be checked from here; the message says
how to clear it once that run is known to be dead.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_NAME = ".ecgcmr.lock"


class RunLockedError(RuntimeError):
    """Another run holds the results directory."""


def lock_path(results_dir: str | Path) -> Path:
    return Path(results_dir) / LOCK_NAME


def _me() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime()),
            "workdir": os.getcwd(), "command": " ".join(sys.argv)[:500]}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's live process
        return True
    return True


def read_lock(results_dir: str | Path) -> dict | None:
    try:
        return json.loads(lock_path(results_dir).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}   # unreadable: a lock file cut short when its writer died


def describe(owner: dict) -> str:
    return (f"host {owner.get('host', '?')}, pid {owner.get('pid', '?')}, started {owner.get('started', '?')}, "
            f"working directory {owner.get('workdir', '?')}")


def acquire(results_dir: str | Path, log=print) -> dict:
    """Take the lock or raise :class:`RunLockedError` naming its holder. Returns the
    lock's content (pass it to :func:`release`)."""
    path = lock_path(results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = _me()
    for _ in range(3):
        tmp = path.with_name(f"{LOCK_NAME}.{me['host']}.{me['pid']}")
        tmp.write_text(json.dumps(me) + "\n")
        try:
            os.link(tmp, path)
            return me
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        owner = read_lock(results_dir)
        if owner is None:
            continue   # released between our try and our read
        if not owner:
            log(f"ecgcmr: removing the unreadable lock {path} (its writer died while writing it)")
        elif owner.get("host") == me["host"] and not _alive(int(owner.get("pid", -1))):
            log(f"ecgcmr: stale lock {path}: the run that took it ({describe(owner)}) is no longer "
                f"running (killed or its node restarted); taking it over")
        elif owner.get("host") == me["host"] and int(owner.get("pid", -1)) == me["pid"]:
            return owner   # this process already holds it
        else:
            hint = "" if owner.get("host") == me["host"] else \
                (f" It was taken on another host, which cannot be checked from here: if that run is "
                 f"no longer running, delete {path}.")
            raise RunLockedError(f"results_dir {Path(results_dir).resolve()} is in use by another ecgcmr run "
                                 f"({describe(owner)}). Wait for it to finish or use another "
                                 f"results_dir.{hint}")
        path.unlink(missing_ok=True)
    raise RunLockedError(f"could not take the lock {path}: other runs keep taking it")


def release(results_dir: str | Path, mine: dict | None) -> None:
    """Remove the lock if it is still the one this run took."""
    owner = read_lock(results_dir)
    if mine and owner and owner.get("host") == mine["host"] and owner.get("pid") == mine["pid"]:
        lock_path(results_dir).unlink(missing_ok=True)

"""Where the real public test files are (shared/data, see its SOURCES.md).

CI clones the repository with shared/ beside it; a developer checkout under /work has
it at /work/shared. ``ECGCMR_SHARED_DATA`` overrides both. A test that needs these files
fails when they are absent: a skip would let the real-file checks pass unseen.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [Path(p) for p in (os.environ.get("ECGCMR_SHARED_DATA"),) if p] + [
    REPO.parent / "shared" / "data", Path("/work/shared/data")]
SHARED_DATA = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])


def require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"real public test file not found: {path} (looked for shared/data at "
                    f"{', '.join(map(str, _CANDIDATES))}; set ECGCMR_SHARED_DATA)")
    return path

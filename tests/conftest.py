"""Shared test fixtures: where the real public files are, and the repo root."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_data import REPO, SHARED_DATA, require


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require(SHARED_DATA)

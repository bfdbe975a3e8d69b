"""The fault campaign (tests/faults) as a suite: every case must be handled."""

from __future__ import annotations

import pytest

from faults.registry import load_all, run_case

CASES = load_all()


@pytest.mark.parametrize("name", sorted(CASES))
def test_fault_is_handled(name, tmp_path):
    result = run_case(CASES[name], tmp_path)
    assert result.status == "handled", f"{name} ({CASES[name].fault}): {result.status}\n{result.detail}"

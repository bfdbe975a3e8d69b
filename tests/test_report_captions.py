"""Every item the workflow puts into the report has a caption file that exists and
renders (what it shows, n, how to read it): a figure without words is not read right."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "workflow" / "rules"


def report_calls(text: str) -> list[str]:
    """The argument text of each ``report(...)`` call (balanced parentheses)."""
    calls = []
    for m in re.finditer(r"(?<![\w.])report\(", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        calls.append(text[m.end():i - 1])
    return calls


def test_every_report_item_has_an_existing_caption():
    calls = {f"{smk.name}#{k}": c for smk in sorted(RULES.glob("*.smk"))
             for k, c in enumerate(report_calls(smk.read_text()))}
    assert len(calls) >= 10, calls.keys()
    missing = [where for where, c in calls.items() if "caption=" not in c]
    assert not missing, f"report items without a caption: {missing}"
    for where, c in calls.items():
        rst = re.search(r'caption="([^"]+)"', c)[1]
        path = (RULES / rst).resolve()
        assert path.is_file(), f"{where}: caption {rst} not found"
        assert len(path.read_text().split()) >= 20, f"{where}: caption {rst} is too short to explain anything"

"""`snakemake --report` on the finished tiny run builds an HTML report that a real
browser (headless Chromium) opens and renders without errors."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib import image

from conftest_workflow import REPO, TINY_RESULTS, snakemake, tiny_run  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                  "--window-size=1400,1000", "--virtual-time-budget=10000",
                  "--enable-logging=stderr", "--v=0"]
# Console lines a working report may print: Snakemake's report loads Tailwind's
# development build, which warns about itself.
BENIGN_CONSOLE = ("cdn.tailwindcss.com should not be used in production",)


def chromium(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not installed (`make system-packages` as root installs it)")
    return subprocess.run([exe, *CHROMIUM_FLAGS, *args], capture_output=True, text=True,
                          timeout=180)


def test_report_opens_in_headless_chromium(tiny_run, tmp_path):  # noqa: F811
    report = tiny_run / TINY_RESULTS / "report.html"
    snakemake(tiny_run, "--cores", "1", "--report", str(report), "all")
    assert report.stat().st_size > 100_000  # self-contained: data and scripts inline

    shot = tmp_path / "report.png"
    proc = chromium(f"--screenshot={shot}", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if not any(b in line for b in BENIGN_CONSOLE)]
    assert not errors, "browser console:\n" + "\n".join(errors)
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (1000, 1400) and pixels.std() > 0.05  # drawn, not blank

    dom = chromium("--dump-dom", report.as_uri()).stdout
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", dom, flags=re.S))
    # the React app rendered: its menu, and every report category the rules declare
    # (the rule graph itself is a canvas, so it is checked on the screenshot only)
    declared = {c for smk in (REPO / "workflow" / "rules").glob("*.smk")
                for c in re.findall(r'(?<![a-z])category="([^"{]+)"', smk.read_text())}
    assert declared, "no report() outputs declared in workflow/rules"
    missing = {c for c in declared | {"Workflow", "Statistics"} if c not in text}
    assert not missing, f"not rendered in the report: {sorted(missing)}"
    # docutils renders broken reStructuredText (captions, workflow.rst) as a System Message
    assert "System Message" not in text, text[text.find("System Message"):][:300]


def embedded_text(report_html: str) -> str:
    """The report's own text plus every embedded text file (tables, captions), decoded
    from the base64 data URIs Snakemake inlines them as; images and scripts are left out."""
    import base64

    parts = [re.sub(r"data:[^\"',]*;base64,[A-Za-z0-9+/=]+", " ", report_html)]
    for mime, blob in re.findall(r"data:([a-z]+/[a-z0-9.+-]+)[^\"',]*;base64,([A-Za-z0-9+/=]+)", report_html):
        if mime.startswith("text/") or mime in ("application/json", "application/csv", "image/svg+xml"):
            parts.append(base64.b64decode(blob).decode("utf-8", "replace"))
    return "\n".join(parts)


def test_report_shows_pseudonyms_never_eids(tmp_path_factory):
    import pandas as pd

    from conftest_workflow import tiny_report_path

    report = tiny_report_path(tmp_path_factory)
    results = report.parent
    mapping = pd.read_csv(results / "pseudonyms" / "pseudonyms.csv", dtype=str)
    splits = pd.read_parquet(results / "splits.parquet")
    assert set(splits["eid"].astype(str)) <= set(mapping["eid"])   # every participant has one
    text = embedded_text(report.read_text())
    leaked = sorted(e for e in mapping["eid"] if re.search(rf"(?<![0-9A-Za-z]){e}(?![0-9A-Za-z])", text))
    assert not leaked, f"eids in the report: {leaked[:10]}"
    shown = [p for p in mapping["pseudonym"] if p in text]
    assert shown, "no pseudonym in the report (the exclusions table should name subjects by one)"
    # the front page says whether the report may be shared (tiny is synthetic)
    assert "safe to share" in text

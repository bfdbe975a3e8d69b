"""`ecgcmr --help` answers at once: it imports none of the heavy libraries (torch and
MONAI alone took 13 s on a cold cluster node), and a subcommand imports only its own module."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("torch", "monai", "pandas", "scipy", "matplotlib", "sklearn", "snakemake", "pyarrow")
PROBE = """
import sys
from ecgcmr.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("LOADED", sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def loaded_after(argv: list[str]) -> tuple[str, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
                          capture_output=True, text=True, timeout=120)
    line = next(l for l in proc.stderr.splitlines() if l.startswith("LOADED"))
    return proc.stdout, line


def test_help_imports_nothing_heavy_and_lists_every_command():
    out, loaded = loaded_after(["--help"])
    assert loaded == "LOADED []", loaded
    for name in ("predict", "embed", "export", "ingest-ecg", "synth"):
        assert name in out


def test_help_is_fast():
    exe = Path(sys.executable).with_name("ecgcmr")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "ecgcmr.cli"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0 and "usage: ecgcmr" in proc.stdout
    assert elapsed < 1.5, f"ecgcmr --help took {elapsed:.2f} s"


def test_subcommand_help_loads_only_its_module():
    out, loaded = loaded_after(["splits", "--help"])
    assert "--seed" in out or "usage: ecgcmr splits" in out
    assert "torch" not in loaded and "monai" not in loaded, loaded
    out, _ = loaded_after(["export", "--help"])
    assert "--format" in out and "onnx" in out

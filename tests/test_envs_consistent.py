"""envs/ecgcmr.yaml (the cluster's conda env) lists what pyproject.toml depends on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# conda name -> PyPI name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "python-isal": "isal"}
# conda-only entries, each with why it is there
CONDA_ONLY = {
    "python": "the interpreter itself",
    "pip": "installs the package itself (pip install -e . --no-deps)",
    "pytorch-cuda": "selects the CUDA build of pytorch",
    "pytorch-gpu": "selects the CUDA build of pytorch (conda-forge)",
    "cuda-version": "pins the CUDA runtime of the GPU build",
    "graphviz": "`dot` for --dag/--rulegraph (a system package outside conda)",
}
REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def split_spec(spec: str) -> tuple[str, str]:
    name, _, version = REQ.match(spec.split("::")[-1]).groups()  # drop channel:: prefixes
    return normalise(name), version.replace(" ", "")


def pyproject_deps() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return dict(split_spec(d) for d in project["dependencies"])


def conda_deps() -> tuple[dict[str, str], dict[str, str]]:
    env = yaml.safe_load((REPO / "envs" / "ecgcmr.yaml").read_text())
    conda, pip = {}, {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):  # the `- pip: [...]` block
            pip.update(split_spec(s) for s in entry.get("pip", []))
        else:
            name, version = split_spec(entry)
            conda[CONDA_TO_PYPI.get(name, name)] = version
    return conda, pip


def test_conda_env_lists_exactly_the_pyproject_dependencies():
    wanted = pyproject_deps()
    conda, pip = conda_deps()
    listed = {**conda, **pip}
    missing = sorted(set(wanted) - set(listed))
    assert not missing, f"in pyproject.toml but not in envs/ecgcmr.yaml: {missing}"
    extra = sorted(set(listed) - set(wanted) - set(CONDA_ONLY))
    assert not extra, f"in envs/ecgcmr.yaml but not in pyproject.toml: {extra}"


def test_conda_env_version_bounds_match_pyproject():
    wanted = pyproject_deps()
    conda, pip = conda_deps()
    listed = {**conda, **pip}
    differ = {n: (wanted[n], listed[n]) for n in wanted if n in listed and wanted[n] != listed[n]}
    assert not differ, f"version bounds differ (pyproject, conda): {differ}"

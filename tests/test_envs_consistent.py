"""envs/ecgcmr.yaml (the cluster's conda env), pyproject.toml and the test venv stay in
step: the same packages, each env pin inside pyproject's bounds and equal to the minor
version the tests run with, and every package from a channel the env file lists.

Channels cannot be queried without network, so where each package is published is
recorded here (CHANNEL_OF, from the conda-forge feedstocks and bioconda-recipes): a
package added to the env file without a recorded channel fails the test, and so does
one whose channel the env file does not list."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
# conda name -> PyPI name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "python-isal": "isal"}
# conda-only entries, each with why it is there
CONDA_ONLY = {
    "python": "the interpreter itself",
    "pip": "installs the package itself (pip install -e . --no-deps)",
    "pytorch-gpu": "selects the CUDA build of pytorch (conda-forge)",
    "cuda-version": "pins the CUDA runtime of the GPU build",
    "graphviz": "`dot` for --dag/--rulegraph (a system package outside conda)",
}
BIOCONDA = {"snakemake", "snakemake-executor-plugin-slurm"}
CHANNEL_OF = {name: ("bioconda" if name in BIOCONDA else "conda-forge") for name in [
    "python", "pip", "pytorch", "pytorch-gpu", "cuda-version", "graphviz", "monai", "numpy", "scipy",
    "pandas", "pyarrow", "pydicom", "nibabel", "wfdb", "scikit-learn", "matplotlib", "pyyaml", "defusedxml",
    "tqdm", "jsonschema", "safetensors", "python-isal", *BIOCONDA]}
# left unpinned: selectors, the CUDA runtime (the driver decides) and tools without a venv counterpart
UNPINNED = {"graphviz", "pip", "cuda-version", "pytorch-gpu"}
REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def split_spec(spec: str) -> tuple[str, str]:
    name, _, version = REQ.match(spec.split("::")[-1]).groups()  # drop channel:: prefixes
    return normalise(name), version.replace(" ", "")


def pyproject_deps() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return dict(split_spec(d) for d in project["dependencies"])


def env() -> dict:
    return yaml.safe_load((REPO / "envs" / "ecgcmr.yaml").read_text())


def conda_deps() -> tuple[dict[str, str], dict[str, str]]:
    """conda name -> spec, and the `- pip:` block's PyPI name -> spec."""
    conda, pip = {}, {}
    for entry in env()["dependencies"]:
        if isinstance(entry, dict):  # the `- pip: [...]` block
            pip.update(split_spec(s) for s in entry.get("pip", []))
        else:
            name, version = split_spec(entry)
            conda[name] = version
    return conda, pip


def pinned(spec: str) -> Version | None:
    """conda's ``=X.Y`` (any X.Y.*) as the version X.Y; None if not such a pin."""
    m = re.fullmatch(r"=(\d+(?:\.\d+)*)", spec)
    return Version(m[1]) if m else None


def test_conda_env_lists_exactly_the_pyproject_dependencies():
    wanted = pyproject_deps()
    conda, pip = conda_deps()
    listed = {**{CONDA_TO_PYPI.get(n, n): v for n, v in conda.items()}, **pip}
    missing = sorted(set(wanted) - set(listed))
    assert not missing, f"in pyproject.toml but not in envs/ecgcmr.yaml: {missing}"
    extra = sorted(set(listed) - set(wanted) - set(CONDA_ONLY))
    assert not extra, f"in envs/ecgcmr.yaml but not in pyproject.toml: {extra}"


def test_env_pins_are_the_tested_minor_versions_inside_pyproject_bounds():
    wanted = pyproject_deps()
    conda, _ = conda_deps()
    for name, spec in conda.items():
        if name in UNPINNED:
            continue
        version = pinned(spec)
        assert version is not None, f"envs/ecgcmr.yaml: {name}{spec} is not pinned as {name}=X.Y"
        pypi = CONDA_TO_PYPI.get(name, name)
        if pypi == "python":
            installed = Version(".".join(map(str, __import__("sys").version_info[:2])))
        else:
            installed = Version(importlib.metadata.version(pypi))
        assert (installed.major, installed.minor) == (version.major, version.minor), (
            f"envs/ecgcmr.yaml pins {name}={version}, the tests ran {pypi} {installed}")
        if pypi in wanted:
            assert Version(f"{version}.0") in SpecifierSet(wanted[pypi]) or version in SpecifierSet(wanted[pypi]), (
                f"envs/ecgcmr.yaml pins {name}={version}, outside pyproject.toml's {pypi}{wanted[pypi]}")


def test_every_package_comes_from_a_listed_channel_in_priority_order():
    channels = env()["channels"]
    assert channels[:2] == ["conda-forge", "bioconda"], "conda-forge first, then bioconda (bioconda's rule)"
    assert not {"defaults", "pytorch", "nvidia", "anaconda"} & set(channels)
    conda, _ = conda_deps()
    unknown = sorted(set(conda) - set(CHANNEL_OF))
    assert not unknown, f"record the channel of {unknown} in CHANNEL_OF (and list that channel)"
    unlisted = {n: CHANNEL_OF[n] for n in conda if CHANNEL_OF[n] not in channels}
    assert not unlisted, f"packages from channels envs/ecgcmr.yaml does not list: {unlisted}"
    assert "pytorch-cuda" not in conda, "pytorch-cuda is the deprecated pytorch channel's selector"


@pytest.mark.parametrize("bad", ["pytorch>=2.3", "numpy=1.99"])
def test_a_drifted_pin_is_caught(bad, monkeypatch):
    original = env()
    name = split_spec(bad)[0]
    deps = [bad if isinstance(d, str) and split_spec(d)[0] == name else d for d in original["dependencies"]]
    monkeypatch.setattr(__import__(__name__), "env", lambda: {**original, "dependencies": deps})
    with pytest.raises(AssertionError):
        test_env_pins_are_the_tested_minor_versions_inside_pyproject_bounds()

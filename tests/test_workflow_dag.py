"""The DAG a user inspects: `--rulegraph` / `--dag` piped through graphviz `dot`."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest_workflow import planned_jobs, snakemake

pytestmark = pytest.mark.slow
SVG = "{http://www.w3.org/2000/svg}"


def render_svg(dot_source: str, tmp_path) -> ET.Element:
    if shutil.which("dot") is None:
        pytest.skip("graphviz `dot` not installed (`make system-packages` as root installs it)")
    svg = subprocess.run(["dot", "-Tsvg"], input=dot_source, capture_output=True, text=True,
                         check=True).stdout
    (tmp_path / "graph.svg").write_text(svg)
    return ET.fromstring(svg)


def node_labels(svg: ET.Element) -> list[str]:
    """The first text line of every node (graphviz: <g class="node"><text>...)."""
    labels = []
    for g in svg.iter(f"{SVG}g"):
        if g.get("class") == "node":
            texts = [t.text or "" for t in g.iter(f"{SVG}text")]
            labels.append(texts[0] if texts else "")
    return labels


def test_rulegraph_and_dag_render_with_graphviz(tmp_path):
    planned = planned_jobs(snakemake(tmp_path, "-n", "--quiet", "rules", "all").stdout)
    assert planned, "the dry run planned no jobs"

    rulegraph = snakemake(tmp_path, "--rulegraph", "dot", "all").stdout
    labels = node_labels(render_svg(rulegraph, tmp_path))
    assert sorted(labels) == sorted(planned), "rulegraph nodes != rules of the dry run"

    dag = snakemake(tmp_path, "--dag", "dot", "all").stdout
    jobs = node_labels(render_svg(dag, tmp_path))
    assert len(jobs) == sum(planned.values())  # one node per job, wildcards in the label
    assert {label.split()[0] for label in jobs} == set(planned)

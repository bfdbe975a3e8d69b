"""Tables 1-2, probe plots and run summaries from hand-written probe results."""

import math

import numpy as np
import pandas as pd
import pytest

from ecgcmr.evaluate.plots import embedding_projection, probe_bars
from ecgcmr.evaluate.probe import ProbeResult, write_result
from ecgcmr.evaluate.summaries import benchmark_summary, exclusions_summary
from ecgcmr.config import EMBEDDED, load_config, representation_labels
from ecgcmr.evaluate.tables import TABLE1_TARGETS, rank_marks, table1, table2
from ecgcmr.phenotypes import OUTCOMES

SEEDS = [0, 1, 2]
# representation -> base score; dual-phase best, 2d second, baseline last; 3d_ed/2d_time not run
BASE = {"baseline": 0.40, "2d": 0.50, "dual_phase": 0.60}
# the demo config's display labels (align.variants[*].label, evaluate.baseline_label)
NAMES = representation_labels(load_config(EMBEDDED))


def _write(root, rep, target, seed, value, reason=""):
    metric = "auroc" if target in OUTCOMES or target == "sex" else "r2"
    res = ProbeResult(rep, target, seed, "classification" if metric == "auroc" else "regression", metric,
                      value, reason, 70, 15, 15, 4 if metric == "auroc" else None)
    path = root / "probes" / rep / target / f"seed{seed}.json"
    write_result(res, {"lr": 0.001}, path)
    return path


@pytest.fixture
def table1_inputs(tmp_path):
    paths = []
    for rep, base in BASE.items():
        for t in TABLE1_TARGETS:
            for s in SEEDS:
                value = base + 0.01 * s + (0.2 if t in OUTCOMES else 0.0)
                if t == "SCD":  # no positive test case on a small cohort
                    value, reason = math.nan, "single class (0 positives of 15)"
                else:
                    reason = ""
                paths.append(_write(tmp_path, rep, t, s, value, reason))
    return tmp_path, paths


def test_table1_rows_columns_values_and_marks(table1_inputs):
    root, paths = table1_inputs
    mean = table1(paths, root / "tables", ["baseline", "2d", "2d_time", "3d_ed", "dual_phase"], NAMES)
    # only representations with results, in the given order; 12 phenotypes then 6 outcomes
    assert list(mean.index) == ["baseline", "2d", "dual_phase"]
    assert list(mean.columns) == TABLE1_TARGETS
    assert mean.loc["dual_phase", "LVEF"] == pytest.approx(0.61)
    assert mean.loc["baseline", "HF"] == pytest.approx(61.0)  # AUROC in percent
    assert mean.drop(columns="SCD").notna().all().all() and mean["SCD"].isna().all()

    csv = pd.read_csv(root / "tables" / "table1.csv")
    assert list(csv["name"]) == ["ECG (baseline)", "ECG 2D CL", "ECG 3D CL dual-phase"]
    assert csv["LVEF_std"].iloc[0] == pytest.approx(np.std([0.40, 0.41, 0.42]))
    assert (csv["LVEF_n_seeds"] == 3).all()

    md = (root / "tables" / "table1.md").read_text()
    assert "| ECG 3D CL dual-phase | **0.610 ± 0.008**" in md
    assert "| ECG 2D CL | <u>0.510 ± 0.008</u>" in md
    assert "SCD: 3 of 3 seeds without a value (single class" in md
    html = (root / "tables" / "table1.html").read_text()
    assert "<b>0.610 ± 0.008</b>" in html and "n/a" in html
    long = pd.read_csv(root / "tables" / "probe_results.csv")
    assert len(long) == 3 * 18 * 3


def test_table1_gives_n_and_positives_under_each_block(table1_inputs):
    root, paths = table1_inputs
    table1(paths, root / "tables", ["baseline", "2d", "dual_phase"], NAMES)
    html = (root / "tables" / "table1.html").read_text()
    assert html.count("n test (positives)") == 3          # one row per block
    assert "<td>15</td>" in html and "<td>15 (4)</td>" in html   # phenotype n; outcome n (positives)
    md = (root / "tables" / "table1.md").read_text()
    assert "| n test (positives) | 15 | 15 |" in md and "15 (4)" in md


def test_table1_of_a_subset_of_targets_keeps_each_phenotype_in_its_block(tmp_path):
    # LVEF is functional: with fewer than six phenotypes it must not slide into the
    # volumetric block (the blocks were once cut by position, [:6] and [6:])
    paths = [_write(tmp_path, rep, t, s, base + 0.01 * s)
             for rep, base in BASE.items() for t in ["LVDV", "LVEF", "AF"] for s in SEEDS]
    table1(paths, tmp_path / "tables", list(BASE), NAMES)
    md = (tmp_path / "tables" / "table1.md").read_text()
    volumetric, rest = md.split("**Functional and strain phenotypes (R² ↑)**")
    functional, outcomes = rest.split("**Clinical endpoints (AUROC % ↑)**")
    assert "| Model | LVDV |" in volumetric and "LVEF" not in volumetric
    assert "| Model | LVEF |" in functional and "LVDV" not in functional
    assert "| Model | AF |" in outcomes


def test_table1_refuses_results_of_an_unknown_representation(table1_inputs):
    root, paths = table1_inputs   # results for baseline, 2d and dual_phase
    with pytest.raises(ValueError, match=r"unknown representation.*'2d'"):
        table1(paths, root / "tables", ["baseline", "dual_phase"], NAMES)
    with pytest.raises(ValueError, match=r"no display name"):
        table1(paths, root / "tables", list(BASE), {"baseline": "ECG (baseline)"})


def test_rank_marks_ties_and_single_row():
    m = pd.DataFrame({"a": [0.5, 0.7, 0.7], "b": [0.1, np.nan, np.nan]}, index=["x", "y", "z"])
    marks = rank_marks(m)
    assert list(marks["a"]) == ["second", "best", "best"]
    assert list(marks["b"]) == ["", "", ""]  # one value cannot be ranked


def test_table2_only_configured_sizes(tmp_path):
    paths = [_write(tmp_path, f"vit_{size}", t, s, v + 0.01 * s)
             for size, v in [("base", 0.5), ("tiny", 0.3)]
             for t in ["sex", "age", "qrs_num", "qrs_duration"] for s in SEEDS]
    mean = table2(paths, tmp_path / "tables")
    assert list(mean.index) == ["vit_tiny", "vit_base"]
    assert mean.loc["vit_base", "sex"] == pytest.approx(51.0)
    md = (tmp_path / "tables" / "table2.md").read_text()
    assert "Sex AUC [%]" in md and "| Base | **51.00 ± 0.82**" in md and "Small" not in md


def test_probe_bars_and_projection(table1_inputs, tmp_path):
    from conftest_evaluate import planted_cohort
    root, paths = table1_inputs
    out = tmp_path / "bars.png"
    probe_bars(paths, out, ["baseline", "2d", "dual_phase"], ["LVEF", "SCD", "HF"])
    assert out.read_bytes()[:4] == b"\x89PNG"
    c = planted_cohort(tmp_path / "planted", n=60)
    proj = tmp_path / "proj.png"
    embedding_projection({"ECG": c["signal"], "CMR": c["noise"]}, proj, c["targets"], "LVEF")
    assert proj.stat().st_size > 1000


def test_exclusions_and_benchmark_summaries(tmp_path):
    ex = tmp_path / "exclusions.csv"
    pd.DataFrame({"eid": ["1", "2", "2", "3"], "stage": ["ingest_ecg", "ingest_ecg", "ingest_cmr", "ingest_ecg"],
                  "reason": ["flat_lead", "truncated_xml", "no_sax_series", "flat_lead"],
                  "detail": "", "path": ""}).to_csv(ex, index=False)
    counts = exclusions_summary(ex, tmp_path / "ex.csv", tmp_path / "ex.png")
    row = counts[(counts.stage == "ingest_ecg") & (counts.reason == "flat_lead")]
    assert int(row["n_subjects"].iloc[0]) == 2 and len(counts) == 3

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for name, s in [("probe_baseline_0", 2.0), ("probe_baseline_1", 3.0), ("probe_plots_table1", 1.5),
                    ("probe_vit_vit_tiny_0", 4.0)]:
        (bench / f"{name}.tsv").write_text(header + f"{s}\t0:00:02\t100.5\t1\t1\t1\t0\t0\t50\t1\n")
    per_rule = benchmark_summary(bench, ["probe", "probe_vit", "probe_plots_table1"], tmp_path / "b.csv",
                                 tmp_path / "b.png")
    got = per_rule.set_index("rule")
    # a job belongs to the longest rule name its file starts with: probe_vit_* is not probe's
    assert got.loc["probe", "jobs"] == 2 and got.loc["probe", "total_s"] == pytest.approx(5.0)
    assert got.loc["probe_vit", "jobs"] == 1 and got.loc["probe_plots_table1", "jobs"] == 1
    assert (tmp_path / "b.png").exists()

"""Tables 1-2, probe plots and run summaries from probe jobs written as the probe writes
them (result JSONs scored on their own test predictions)."""

import numpy as np
import pandas as pd
import pytest

from ecgcmr.evaluate.plots import embedding_projection, probe_bars
from ecgcmr.evaluate.cells import supported_marks
from ecgcmr.evaluate.summaries import benchmark_summary, exclusions_summary
from ecgcmr.config import EMBEDDED, load_config, representation_labels
from ecgcmr.evaluate.tables import TABLE1_TARGETS, table1, table2
from conftest_evaluate import probe_jobs

SEEDS = [0, 1, 2]
# representation -> the noise of its probes' test predictions: dual-phase best, 2d
# second, baseline last, far apart; 3d_ed/2d_time not run
NOISE = {"baseline": 1.2, "2d": 0.6, "dual_phase": 0.1}
N_TEST = 40
# the demo config's display labels (align.variants[*].label, evaluate.baseline_label)
NAMES = representation_labels(load_config(EMBEDDED))


def _metric(paths, rep, target):
    """The mean over seeds of the probe's own scores (the JSONs), as Table 1 shows it."""
    from ecgcmr.evaluate.probe import read_result
    return np.mean([read_result(p)["value"] for p in paths if f"/{rep}/{target}/" in str(p)])


def _jobs(root, noise, targets, n=N_TEST, unscored=()):
    return probe_jobs(root, noise, targets, SEEDS, n, unscored)


@pytest.fixture
def table1_inputs(tmp_path):
    # SCD: no positive test case on a small cohort, so no probe and no predictions
    paths, preds = _jobs(tmp_path, NOISE, TABLE1_TARGETS, unscored=("SCD",))
    return tmp_path, paths, preds


def test_table1_rows_columns_values_and_marks(table1_inputs):
    root, paths, preds = table1_inputs
    mean = table1(paths, preds, root / "tables", ["baseline", "2d", "2d_time", "3d_ed", "dual_phase"], NAMES,
                  n_boot=300)
    # only representations with results, in the given order; 12 phenotypes then 6 outcomes
    assert list(mean.index) == ["baseline", "2d", "dual_phase"]
    assert list(mean.columns) == TABLE1_TARGETS
    lvef = _metric(paths, "dual_phase", "LVEF")
    assert mean.loc["dual_phase", "LVEF"] == pytest.approx(lvef) and lvef > 0.95
    assert mean.loc["baseline", "HF"] == pytest.approx(100 * _metric(paths, "baseline", "HF"))  # AUROC in %
    assert mean.drop(columns="SCD").notna().all().all() and mean["SCD"].isna().all()

    csv = pd.read_csv(root / "tables" / "table1.csv")
    assert list(csv["name"]) == ["ECG (baseline)", "ECG 2D CL", "ECG 3D CL dual-phase"]
    from ecgcmr.evaluate.probe import read_result
    base_lvef = [read_result(p)["value"] for p in paths if "/baseline/LVEF/" in str(p)]
    assert csv["LVEF_std"].iloc[0] == pytest.approx(np.std(base_lvef))
    assert (csv["LVEF_n_seeds"] == 3).all() and (csv["LVEF_n_train_seeds"] == 1).all()
    # each cell's interval comes from its own test predictions and holds its mean:
    # nearly exact ones for dual-phase, noisy ones for the baseline; SCD has none
    assert ((csv["LVEF_lo"] < csv["LVEF_mean"]) & (csv["LVEF_mean"] < csv["LVEF_hi"])).all()
    assert csv["SCD_lo"].isna().all()
    assert csv["LVEF_lo"].iloc[2] > 0.9 > csv["LVEF_hi"].iloc[0]
    assert csv["HF_lo"].iloc[2] <= csv["HF_mean"].iloc[2] <= csv["HF_hi"].iloc[2] <= 100   # AUROC in %

    md = (root / "tables" / "table1.md").read_text()
    lo, hi = csv["LVEF_lo"].iloc[2], csv["LVEF_hi"].iloc[2]
    functional = md.split("**Functional and strain phenotypes")[1].split("**Clinical endpoints")[0]
    dual = next(line for line in functional.splitlines() if line.startswith("| ECG 3D CL dual-phase"))
    assert dual.split(" | ")[4] == f"**{lvef:.3f} [{lo:.3f}, {hi:.3f}]**"   # LVEF: the 4th functional column
    assert "| ECG 2D CL | <u>" in md
    assert "SCD: 3 of 3 seeds without a value (single class" in md
    assert "300 bootstrap replicates" in md and "1 training run(s)" in md
    html = (root / "tables" / "table1.html").read_text()
    assert f"<b>{lvef:.3f} [{lo:.3f}, {hi:.3f}]</b>" in html and "n/a" in html
    long = pd.read_csv(root / "tables" / "probe_results.csv")
    assert len(long) == 3 * 18 * 3


def test_table1_gives_n_and_positives_under_each_block(table1_inputs):
    root, paths, preds = table1_inputs
    table1(paths, preds, root / "tables", ["baseline", "2d", "dual_phase"], NAMES, n_boot=50)
    html = (root / "tables" / "table1.html").read_text()
    assert html.count("n test (positives)") == 3          # one row per block
    assert "<td>40</td>" in html and "<td>40 (14)</td>" in html   # phenotype n; outcome n (positives)
    md = (root / "tables" / "table1.md").read_text()
    assert "| n test (positives) | 40 | 40 |" in md and "40 (14)" in md


def test_table1_of_a_subset_of_targets_keeps_each_phenotype_in_its_block(tmp_path):
    # LVEF is functional: with fewer than six phenotypes it must not slide into the
    # volumetric block (the blocks were once cut by position, [:6] and [6:])
    paths, preds = _jobs(tmp_path, NOISE, ["LVDV", "LVEF", "AF"])
    table1(paths, preds, tmp_path / "tables", list(NOISE), NAMES, n_boot=50)
    md = (tmp_path / "tables" / "table1.md").read_text()
    volumetric, rest = md.split("**Functional and strain phenotypes (R² ↑)**")
    functional, outcomes = rest.split("**Clinical endpoints (AUROC % ↑)**")
    assert "| Model | LVDV |" in volumetric and "LVEF" not in volumetric
    assert "| Model | LVEF |" in functional and "LVDV" not in functional
    assert "| Model | AF |" in outcomes


def test_table1_refuses_results_of_an_unknown_representation(table1_inputs):
    root, paths, preds = table1_inputs   # results for baseline, 2d and dual_phase
    with pytest.raises(ValueError, match=r"unknown representation.*'2d'"):
        table1(paths, preds, root / "tables", ["baseline", "dual_phase"], NAMES)
    with pytest.raises(ValueError, match=r"no display name"):
        table1(paths, preds, root / "tables", list(NOISE), {"baseline": "ECG (baseline)"})


def test_marks_only_what_the_paired_interval_supports(tmp_path):
    # 2d and dual-phase predict equally well but not alike (their own noise draws): one
    # of them has the higher mean, and a table ranking by mean would make it bold and
    # the other underlined. The paired interval of their difference holds 0, so neither
    # is marked; the baseline is far below both.
    paths, preds = _jobs(tmp_path, {"baseline": 1.2, "2d": 0.3, "dual_phase": 0.3}, ["LVEF"], n=80)
    mean = table1(paths, preds, tmp_path / "tables", list(NOISE), NAMES, n_boot=300)
    assert mean["LVEF"].nunique() == 3   # no tie: a rank-by-mean table would mark two cells
    rows = (tmp_path / "tables" / "table1.md").read_text().split("| Model |")[1].split("Cells:")[0]
    assert "**" not in rows and "<u>" not in rows


def test_supported_marks_need_a_paired_difference_above_zero():
    rng = np.random.default_rng(0)
    common = rng.normal(size=500)   # paired replicates share the subject draws
    boot = {"a": {"x": common + 0.5, "y": common + 0.3, "z": common},
            "b": {"x": common + 0.5 + rng.normal(scale=1, size=500), "y": common, "z": common - 1}}
    mean = pd.DataFrame({"a": [0.5, 0.3, 0.0], "b": [0.5, 0.0, -1.0], "c": [0.4, np.nan, np.nan]},
                        index=["x", "y", "z"])
    marks = supported_marks(mean, boot)
    assert list(marks["a"]) == ["best", "second", ""]   # x > y > z, every step shown
    # x's mean edge over y is lost in x's own replicate noise: x is not shown best, and
    # then y is not marked second either, though it is clearly above z
    assert list(marks["b"]) == ["", "", ""]
    assert list(marks["c"]) == ["", "", ""]   # one value cannot be ranked (and has no replicates)
    two = supported_marks(mean[["a"]].iloc[:2], boot)
    assert list(two["a"]) == ["best", ""]     # two rows: at most a best


def test_table2_only_configured_sizes(tmp_path):
    paths, preds = _jobs(tmp_path, {"vit_base": 0.1, "vit_tiny": 1.0}, ["sex", "age", "qrs_num", "qrs_duration"],
                         n=60)
    mean = table2(paths, preds, tmp_path / "tables", n_boot=200)
    assert list(mean.index) == ["vit_tiny", "vit_base"]
    sex = 100 * _metric(paths, "vit_base", "sex")
    assert mean.loc["vit_base", "sex"] == pytest.approx(sex)
    md = (tmp_path / "tables" / "table2.md").read_text()
    assert "Sex AUC [%]" in md and f"| Base | **{sex:.2f} [" in md and "Small" not in md


def test_probe_bars_and_projection(table1_inputs, tmp_path):
    from conftest_evaluate import planted_cohort
    root, paths, preds = table1_inputs
    table1(paths, preds, root / "tables", list(NOISE), NAMES, n_boot=100)
    out = tmp_path / "bars.png"
    drawn = probe_bars(root / "tables" / "table1.csv", out, ["LVEF", "SCD", "HF"])
    assert out.read_bytes()[:4] == b"\x89PNG"
    # the bars are the table's numbers: its rows, means and intervals (SCD: none)
    csv = pd.read_csv(root / "tables" / "table1.csv").set_index("representation")
    lvef = drawn[drawn["target"] == "LVEF"].set_index("representation")
    assert list(lvef.index) == list(NOISE)
    for v in ("mean", "lo", "hi"):
        np.testing.assert_allclose(lvef[v], csv.loc[lvef.index, f"LVEF_{v}"])
    assert drawn.loc[drawn["target"] == "SCD", "mean"].isna().all()
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

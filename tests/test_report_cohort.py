"""Cohort flow counts and the baseline table from a hand-made splits + exclusions pair,
and the held-out ROC / scatter figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib import image

from ecgcmr.report.cohort import baseline_table, flow_counts, plot_cohort_flow
from ecgcmr.report.held_out import plot_roc, plot_scatter


@pytest.fixture
def cohort():
    eids = [str(1000000 + i) for i in range(20)]
    s = pd.DataFrame({"eid": eids, "has_ecg": [True] * 18 + [False] * 2, "has_cmr": [True] * 12 + [False] * 6 + [True] * 2})
    s["paired"] = [True] * 10 + [False] * 10
    s["paired_split"] = ["train"] * 6 + ["val"] * 2 + ["test"] * 2 + [""] * 10
    s["pretrain"] = s["paired_split"].where(s["paired"], pd.Series(["train"] * 16 + ["val", "test"] + [""] * 2))
    ex = pd.DataFrame({"eid": ["1000000", "1000000", "1000011", "1000003", "1000019"],
                       "stage": ["ingest_ecg", "ingest_ecg", "ingest_cmr", "crop", "ingest_tables"],
                       "reason": ["truncated_xml", "flat_lead", "no_sax", "no_heart", "missing_age_or_sex"],
                       "detail": [""] * 5, "path": [""] * 5})
    return s, ex


def test_flow_counts(cohort):
    s, ex = cohort
    c = flow_counts(s, ex).set_index(["lane", "step"])
    assert c.loc[("ECG", 0), "n"] == 18 and c.loc[("ECG", 1), "n"] == 17   # one subject, two reasons
    assert c.loc[("ECG", 1), "excluded"] == 1 and "truncated_xml: 1" in c.loc[("ECG", 1), "reasons"]
    assert c.loc[("CMR", 0), "n"] == 14 and c.loc[("CMR", 1), "n"] == 13 and c.loc[("CMR", 3), "n"] == 12
    assert c.loc[("Paired", 0), "n"] == 10 and c.loc[("Paired", 1), "n"] == 8   # 1000000 and 1000003 lost
    assert c.loc[("Paired", 2), "n"] == 4 and c.loc[("Paired", 4), "n"] == 2    # train (6 - 2), test


def test_flow_figure_and_baseline(cohort, tmp_path):
    s, ex = cohort
    plot_cohort_flow(flow_counts(s, ex), tmp_path / "flow.png")
    assert image.imread(tmp_path / "flow.png").std() > 0.05
    rng = np.random.default_rng(0)
    t = pd.DataFrame({"eid": s["eid"], "age": rng.normal(60, 5, 20), "sex": [1, 0] * 10,
                      "LVEF": rng.normal(60, 5, 20), "AF": [1] + [0] * 19})
    b = baseline_table(t, s)
    assert list(b.columns) == ["paired train", "paired val", "paired test", "ECG only"]
    assert b.loc["n", "paired train"] == "6" and b.loc["male, n (%)", "paired train"] == "3 (50.0 %)"
    assert b.loc["AF (atrial fibrillation), n (%)", "paired train"] == "1 (16.7 %)"
    assert b.loc["LVDV [mL] (LV end-diastolic volume)", "paired val"] == "–"
    # without the subjects an ECG/CMR stage excluded: the flow's last box
    used = baseline_table(t, s, ex)
    flow = flow_counts(s, ex).set_index(["lane", "step"])
    assert used.loc["n", "paired train"] == str(flow.loc[("Paired", 2), "n"]) == "4"


def test_held_out_figures(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    preds = pd.concat([pd.DataFrame({"target": "AF", "y_true": y, "y_pred": y * 0.3 + rng.random(40) * 0.7}),
                       pd.DataFrame({"target": "SCD", "y_true": np.zeros(40), "y_pred": rng.random(40)}),
                       pd.DataFrame({"target": "LVEF", "y_true": rng.normal(60, 5, 40),
                                     "y_pred": rng.normal(60, 5, 40)})])
    plot_roc(preds, tmp_path / "roc.png", "t")
    plot_scatter(preds, tmp_path / "scatter.png", "t")
    for f in ("roc.png", "scatter.png"):
        assert image.imread(tmp_path / f).std() > 0.05

"""The pipeline's comparison tables from probe prediction files and trainers' files:
tables/deltas.csv has one row per (variant, target) and per block with its interval
and verdict, and says "not informative" where the variant's gates failed;
tables/gates.csv has every variant's gates and what its comparison may conclude."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecgcmr.evaluate import compare as C
from ecgcmr.evaluate.probe import PREDICTION_COLUMNS
from ecgcmr.evaluate.stats import BETTER, NO_DIFFERENCE

N = 240
SEEDS = (0, 1)


def prediction_files(root, rng) -> list:
    """One predictions file per (representation, seed), in the probe's layout: dual_phase
    predicts LVEF and AF much better than the baseline, 2d exactly as the baseline; LVDV
    is scored by no one (an untrainable probe writes no rows)."""
    eids = np.array([str(3_000_000 + i) for i in range(N)])
    lvef = rng.normal(60, 8, N)
    af = (rng.random(N) < 0.3).astype(float)
    noise = {s: (rng.normal(0, 8, N), rng.normal(0, 2, N)) for s in SEEDS}
    files = []
    for rep in ("baseline", "dual_phase", "2d"):
        for s in SEEDS:
            scale = 0.25 if rep == "dual_phase" else 1.0
            rows = [pd.DataFrame({"eid": eids, "target": "LVEF", "task": "regression", "y_true": lvef,
                                  "y_pred": lvef + scale * noise[s][0]}),
                    pd.DataFrame({"eid": eids, "target": "AF", "task": "classification", "y_true": af,
                                  "y_pred": af + scale * noise[s][1]})]
            df = pd.concat(rows).assign(seed=s, train_seed=0, representation=rep)[PREDICTION_COLUMNS]
            files.append(root / f"{rep}_seed{s}.parquet")
            df.to_parquet(files[-1])
    return files


def gates_rows(variant: str, passed: bool) -> pd.DataFrame:
    t = pd.DataFrame({"gate": ["MAE validation masked MSE", "alignment validation CLIP loss"],
                      "value": [0.5, 1.0 if passed else 3.0], "threshold": [0.7, 2.2], "direction": "<=",
                      "passed": [True, passed], "source": "x"})
    return t.assign(variant=variant, conclusion="")[C.GATE_COLUMNS]


def test_deltas_table_intervals_verdicts_and_gated_conclusions(tmp_path):
    files = prediction_files(tmp_path, np.random.default_rng(0))
    gates = tmp_path / "gates.csv"
    pd.concat([gates_rows("dual_phase", True), gates_rows("2d", False)]).to_csv(gates, index=False)
    kw = dict(arms=["dual_phase", "2d"], baseline="baseline", targets=["LVDV", "LVEF", "AF"],
              names={"baseline": "ECG (baseline)", "dual_phase": "dual", "2d": "2D"}, n_boot=300, seed=0)
    table = C.write_deltas(files, gates, tmp_path / "deltas.csv", tmp_path / "deltas.md", **kw)
    csv = pd.read_csv(tmp_path / "deltas.csv")
    assert list(csv.columns) == C.DELTA_COLUMNS
    assert len(csv) == len(table)

    rows = table.set_index(["arm", "target"])
    # per arm: the targets in the given order, then the blocks that have a scored target
    assert list(table.loc[table["arm"] == "dual_phase", "target"]) == ["LVDV", "LVEF", "AF", "functional",
                                                                       "outcomes"]
    good = rows.loc[("dual_phase", "LVEF")]
    assert good["metric"] == "r2" and good["delta"] > 0 and good["lo"] > 0
    assert good["verdict"] == BETTER and good["conclusion"] == BETTER   # every gate passed
    assert good["n_test"] == N and pd.isna(good["positives"]) and good["n_seeds_arm"] == len(SEEDS)
    auc = rows.loc[("dual_phase", "AF")]
    assert auc["metric"] == "auroc" and auc["verdict"] == BETTER
    assert auc["positives"] == int(pd.read_parquet(files[0]).query("target == 'AF'")["y_true"].sum())
    assert rows.loc[("dual_phase", "outcomes"), "kind"] == "group"
    assert rows.loc[("dual_phase", "outcomes"), "delta"] == pytest.approx(auc["delta"])

    # the same predictions as the baseline: Δ 0, and a failed gate overrides any verdict
    same = rows.loc[("2d", "LVEF")]
    assert same["delta"] == 0 and same["verdict"] == NO_DIFFERENCE
    assert same["conclusion"].startswith("not informative") and "CLIP loss" in same["conclusion"]
    assert (table.loc[table["arm"] == "2d", "conclusion"].str.startswith("not informative")
            | (table.loc[table["arm"] == "2d", "verdict"] == C.NOT_COMPUTED)).all()

    # untrainable everywhere: a row that says so, never a number
    lvdv = rows.loc[("dual_phase", "LVDV")]
    assert lvdv["note"] == C.NO_PREDICTIONS and pd.isna(lvdv["delta"]) and lvdv["verdict"] == C.NOT_COMPUTED

    md = (tmp_path / "deltas.md").read_text()
    assert "## dual vs ECG (baseline)" in md and "## 2D vs ECG (baseline)" in md
    assert "Run: **informative**" in md and "Run: **not informative (failed: alignment validation CLIP loss)**" in md
    assert "**mean of functional**" in md

    again = C.deltas_table(C.read_predictions(files), kw["arms"], "baseline", kw["targets"],
                           C.read_gates(gates), n_boot=300, seed=0)
    pd.testing.assert_frame_equal(again, table)   # same files and seed: same numbers


def test_gates_table_per_variant_from_the_trainers_files(tmp_path):
    mae = tmp_path / "ecg_mae_tiny"
    mae.mkdir()
    pd.DataFrame({"epoch": [0, 1], "val_loss": [1.0, 0.99]}).to_csv(mae / "history.csv", index=False)
    align = {}
    for variant, top1 in (("dual_phase", 0.5), ("2d", 0.02)):
        align[variant] = tmp_path / f"align_{variant}"
        align[variant].mkdir()
        (align[variant] / "metrics.json").write_text(json.dumps(
            {"top1_ecg_to_ed": top1, "chance": 1 / 40, "best_val_loss": 1.0}))
    table = C.gates_table(mae, align, align_batch_size=16, lvef_r2=0.9)
    assert list(table.columns) == C.GATE_COLUMNS
    assert table.groupby("variant", sort=False).size().to_dict() == {"dual_phase": 4, "2d": 4}
    status = table.groupby("variant", sort=False)["conclusion"].first()
    # the MAE never left the predict-zero plateau: no variant can be informative
    assert status["dual_phase"] == "not informative (failed: MAE validation masked MSE)"
    assert "ECG→ed" in status["2d"] and "MAE" in status["2d"]
    out = tmp_path / "gates.csv"
    table.to_csv(out, index=False)
    pd.testing.assert_frame_equal(C.read_gates(out), table)
    assert "## dual_phase: not informative" in C.gates_markdown(table)
    (align["2d"] / "metrics.json").write_text(json.dumps({"top1_ecg_to_ed": 0.5, "chance": 1 / 4,
                                                         "best_val_loss": 1.0}))
    few = C.gates_table(mae, {"2d": align["2d"]}, 16, 0.9)   # 4 validation pairs: 5 x chance > 1
    assert "1.25 (unreachable: too few validation pairs)" in C.gates_markdown(few)


def test_a_broken_gates_table_is_named(tmp_path):
    bad = tmp_path / "gates.csv"
    pd.DataFrame({"gate": ["x"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="gates.csv: not a gates table"):
        C.read_gates(bad)
    with pytest.raises(FileNotFoundError, match="compare_gates"):
        C.read_gates(tmp_path / "none.csv")


def test_gates_of_every_training_run(tmp_path):
    # run k of an alignment starts from MAE run k: each run's gates are rows of their own,
    # the CMR encoders' gate (trained once) is one row, and one failed run fails the variant
    mae, align = [], []
    for k, (mse, top1) in enumerate(((0.5, 0.5), (0.6, 0.01))):
        mae.append(tmp_path / f"ecg_mae_tiny{'' if k == 0 else f'_trainseed{k}'}")
        align.append(tmp_path / f"align_dual_phase{'' if k == 0 else f'_trainseed{k}'}")
        mae[k].mkdir(), align[k].mkdir()
        pd.DataFrame({"epoch": [0], "val_loss": [mse]}).to_csv(mae[k] / "history.csv", index=False)
        (align[k] / "metrics.json").write_text(json.dumps({"top1_ecg_to_ed": top1, "chance": 1 / 40,
                                                           "best_val_loss": 1.0}))
    table = C.gates_table(mae, {"dual_phase": align}, align_batch_size=16, lvef_r2=0.9)
    assert table["gate"].str.startswith("ridge LVEF").sum() == 1
    assert len(table) == 1 + 2 * 3 and table["gate"].str.endswith("(training run 1)").sum() == 3
    assert table["conclusion"].iloc[0] == "not informative (failed: alignment top-1 retrieval ECG→ed (validation) (training run 1))"
    one_run = C.gates_table(mae[0], {"dual_phase": align[0]}, align_batch_size=16, lvef_r2=0.9)
    assert one_run["conclusion"].iloc[0] == "informative" and not one_run["gate"].str.contains("training run").any()
    with pytest.raises(ValueError, match="run k of an alignment starts from MAE run k"):
        C.gates_table(mae, {"dual_phase": align[:1]}, align_batch_size=16, lvef_r2=0.9)
    # evaluate.mae_train_seeds 1: both alignment runs start from MAE run 0, whose gate passes
    shared_mae = C.gates_table(mae[:1], {"dual_phase": align}, align_batch_size=16, lvef_r2=0.9)
    mae_rows = shared_mae[shared_mae["gate"].str.startswith("MAE")]
    assert len(mae_rows) == 2 and (mae_rows["value"] == 0.5).all()


def test_a_configured_pair_is_compared_directly_and_gated_by_both_sides(tmp_path):
    """compare.pairs: Δ = dual_phase − 2d on the same subjects (the label control's
    comparison), its verdict standing only when the gates of both sides passed."""
    files = prediction_files(tmp_path, np.random.default_rng(0))
    preds = C.read_predictions(files)
    ok = pd.concat([gates_rows("dual_phase", True), gates_rows("2d", True)])
    table = C.deltas_table(preds, ["dual_phase"], "baseline", ["LVEF"], ok, n_boot=300, seed=0,
                           comparisons=[["dual_phase", "2d"]])
    pair = table[(table["arm"] == "dual_phase") & (table["baseline"] == "2d") & (table["target"] == "LVEF")]
    vs_base = table[(table["arm"] == "dual_phase") & (table["baseline"] == "baseline") & (table["target"] == "LVEF")]
    assert len(pair) == 1 and len(vs_base) == 1
    # 2d predicts exactly as the baseline: the same Δ and interval as dual vs baseline
    for col in ("delta", "lo", "hi"):
        assert pair[col].iloc[0] == pytest.approx(vs_base[col].iloc[0])
    assert pair["conclusion"].iloc[0] == BETTER
    failed = pd.concat([gates_rows("dual_phase", True), gates_rows("2d", False)])
    gated = C.deltas_table(preds, [], "baseline", ["LVEF"], failed, n_boot=300, seed=0,
                           comparisons=[["dual_phase", "2d"]])
    assert gated["conclusion"].str.startswith("not informative").all()
    md = C.deltas_markdown(gated, {"dual_phase": "dual", "2d": "2D"}, failed)
    assert "## dual vs 2D" in md

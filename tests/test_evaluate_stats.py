"""The paired two-level bootstrap behind "A is better than B": its weighted metrics are
sklearn's, identical arms show no difference, a clearly better arm is called better,
its intervals cover the truth about as often as they claim, and pairing narrows them."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score, roc_auc_score

from ecgcmr.evaluate.probe import PREDICTION_COLUMNS
from ecgcmr.evaluate.stats import (BETTER, NO_DIFFERENCE, WORSE, paired_bootstrap, subject_counts,
                                   verdict, weighted_auroc, weighted_r2)
from ecgcmr.phenotypes import FUNCTIONAL, OUTCOMES, VOLUMETRIC


def frame(target: str, y: np.ndarray, preds: dict[str, np.ndarray], task: str = "regression",
          train_seed: int = 0) -> pd.DataFrame:
    """Predictions in the probe's file layout: preds[representation] is (S, n), one row
    per probe seed, all of training run ``train_seed``."""
    eids = np.array([str(2_000_000 + i) for i in range(len(y))])
    rows = [pd.DataFrame({"eid": eids, "target": target, "seed": s, "train_seed": train_seed,
                          "representation": rep, "task": task, "y_true": y, "y_pred": p})
            for rep, ps in preds.items() for s, p in enumerate(np.atleast_2d(ps))]
    return pd.concat(rows, ignore_index=True)[PREDICTION_COLUMNS]


def one(result: pd.DataFrame, target: str) -> pd.Series:
    return result.set_index("target").loc[target]


def test_verdict_needs_the_whole_interval_on_one_side():
    assert verdict(0.01, 0.2) == BETTER
    assert verdict(-0.2, -0.01) == WORSE
    assert verdict(-0.1, 0.2) == NO_DIFFERENCE
    assert verdict(0.0, 0.2) == NO_DIFFERENCE        # touching 0 is not "better"
    assert verdict(np.nan, np.nan) == NO_DIFFERENCE


def test_weighted_metrics_are_sklearns_on_the_resampled_subjects():
    rng = np.random.default_rng(1)
    n = 60
    y = rng.normal(size=n)
    pred = y + rng.normal(size=(3, n))
    label = (rng.random(n) < 0.3).astype(float)
    score = np.round(label + rng.normal(size=(3, n)), 1)    # rounded: ties within and across classes
    w = subject_counts(rng, n, 25)
    assert w.shape == (n, 25) and (w.sum(axis=0) == n).all()
    r2, auc = weighted_r2(w, y, pred), weighted_auroc(w, label, score)
    for b in range(w.shape[1]):
        rows = np.repeat(np.arange(n), w[:, b].astype(int))
        for s in range(3):
            assert r2[b, s] == pytest.approx(r2_score(y[rows], pred[s, rows]), abs=1e-10)
            assert auc[b, s] == pytest.approx(roc_auc_score(label[rows], score[s, rows]), abs=1e-12)


def test_identical_arms_show_no_difference():
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    p = y + rng.normal(size=(2, 300))
    label = (rng.random(300) < 0.2).astype(float)
    df = pd.concat([frame("LVEF", y, {"dual_phase": p, "baseline": p}),
                    frame("HF", label, {"dual_phase": p + 2 * label, "baseline": p + 2 * label}, "classification")])
    res = paired_bootstrap(df, "dual_phase", n_boot=500)
    for target in ("LVEF", "HF", "functional", "outcomes"):
        r = one(res, target)
        assert r["delta"] == 0 and r["lo"] <= 0 <= r["hi"] and r["verdict"] == NO_DIFFERENCE


def test_a_clearly_better_arm_is_called_better_and_the_baseline_worse():
    rng = np.random.default_rng(3)
    y = rng.normal(size=400)
    good, poor = y + 0.4 * rng.normal(size=(3, 400)), y + 1.2 * rng.normal(size=(3, 400))
    df = pd.concat([frame(t, y, {"dual_phase": good, "baseline": poor}) for t in ("LVEF", "LVGCS")])
    res = paired_bootstrap(df, "dual_phase", n_boot=500)
    assert one(res, "LVEF")["verdict"] == BETTER and one(res, "functional")["verdict"] == BETTER
    assert one(res, "functional")["lo"] > 0.3
    assert one(paired_bootstrap(df, "baseline", "dual_phase", n_boot=500), "LVEF")["verdict"] == WORSE
    # the point estimate is the probes' own numbers: sklearn's R², mean over seeds
    expected = np.mean([r2_score(y, p) for p in good]) - np.mean([r2_score(y, p) for p in poor])
    assert one(res, "LVEF")["delta"] == pytest.approx(expected, abs=1e-12)
    assert list(res.loc[res["kind"] == "group", "target"]) == ["functional"]   # only blocks that were run


def _correlated_arms(rng, n):
    """Two arms sharing most of their error: R² 0.47 vs 0.26 in the population."""
    y = rng.normal(size=n)
    shared = 0.7 * rng.normal(size=n)
    return y, y + shared + 0.2 * rng.normal(size=n), y + shared + 0.5 * rng.normal(size=n)


def test_intervals_cover_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(4)
    truth = (1 - 0.49 - 0.04) - (1 - 0.49 - 0.25)
    hits = 0
    for sim in range(80):
        y, arm, base = _correlated_arms(rng, 200)
        r = one(paired_bootstrap(frame("LVEF", y, {"a": arm, "b": base}), "a", "b", n_boot=200, seed=sim), "LVEF")
        hits += r["lo"] <= truth <= r["hi"]
    assert 68 <= hits <= 80   # 95 % of 80 is 76 (binomial SD 2)


def test_pairing_narrows_the_interval_when_the_arms_are_correlated():
    y, arm, base = _correlated_arms(np.random.default_rng(5), 500)
    df = frame("LVEF", y, {"a": arm, "b": base})
    paired, unpaired = (one(paired_bootstrap(df, "a", "b", paired=p), "LVEF") for p in (True, False))
    assert paired["delta"] == unpaired["delta"]
    assert (paired["hi"] - paired["lo"]) < 0.7 * (unpaired["hi"] - unpaired["lo"])


def test_seed_spread_widens_the_interval():
    # level 1: seeds that disagree must make the interval wider than seeds that agree
    rng = np.random.default_rng(6)
    y = rng.normal(size=400)
    base = y + rng.normal(size=400)
    steady = np.repeat((y + 0.7 * rng.normal(size=400))[None], 3, axis=0)
    shaky = np.stack([y + s * rng.normal(size=400) for s in (0.3, 0.7, 1.1)])
    width = {}
    for name, arm in (("steady", steady), ("shaky", shaky)):
        r = one(paired_bootstrap(frame("LVEF", y, {"a": arm, "b": base}), "a", "b", n_boot=1000), "LVEF")
        width[name] = r["hi"] - r["lo"]
    assert width["shaky"] > 1.3 * width["steady"]


def test_same_seed_same_numbers_and_seed_matters():
    y, arm, base = _correlated_arms(np.random.default_rng(7), 200)
    df = frame("LVEF", y, {"a": arm, "b": base})
    pd.testing.assert_frame_equal(paired_bootstrap(df, "a", "b", seed=3), paired_bootstrap(df, "a", "b", seed=3))
    assert one(paired_bootstrap(df, "a", "b", seed=4), "LVEF")["lo"] != one(paired_bootstrap(df, "a", "b", seed=3), "LVEF")["lo"]


def test_arms_that_disagree_on_labels_or_lack_a_target_are_refused():
    y = np.arange(10.0)
    df = frame("LVEF", y, {"a": y, "b": y})
    df.loc[df["representation"] == "b", "y_true"] += 1
    with pytest.raises(ValueError, match="disagree on the test labels"):
        paired_bootstrap(df, "a", "b")
    with pytest.raises(ValueError, match="no test predictions of 'c'"):
        paired_bootstrap(frame("LVEF", y, {"a": y, "b": y}), "c", "b")
    with pytest.raises(ValueError, match="repeated"):
        paired_bootstrap(pd.concat([df, df]), "a", "b")


def test_twelve_targets_of_a_thousand_subjects_take_well_under_a_second():
    rng = np.random.default_rng(8)
    n, parts = 1000, []
    for t in [*VOLUMETRIC, *OUTCOMES]:
        cls = t in OUTCOMES
        y = (rng.random(n) < 0.3).astype(float) if cls else rng.normal(size=n)
        parts.append(frame(t, y, {"a": y + 0.8 * rng.normal(size=n), "baseline": y + rng.normal(size=n)},
                           "classification" if cls else "regression"))
    df = pd.concat(parts, ignore_index=True)
    # CPU time, not wall time: the test machine is shared (the bootstrap is single-threaded)
    t0 = time.process_time()
    res = paired_bootstrap(df, "a", n_boot=2000)
    assert len(res) == 12 + 2 and time.process_time() - t0 < 1.0
    assert set(FUNCTIONAL).isdisjoint(res["target"])


def test_from_the_probes_files_the_point_estimate_is_the_probes_own_difference(tmp_path):
    # probe jobs write predictions; the bootstrap's Δ must be exactly the difference of
    # the mean over seeds of the values in their result JSONs (what Table 1 shows)
    from conftest_evaluate import FAST_PROBE, planted_cohort
    from ecgcmr.evaluate.probe import read_predictions, run_probes

    c = planted_cohort(tmp_path / "cohort")
    targets, values, files = ["LVDV", "HF"], {}, []
    quick = {**FAST_PROBE, "max_epochs": 15}
    for rep in ("signal", "noise"):
        for seed in (0, 1):
            outs = [tmp_path / rep / t / f"seed{seed}.json" for t in targets]
            files.append(tmp_path / rep / f"predictions_seed{seed}.parquet")
            for r in run_probes(c[rep], c["targets"], c["splits"], targets, seed, rep, "paired_split", quick,
                                outs, [o.with_suffix(".pt") for o in outs], out_predictions=files[-1]):
                values.setdefault((rep, r.target), []).append(r.value)
    res = paired_bootstrap(read_predictions(files), "signal", "noise", n_boot=500)
    for t in targets:
        expected = np.mean(values[("signal", t)]) - np.mean(values[("noise", t)])
        assert one(res, t)["delta"] == pytest.approx(expected, abs=1e-12)
        assert one(res, t)["n_seeds_arm"] == 2 and one(res, t)["verdict"] == BETTER


def test_one_training_run_draws_the_probe_seeds_as_before():
    # one run: exactly the draws of the probe-seed bootstrap before training runs, so a
    # demo with evaluate.train_seeds 1 keeps its intervals to the last digit
    from ecgcmr.evaluate.stats import seed_draws
    old = np.random.default_rng(7).integers(0, 3, size=(50, 3))
    new = seed_draws(np.random.default_rng(7), [(0, 0), (0, 1), (0, 2)], 50)
    np.testing.assert_array_equal(new, old)
    np.testing.assert_array_equal(seed_draws(np.random.default_rng(7), 3, 50), old)


def test_training_runs_are_resampled_before_their_probe_seeds():
    from ecgcmr.evaluate.stats import seed_draws
    models = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    draws = seed_draws(np.random.default_rng(0), models, 400)
    assert draws.shape == (400, 6)
    runs = np.asarray(models)[draws][..., 0].reshape(400, 3, 2)
    assert (runs[:, :, 0] == runs[:, :, 1]).all()       # each drawn run brings its own probe seeds
    assert len({tuple(r) for r in runs[:, :, 0]}) > 10   # and the runs themselves are resampled
    # a run that lost a probe seed (untrainable probe) still counts as one run, its
    # slots filled from its own seeds, never from another run's
    ragged = [(0, 0), (0, 1), (1, 0)]
    draws = seed_draws(np.random.default_rng(0), ragged, 400)
    assert draws.shape == (400, 4)
    runs = np.asarray(ragged)[draws][..., 0].reshape(400, 2, 2)
    assert (runs[:, :, 0] == runs[:, :, 1]).all()
    assert set(draws[runs[:, :, 0].repeat(2, axis=1) == 1].ravel()) == {2}


def test_run_to_run_spread_reaches_the_interval():
    # one alignment run far better than the baseline, one far worse: the method's effect
    # is unknown, and only resampling the training runs says so (run 0 alone: "better")
    rng = np.random.default_rng(5)
    n = 400
    y = rng.normal(size=n)
    base = y + rng.normal(scale=1.0, size=(2, n))
    good, bad = y + rng.normal(scale=0.5, size=(2, n)), y + rng.normal(scale=1.6, size=(2, n))
    runs = pd.concat([frame("LVEF", y, {"dual_phase": good, "baseline": base}, train_seed=0),
                      frame("LVEF", y, {"dual_phase": bad, "baseline": base}, train_seed=1)], ignore_index=True)
    only_run0 = one(paired_bootstrap(runs[runs["train_seed"] == 0], "dual_phase", n_boot=500), "LVEF")
    both = one(paired_bootstrap(runs, "dual_phase", n_boot=500), "LVEF")
    assert only_run0["verdict"] == BETTER
    assert both["verdict"] == NO_DIFFERENCE and both["n_train_seeds_arm"] == 2 and both["n_seeds_arm"] == 4
    # the interval spans both runs' effects: the bad run's loss and the good run's gain
    assert both["lo"] < -1 and both["hi"] > only_run0["lo"]

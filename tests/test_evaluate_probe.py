"""MLP probes on frozen embeddings: they find a planted signal, find nothing in noise,
balance outcome training sets, and record unscorable targets instead of crashing."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from conftest_evaluate import FAST_PROBE, planted_cohort
from ecgcmr.evaluate.probe import (PREDICTION_COLUMNS, MLPProbe, apply_probe, balance_by_undersampling,
                                   load_probe, read_predictions, read_result, run_probe, run_probes, score)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    torch.set_num_threads(1)
    return planted_cohort(tmp_path_factory.mktemp("planted"))


def _run(cohort, tmp_path, rep, target, seed=0, **kw):
    out = tmp_path / rep / target / f"seed{seed}.json"
    res = run_probe(cohort[rep], cohort["targets"], cohort["splits"], target, seed, rep, "paired_split",
                    {**FAST_PROBE, **kw}, out, out.with_suffix(".pt"), ecg_index=cohort["ecg_index"])
    return res, out


def test_mlp_is_three_linear_layers_with_gelu():
    m = MLPProbe(8, (16, 4))
    kinds = [type(layer).__name__ for layer in m.net]
    assert kinds.count("Linear") == 3 and kinds.count("GELU") == 2
    assert m(torch.zeros(5, 8)).shape == (5,)


def test_planted_signal_gives_high_r2_and_noise_does_not(cohort, tmp_path):
    sig, out = _run(cohort, tmp_path, "signal", "LVEF")
    noise, _ = _run(cohort, tmp_path, "noise", "LVEF")
    assert sig.value > 0.7, sig
    assert noise.value < 0.15, noise
    written = read_result(out)
    assert written["metric"] == "r2" and written["value"] == pytest.approx(sig.value)
    assert written["hyperparameters"]["hidden_dims"] == FAST_PROBE["hidden_dims"]
    assert sig.n_train + sig.n_val + sig.n_test == 240


def test_missing_target_values_are_left_out(cohort, tmp_path):
    res, _ = _run(cohort, tmp_path, "signal", "LVMT")
    assert res.n_train + res.n_val + res.n_test < 240 and np.isfinite(res.value)


def test_outcome_auroc_and_balanced_training(cohort, tmp_path):
    res, out = _run(cohort, tmp_path, "signal", "HF")
    assert res.metric == "auroc" and res.value > 0.8
    # train set balanced: n_train is twice the number of training positives
    probe = load_probe(out.with_suffix(".pt"))
    assert res.n_train % 2 == 0 and probe["prior_logit_shift"] < 0
    p = apply_probe(probe, np.zeros((3, 16), np.float32))
    assert p.shape == (3,) and ((p >= 0) & (p <= 1)).all()


def test_outcome_left_missing_by_the_window_is_left_out(cohort, tmp_path):
    """An incident window leaves prevalent cases NA (nullable Int8): those subjects are
    neither positives nor negatives of the probe."""
    import pandas as pd

    targets = pd.read_parquet(cohort["targets"])
    hf = targets["HF"].astype("Int8")
    hf[hf.index[:30]] = pd.NA
    path = tmp_path / "windowed_targets.parquet"
    targets.assign(HF=hf).to_parquet(path, index=False)
    full, _ = _run(cohort, tmp_path, "signal", "HF")
    out = tmp_path / "windowed.json"
    res = run_probe(cohort["signal"], path, cohort["splits"], "HF", 0, "signal", "paired_split",
                    FAST_PROBE, out, out.with_suffix(".pt"), ecg_index=cohort["ecg_index"])
    assert res.n_val + res.n_test < full.n_val + full.n_test and np.isfinite(res.value)


def test_ecg_derived_target_from_ecg_index(cohort, tmp_path):
    res, _ = _run(cohort, tmp_path, "signal", "qrs_duration")
    assert res.metric == "r2" and res.value > 0.7


def test_outcome_without_cases_is_nan_with_reason(cohort, tmp_path):
    res, out = _run(cohort, tmp_path, "signal", "SCD")
    assert math.isnan(res.value) and "single class" in res.reason
    assert json.loads(out.read_text())["value"] is None
    assert load_probe(out.with_suffix(".pt")) is None


def test_undersampling_is_seeded_and_balanced():
    y = np.array([1] * 5 + [0] * 50)
    a, b = balance_by_undersampling(y, 1), balance_by_undersampling(y, 1)
    assert (a == b).all() and (y[a] == 1).sum() == (y[a] == 0).sum() == 5
    assert not (a == balance_by_undersampling(y, 2)).all()


def test_score_degenerate_cases():
    assert math.isnan(score("classification", np.zeros(10), np.random.rand(10))[0])
    assert math.isnan(score("regression", np.ones(10), np.random.rand(10))[0])
    assert score("regression", np.arange(10.0), np.arange(10.0))[0] == pytest.approx(1.0)


def test_seeds_give_reproducible_results(cohort, tmp_path):
    a, _ = _run(cohort, tmp_path / "a", "signal", "LVDV", seed=3)
    b, _ = _run(cohort, tmp_path / "b", "signal", "LVDV", seed=3)
    assert a.value == b.value


def test_one_job_for_all_targets_matches_one_probe_per_target(cohort, tmp_path):
    # the probe rule trains every target of a (representation, seed) in one call:
    # each target must get exactly the probe, files and score it gets alone
    targets = ["LVDV", "HF", "SCD", "qrs_duration"]
    outs = [tmp_path / "all" / t / "seed2.json" for t in targets]
    together = run_probes(cohort["signal"], cohort["targets"], cohort["splits"], targets, 2, "signal",
                          "paired_split", FAST_PROBE, outs, [o.with_suffix(".pt") for o in outs],
                          ecg_index=cohort["ecg_index"])
    assert [r.target for r in together] == targets
    for target, res, out in zip(targets, together, outs):
        alone, alone_out = _run(cohort, tmp_path / "alone", "signal", target, seed=2)
        assert out.read_text() == alone_out.read_text()
        assert res.value == alone.value or (math.isnan(res.value) and math.isnan(alone.value))
        a, b = load_probe(out.with_suffix(".pt")), load_probe(alone_out.with_suffix(".pt"))
        assert (a is None) == (b is None) and (a is None or a["target"] == target)
    with pytest.raises(ValueError, match="2 targets but 1 result"):
        run_probes(cohort["signal"], cohort["targets"], cohort["splits"], ["LVDV", "HF"], 0, "signal",
                   "paired_split", FAST_PROBE, outs[:1], outs[:1])


def test_per_subject_test_predictions_reproduce_the_scores(cohort, tmp_path):
    # the paired bootstrap resamples these rows: each target's rows must be its test
    # subjects and must give back exactly the score the result JSON holds
    targets = ["LVDV", "HF", "SCD"]
    outs = [tmp_path / t / "seed1.json" for t in targets]
    pred_path = tmp_path / "predictions_seed1.parquet"
    res = run_probes(cohort["signal"], cohort["targets"], cohort["splits"], targets, 1, "signal",
                     "paired_split", FAST_PROBE, outs, [o.with_suffix(".pt") for o in outs],
                     out_predictions=pred_path)
    pred = read_predictions(pred_path)
    assert list(pred.columns) == PREDICTION_COLUMNS
    assert sorted(pred["target"].unique()) == ["HF", "LVDV"]      # SCD has no cases: untrainable
    split = pd.read_parquet(cohort["splits"]).astype({"eid": str}).set_index("eid")["paired_split"]
    for r in res:
        rows = pred[pred["target"] == r.target]
        if r.target == "SCD":
            assert rows.empty
            continue
        assert (split[rows["eid"]] == "test").all() and len(rows) == r.n_test
        assert (rows["seed"] == 1).all() and (rows["representation"] == "signal").all()
        assert score(r.task, rows["y_true"].to_numpy(), rows["y_pred"].to_numpy())[0] == r.value


def test_a_label_budget_trains_on_a_seeded_draw_of_that_many_labels(cohort, tmp_path):
    full, _ = _run(cohort, tmp_path / "full", "signal", "LVEF")
    a, _ = _run(cohort, tmp_path / "a", "signal", "LVEF", seed=0, train_labels=30)
    again, _ = _run(cohort, tmp_path / "again", "signal", "LVEF", seed=0, train_labels=30)
    other, _ = _run(cohort, tmp_path / "other", "signal", "LVEF", seed=1, train_labels=30)
    assert full.n_train > 30 and a.n_train == other.n_train == 30
    assert (a.n_val, a.n_test) == (full.n_val, full.n_test)   # validation and test untouched
    assert a.value == again.value and a.value != full.value    # same seed, same draw
    assert other.value != a.value                              # another seed, another draw
    big, _ = _run(cohort, tmp_path / "big", "signal", "LVEF", train_labels=10_000)
    assert big.n_train == full.n_train and big.value == full.value   # a budget above n changes nothing

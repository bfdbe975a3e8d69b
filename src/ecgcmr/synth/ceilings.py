"""Headroom ceilings of a synthetic cohort: how well any ECG-only predictor could do.

The generator (``physiology.sample_cohort``) renders each ECG waveform from a few
variables only (:data:`physiology.ECG_WAVEFORM_VARIABLES`); whatever an ECG encoder
learns, its probe cannot beat the best predictor of a target from those variables. That
predictor is estimated here without touching the cohort: a fresh sample of the same
generator (same settings, another seed, tens of thousands of subjects) trains
scikit-learn's histogram gradient boosting on the waveform variables, and its score on
the cohort's own test subjects (their true waveform variables, their observed target
values) is the ceiling. The science benchmark reports the share of headroom an
alignment captures, Δ / (ceiling − baseline).

It is a ceiling up to the booster's fit (on 20,000 subjects, within ~0.01 of the
conditional mean for these smooth, low-dimensional relations) and ignores the
waveform's own noise, which can only lower what an encoder reaches.
"""

from __future__ import annotations

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score, roc_auc_score

from ..phenotypes import OUTCOMES
from .physiology import ECG_WAVEFORM_VARIABLES, sample_cohort

REFERENCE_SEED = 2_000_003   # the reference sample's seed: never a cohort's (those are small integers)


def reference_sample(n: int, generator: dict | None = None, seed: int = REFERENCE_SEED) -> pd.DataFrame:
    """``n`` subjects of the generator with the cohort's settings (``generator``: the
    keyword arguments of ``sample_cohort`` that shape the physiology, e.g.
    ``ecg_contractility``, ``prevalence``)."""
    return sample_cohort(n, seed=seed, **(generator or {}))


def ecg_ceilings(truth: pd.DataFrame, observed: pd.DataFrame, generator: dict | None = None,
                 n_reference: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Per target: the best score of an ECG-only predictor on the cohort's test subjects.

    ``truth``: the cohort's latents (``truth/latents.parquet``: eid and the waveform
    variables); ``observed``: ``eid, target, y_true`` of the test subjects a probe was
    scored on (its predictions file). Returns ``target, metric, ceiling, n_test`` with R²
    for phenotypes and AUROC (0-1) for outcomes, the probes' metrics in their units."""
    ref = reference_sample(n_reference, generator)
    features = list(ECG_WAVEFORM_VARIABLES)
    truth = truth.assign(eid=truth["eid"].astype(str)).set_index("eid")
    rows = []
    for target, obs in observed.assign(eid=observed["eid"].astype(str)).groupby("target", sort=False):
        obs = obs.drop_duplicates("eid")
        missing = sorted(set(obs["eid"]) - set(truth.index))
        if missing:
            raise ValueError(f"{len(missing)} test subjects of {target} have no latents (e.g. {missing[0]})")
        x_test = truth.loc[obs["eid"], features].to_numpy(float)
        y_test = obs["y_true"].to_numpy(float)
        if target in OUTCOMES:
            model = HistGradientBoostingClassifier(random_state=seed).fit(ref[features].to_numpy(float), ref[target])
            score, metric = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]), "auroc"
        else:
            model = HistGradientBoostingRegressor(random_state=seed).fit(ref[features].to_numpy(float), ref[target])
            score, metric = r2_score(y_test, model.predict(x_test)), "r2"
        rows.append({"target": target, "metric": metric, "ceiling": float(score), "n_test": len(obs)})
    return pd.DataFrame(rows)


def headroom_share(delta: float, baseline: float, ceiling: float) -> float:
    """Δ / (ceiling − baseline): the share of what the baseline left that an arm
    captured (NaN when the baseline is at or above the ceiling)."""
    room = ceiling - baseline
    return float(delta / room) if room > 0 else float("nan")


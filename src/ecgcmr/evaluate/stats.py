"""Intervals for "is representation A better than B?" (issue 14): a two-level paired
bootstrap over the probes' per-subject test predictions (``probes/{representation}/
predictions_seed{seed}.parquet``). docs/statistics.md says what it computes and why.

Level 1 resamples the models: the training runs of the representation
(``evaluate.train_seeds``) with replacement, when there is more than one, then within
each drawn run its probe seeds, when there is more than one. The arm's value in a
replicate is the mean metric over the drawn (run, probe seed) models, as Table 1
averages over them. Run k of an alignment starts from the baseline's run k, so paired
arms share their run draws. Level 2 resamples test subjects (with replacement) from the union of every
compared target's test subjects, and both arms are scored on the *same* drawn subjects,
so subject-level difficulty cancels in Δ = arm − baseline. A replicate is a vector of
subject counts, so each metric is a weighted R² or a weighted Mann-Whitney AUROC: a few
matrix products per target instead of n_boot sklearn calls. The point estimates are
sklearn's ``r2_score`` / ``roc_auc_score`` on the unresampled data (the probe's own
numbers); tests check the weighted forms against sklearn on resampled data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score

from ..phenotypes import FUNCTIONAL, OUTCOMES, VOLUMETRIC

N_BOOT = 2000
LEVEL = 0.95
# Table 1's blocks: the mean Δ over each is the claim the paper makes per block
GROUPS: dict[str, tuple[str, ...]] = {"volumetric": tuple(VOLUMETRIC), "functional": tuple(FUNCTIONAL),
                                      "outcomes": tuple(OUTCOMES)}

BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no difference shown"


def verdict(lo: float, hi: float) -> str:
    """"better" only if the whole interval of Δ is above 0, "worse" only if it is
    below; anything else (an interval holding 0, or undefined) shows no difference.
    It never says "no effect": an interval holding 0 can also hold large gains."""
    if np.isfinite(lo) and lo > 0:
        return BETTER
    if np.isfinite(hi) and hi < 0:
        return WORSE
    return NO_DIFFERENCE


def is_classification(task: str) -> bool:
    return task == "classification"


def point_metric(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The probe's own score: AUROC for an outcome, R² for a regression (sklearn);
    NaN where it is undefined (one class, a constant target), as the probe records it."""
    if len(y) < 2 or (len(np.unique(y)) < 2 if is_classification(task) else np.var(y) == 0):
        return float("nan")
    return float(roc_auc_score(y, pred) if is_classification(task) else r2_score(y, pred))


def subject_counts(rng: np.random.Generator, n_subjects: int, n_boot: int) -> np.ndarray:
    """(n_subjects, n_boot) counts: how often each subject is drawn in each replicate
    of n_subjects draws with replacement. Subjects are rows, so a target's subjects (and
    a sort of them) are contiguous row copies."""
    draws = rng.integers(0, n_subjects, size=(n_boot, n_subjects))
    flat = (draws * n_boot + np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n_subjects).reshape(n_subjects, n_boot).astype(float)


Model = tuple[int, int]   # (training run, probe seed)


def seed_draws(rng: np.random.Generator, models: Sequence[Model] | int, n_boot: int) -> np.ndarray:
    """(n_boot, n_models) column indices into ``models`` drawn hierarchically: training
    runs with replacement, then probe seeds with replacement within each drawn run; a
    level with one member is never resampled. ``models`` as an int: that many probe
    seeds of one run. Every run must have the same probe seeds (the pipeline's do)."""
    models = [(0, s) for s in range(models)] if isinstance(models, int) else [tuple(m) for m in models]
    runs = sorted({r for r, _ in models})
    columns = [[i for i, (r, _) in enumerate(models) if r == run] for run in runs]
    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"every training run needs the same number of probe seeds, got "
                         f"{ {run: len(c) for run, c in zip(runs, columns)} }")
    n_runs, n_seeds = len(runs), len(columns[0])
    run_draw = (np.zeros((n_boot, n_runs), dtype=int) if n_runs == 1
                else rng.integers(0, n_runs, size=(n_boot, n_runs)))
    seed_draw = (np.zeros((n_boot, n_runs, n_seeds), dtype=int) if n_seeds == 1
                 else rng.integers(0, n_seeds, size=(n_boot, n_runs, n_seeds)))
    return np.asarray(columns)[run_draw[:, :, None], seed_draw].reshape(n_boot, n_runs * n_seeds)


def weighted_r2(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """R² of every seed's predictions in every replicate: w (n, B) counts, y (n,),
    pred (S, n) -> (B, S); identical to r2_score on the resampled rows."""
    residual2 = (y[None, :] - pred) ** 2
    y = y - y.mean()   # R² does not change; the sums below lose fewer digits
    # one product gives every replicate's sums: 1, y, y² and each seed's residual²;
    # einsum, not BLAS: the product is skinny and memory-bound, and BLAS threads only
    # fight over a loaded machine's cores (ten times slower there)
    sums = np.einsum("nk,nb->kb", np.column_stack([np.ones_like(y), y, y * y, residual2.T]), w)
    total, sum_y, sum_y2, ss_res = sums[0], sums[1], sums[2], sums[3:].T
    ss_tot = sum_y2 - sum_y * sum_y / total
    # ss_tot is a difference of large sums: relative to the spread, below 1e-9 is zero
    degenerate = ss_tot <= 1e-9 * np.maximum(sum_y2, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(degenerate[:, None], np.nan, 1.0 - ss_res / ss_tot[:, None])


def weighted_auroc(w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """AUROC (Mann-Whitney, ties count one half) of every seed in every replicate:
    w (n, B) counts, y (n,) in {0, 1}, pred (S, n) -> (B, S); NaN where a replicate
    drew a single class. Identical to roc_auc_score on the resampled rows."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y != 1)
    w_pos = w[pos]
    n_pos, n_neg = w_pos.sum(axis=0), w[neg].sum(axis=0)
    out = np.empty((w.shape[1], pred.shape[0]))
    for s, score in enumerate(pred):
        order = neg[np.argsort(score[neg], kind="stable")]
        neg_scores = score[order]
        # negatives' weight below each sorted position, per replicate (row 0: none)
        below = np.zeros((len(order) + 1, w.shape[1]))
        np.cumsum(w[order], axis=0, out=below[1:])
        left = np.searchsorted(neg_scores, score[pos], side="left")
        right = np.searchsorted(neg_scores, score[pos], side="right")
        beaten = below[left]
        if np.any(right > left):   # a positive tied with negatives: those count one half
            beaten = 0.5 * (beaten + below[right])
        out[:, s] = np.einsum("ij,ij->j", w_pos, beaten)
    pairs = (n_pos * n_neg)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, out / pairs, np.nan)


def replicate_metrics(task: str, w: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return weighted_auroc(w, y, pred) if is_classification(task) else weighted_r2(w, y, pred)


@dataclass(frozen=True)
class Arms:
    """One target's test subjects as both arms see them: y (n,), predictions per model
    (S_arm, n) and (S_baseline, n), the models ((training run, probe seed) pairs), and
    the subjects' eids."""

    target: str
    task: str
    eids: np.ndarray
    y: np.ndarray
    arm: np.ndarray
    baseline: np.ndarray
    arm_seeds: tuple[Model, ...]
    baseline_seeds: tuple[Model, ...]


def arms_of(predictions: pd.DataFrame, arm: str, baseline: str,
            targets: Sequence[str] | None = None) -> list[Arms]:
    """Per target, the subjects every model (training run, probe seed) of both
    representations scored (paired: a subject missing from one model or arm is left out
    of all), as matrices."""
    df = predictions[predictions["representation"].isin([arm, baseline])]
    if "train_seed" not in df.columns:   # one training run
        df = df.assign(train_seed=0)
    key = ["target", "eid", "representation", "train_seed", "seed"]
    dup = df.duplicated(key)
    if dup.any():
        raise ValueError(f"{int(dup.sum())} repeated (target, eid, representation, train_seed, seed) test "
                         f"predictions, e.g. {df.loc[dup, key].iloc[0].tolist()}: one probe job's file read twice?")
    wide = df.set_index(key)["y_pred"].unstack(["representation", "train_seed", "seed"])
    truth = df.groupby(["target", "eid", "representation"])["y_true"].first().unstack("representation")
    tasks = df.groupby("target")["task"].first()
    out = []
    for target in (targets if targets is not None else list(dict.fromkeys(df["target"]))):
        if target not in tasks.index:
            raise ValueError(f"no test predictions of {arm!r} or {baseline!r} for target {target!r}")
        w = wide.loc[target]
        sides = {}
        for rep in (arm, baseline):
            if rep not in w.columns.get_level_values(0):
                raise ValueError(f"no test predictions of {rep!r} for target {target!r}")
            sides[rep] = w[rep].dropna(axis=1, how="all")
        common = w.index[sides[arm].notna().all(axis=1) & sides[baseline].notna().all(axis=1)]
        if len(common) == 0:
            raise ValueError(f"{target}: {arm!r} and {baseline!r} share no test subject")
        t = truth.loc[target].loc[common]
        if not np.allclose(t[arm].to_numpy(float), t[baseline].to_numpy(float)):
            raise ValueError(f"{target}: {arm!r} and {baseline!r} disagree on the test labels of shared subjects")
        out.append(Arms(target, str(tasks[target]), common.to_numpy(), t[arm].to_numpy(float),
                        sides[arm].loc[common].to_numpy(float).T, sides[baseline].loc[common].to_numpy(float).T,
                        _models(sides[arm].columns), _models(sides[baseline].columns)))
    return out


def _models(columns: pd.MultiIndex) -> tuple[Model, ...]:
    return tuple((int(r), int(s)) for r, s in columns)


def _n_runs(models: Sequence[Model]) -> int:
    return len({r for r, _ in models})


def paired_bootstrap(predictions: pd.DataFrame, arm: str, baseline: str = "baseline",
                     targets: Sequence[str] | None = None,
                     groups: Mapping[str, Sequence[str]] | None = None, n_boot: int = N_BOOT,
                     seed: int = 0, level: float = LEVEL, paired: bool = True) -> pd.DataFrame:
    """Δ = arm − baseline per target and the mean Δ over each group of targets, with
    percentile intervals. ``predictions``: :func:`ecgcmr.evaluate.probe.read_predictions`
    of both representations. ``groups`` default to Table 1's blocks (only the targets
    present); ``paired=False`` draws the two arms' subjects and seeds independently
    (for comparison only: it ignores what the arms share). Same inputs and ``seed`` ->
    same numbers."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    arms = arms_of(predictions, arm, baseline, targets)
    targets = [a.target for a in arms]
    groups = {g: [t for t in members if t in targets]
              for g, members in (GROUPS if groups is None else groups).items()}
    groups = {g: m for g, m in groups.items() if m}

    rng = np.random.default_rng(seed)
    universe = pd.Index(np.unique(np.concatenate([a.eids for a in arms])))
    w_arm = subject_counts(rng, len(universe), n_boot)
    w_base = w_arm if paired else subject_counts(rng, len(universe), n_boot)
    # a seed is one model for every target, so its draws are shared across targets; the
    # probe's seed also fixes its outcome undersampling, so paired arms with the same
    # seeds share them too
    draws_arm: dict[tuple, np.ndarray] = {}
    draws_base = draws_arm if paired else {}
    for a in arms:
        for draws, seeds in ((draws_arm, a.arm_seeds), (draws_base, a.baseline_seeds)):
            if seeds not in draws:
                draws[seeds] = seed_draws(rng, seeds, n_boot)

    rows, deltas = [], {}
    for a in arms:
        cols = universe.get_indexer(a.eids)
        m_arm = replicate_metrics(a.task, w_arm[cols], a.y, a.arm)
        m_base = replicate_metrics(a.task, w_base[cols], a.y, a.baseline)
        boot_arm = np.take_along_axis(m_arm, draws_arm[a.arm_seeds], axis=1).mean(axis=1)
        boot_base = np.take_along_axis(m_base, draws_base[a.baseline_seeds], axis=1).mean(axis=1)
        deltas[a.target] = boot_arm - boot_base
        v_arm = float(np.mean([point_metric(a.task, a.y, p) for p in a.arm]))
        v_base = float(np.mean([point_metric(a.task, a.y, p) for p in a.baseline]))
        rows.append(_row(a.target, "target", "auroc" if is_classification(a.task) else "r2",
                         v_arm, v_base, deltas[a.target], level, n_subjects=len(a.eids),
                         n_seeds_arm=len(a.arm_seeds), n_seeds_baseline=len(a.baseline_seeds),
                         n_train_seeds_arm=_n_runs(a.arm_seeds), n_train_seeds_baseline=_n_runs(a.baseline_seeds)))
    by_target = {r["target"]: r for r in rows}
    for g, members in groups.items():
        metrics = {by_target[t]["metric"] for t in members}
        rows.append(_row(g, "group", "/".join(sorted(metrics)),
                         float(np.mean([by_target[t]["arm_value"] for t in members])),
                         float(np.mean([by_target[t]["baseline_value"] for t in members])),
                         np.mean([deltas[t] for t in members], axis=0), level,
                         n_subjects=len(set().union(*(a.eids for a in arms if a.target in members))),
                         n_seeds_arm=max(by_target[t]["n_seeds_arm"] for t in members),
                         n_seeds_baseline=max(by_target[t]["n_seeds_baseline"] for t in members),
                         n_train_seeds_arm=max(by_target[t]["n_train_seeds_arm"] for t in members),
                         n_train_seeds_baseline=max(by_target[t]["n_train_seeds_baseline"] for t in members)))
    out = pd.DataFrame(rows)
    out.insert(0, "baseline", baseline)
    out.insert(0, "arm", arm)
    out["n_boot"], out["seed"], out["paired"] = n_boot, seed, paired
    return out


def _row(name: str, kind: str, metric: str, arm_value: float, baseline_value: float,
         boot_delta: np.ndarray, level: float, **counts) -> dict:
    """Point Δ from the unresampled data, interval from the replicates' percentiles
    (replicates where a metric is undefined, e.g. no case drawn, are left out and
    counted in n_valid)."""
    ok = boot_delta[np.isfinite(boot_delta)]
    tail = 100 * (1 - level) / 2
    lo, hi = (np.percentile(ok, [tail, 100 - tail]) if len(ok) else (np.nan, np.nan))
    delta = arm_value - baseline_value
    return {"target": name, "kind": kind, "metric": metric, "arm_value": arm_value,
            "baseline_value": baseline_value, "delta": delta, "lo": float(lo), "hi": float(hi),
            "verdict": verdict(lo, hi), "n_valid": len(ok), **counts}

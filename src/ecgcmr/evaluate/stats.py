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
:func:`score` on the unresampled data (the probe's own numbers); tests check the weighted forms against sklearn on resampled data.
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


MIN_SUBJECTS = 4  # fewer labelled subjects in a split than this cannot train or score


def score(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, str]:
    """(value, reason): the probe's score, AUROC for an outcome and R² for a regression
    (sklearn), or NaN with the reason it is undefined. The one definition: the probe
    records it, the bootstrap's point estimates recompute it."""
    if len(y_true) < MIN_SUBJECTS:
        return float("nan"), f"only {len(y_true)} labelled subjects"
    if is_classification(task):
        n_pos = int((y_true == 1).sum())
        if n_pos == 0 or n_pos == len(y_true):
            return float("nan"), f"single class ({n_pos} positives of {len(y_true)})"
        return float(roc_auc_score(y_true, y_pred)), ""
    if np.var(y_true) == 0:
        return float("nan"), "constant target"
    return float(r2_score(y_true, y_pred)), ""


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
    seeds of one run."""
    models = [(0, s) for s in range(models)] if isinstance(models, int) else [tuple(m) for m in models]
    runs = sorted({r for r, _ in models})
    columns = [[i for i, (r, _) in enumerate(models) if r == run] for run in runs]
    n_runs = len(runs)
    run_draw = (np.zeros((n_boot, n_runs), dtype=int) if n_runs == 1
                else rng.integers(0, n_runs, size=(n_boot, n_runs)))
    if len({len(c) for c in columns}) == 1:
        n_seeds = len(columns[0])
        seed_draw = (np.zeros((n_boot, n_runs, n_seeds), dtype=int) if n_seeds == 1
                     else rng.integers(0, n_seeds, size=(n_boot, n_runs, n_seeds)))
        return np.asarray(columns)[run_draw[:, :, None], seed_draw].reshape(n_boot, n_runs * n_seeds)
    # a run that lost a probe seed (an untrainable probe): each drawn run contributes
    # as many models as the largest run, drawn from its own seeds, so runs weigh equally
    n_seeds = max(len(c) for c in columns)
    out = np.empty((n_boot, n_runs, n_seeds), dtype=int)
    for slot in range(n_runs):
        for j, cols in enumerate(columns):
            drawn = run_draw[:, slot] == j
            out[drawn, slot] = np.asarray(cols)[rng.integers(0, len(cols), size=(int(drawn.sum()), n_seeds))]
    return out.reshape(n_boot, n_runs * n_seeds)


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
    for s, model in enumerate(pred):
        order = neg[np.argsort(model[neg], kind="stable")]
        neg_scores = model[order]
        # negatives' weight below each sorted position, per replicate (row 0: none)
        below = np.zeros((len(order) + 1, w.shape[1]))
        np.cumsum(w[order], axis=0, out=below[1:])
        left = np.searchsorted(neg_scores, model[pos], side="left")
        right = np.searchsorted(neg_scores, model[pos], side="right")
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
class Scored:
    """One target's test subjects as every compared representation sees them: y (n,),
    per representation its predictions per model (S, n) and the models ((training run,
    probe seed) pairs), and the subjects' eids."""

    target: str
    task: str
    eids: np.ndarray
    y: np.ndarray
    preds: dict[str, np.ndarray]
    models: dict[str, tuple[Model, ...]]


def scored(predictions: pd.DataFrame, representations: Sequence[str], targets: Sequence[str] | None = None,
           complete: bool = True) -> list[Scored]:
    """Per target, the subjects every model (training run, probe seed) of every
    representation scored (paired: a subject missing from one model or representation
    is left out of all), as matrices. ``complete``: a representation without
    predictions for a target is an error (a comparison needs both sides); otherwise it
    is left out of that target, and a target no representation scored is skipped."""
    df = predictions[predictions["representation"].isin(list(representations))]
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
    names = " or ".join(repr(r) for r in representations)
    out = []
    for target in (targets if targets is not None else list(dict.fromkeys(df["target"]))):
        if target not in tasks.index:
            if complete:
                raise ValueError(f"no test predictions of {names} for target {target!r}")
            continue
        w = wide.loc[target]
        present = set(w.columns.get_level_values(0))
        sides = {}
        for rep in representations:
            if rep not in present:
                if complete:
                    raise ValueError(f"no test predictions of {rep!r} for target {target!r}")
                continue
            sides[rep] = w[rep].dropna(axis=1, how="all")
        common = w.index[np.logical_and.reduce([s.notna().all(axis=1) for s in sides.values()])]
        if len(common) == 0:
            raise ValueError(f"{target}: {names} share no test subject")
        t = truth.loc[target].loc[common]
        first = next(iter(sides))
        for rep in sides:
            if not np.allclose(t[rep].to_numpy(float), t[first].to_numpy(float)):
                raise ValueError(f"{target}: {first!r} and {rep!r} disagree on the test labels of shared subjects")
        out.append(Scored(target, str(tasks[target]), common.to_numpy(), t[first].to_numpy(float),
                          {rep: s.loc[common].to_numpy(float).T for rep, s in sides.items()},
                          {rep: _models(s.columns) for rep, s in sides.items()}))
    return out


def arms_of(predictions: pd.DataFrame, arm: str, baseline: str,
            targets: Sequence[str] | None = None) -> list[Scored]:
    """:func:`scored` of an arm and its baseline: both must have every target."""
    return scored(predictions, [arm, baseline], targets)


def _models(columns: pd.MultiIndex) -> tuple[Model, ...]:
    return tuple((int(r), int(s)) for r, s in columns)


def _n_runs(models: Sequence[Model]) -> int:
    return len({r for r, _ in models})


def replicates(targets: Sequence[Scored], n_boot: int, seed: int, paired: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """target -> representation -> (n_boot,): the representation's mean metric over
    its drawn models on the drawn test subjects, for every replicate. ``paired``: all
    representations are scored on the same subject draws (over the union of every
    target's subjects) and, where their models are the same (training run, probe seed)
    pairs, the same model draws: a seed is one model for every target, and the probe's
    seed also fixes its outcome undersampling. Otherwise each representation draws its
    own. Same inputs and ``seed`` -> same replicates."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    reps = list(dict.fromkeys(r for t in targets for r in t.preds))
    rng = np.random.default_rng(seed)
    universe = pd.Index(np.unique(np.concatenate([t.eids for t in targets]))) if targets else pd.Index([])
    shared = subject_counts(rng, len(universe), n_boot) if paired else None
    weights = {r: shared if paired else subject_counts(rng, len(universe), n_boot) for r in reps}
    shared_draws: dict[tuple, np.ndarray] = {}
    draws = {r: shared_draws if paired else {} for r in reps}
    for t in targets:
        for r, models in t.models.items():
            if models not in draws[r]:
                draws[r][models] = seed_draws(rng, models, n_boot)
    out = {}
    for t in targets:
        cols = universe.get_indexer(t.eids)
        out[t.target] = {r: np.take_along_axis(replicate_metrics(t.task, weights[r][cols], t.y, pred),
                                               draws[r][t.models[r]], axis=1).mean(axis=1)
                         for r, pred in t.preds.items()}
    return out


def interval(boot: np.ndarray, level: float = LEVEL) -> tuple[float, float, int]:
    """The percentile interval of the replicates where the statistic is defined (a
    replicate may draw no case of an outcome), and how many those are."""
    ok = boot[np.isfinite(boot)]
    tail = 100 * (1 - level) / 2
    lo, hi = (np.percentile(ok, [tail, 100 - tail]) if len(ok) else (np.nan, np.nan))
    return float(lo), float(hi), len(ok)


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
    boot = replicates(arms, n_boot, seed, paired)

    rows, deltas = [], {}
    for a in arms:
        deltas[a.target] = boot[a.target][arm] - boot[a.target][baseline]
        v_arm, v_base = (float(np.mean([score(a.task, a.y, p)[0] for p in a.preds[r]])) for r in (arm, baseline))
        rows.append(_row(a.target, "target", "auroc" if is_classification(a.task) else "r2",
                         v_arm, v_base, deltas[a.target], level, n_subjects=len(a.eids),
                         n_seeds_arm=len(a.models[arm]), n_seeds_baseline=len(a.models[baseline]),
                         n_train_seeds_arm=_n_runs(a.models[arm]), n_train_seeds_baseline=_n_runs(a.models[baseline])))
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
    lo, hi, n_valid = interval(boot_delta, level)
    delta = arm_value - baseline_value
    return {"target": name, "kind": kind, "metric": metric, "arm_value": arm_value,
            "baseline_value": baseline_value, "delta": delta, "lo": lo, "hi": hi,
            "verdict": verdict(lo, hi), "n_valid": n_valid, **counts}

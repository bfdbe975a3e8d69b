"""The intervals and marks of Tables 1 and 2 (issue 14): each cell's 95 % interval and
whether its rank mark (best **bold**, second <u>underlined</u>) is supported.

A cell's interval is the percentile interval of :func:`ecgcmr.evaluate.stats.replicates`
for its representation alone: training runs, then probe seeds, then test subjects
resampled, so it holds the spread of the method over training runs as well as over the
test sample. All rows of a table share their subject and model draws (they are scored
on the same test split by the same probe seeds), so the difference of two rows'
replicates is the paired Δ of ``deltas.csv``, and a mark is set only where that Δ's
interval excludes 0. docs/statistics.md says so in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .stats import LEVEL, N_BOOT, interval, replicates, scored

Replicates = Mapping[str, Mapping[str, np.ndarray]]   # target -> representation -> (n_boot,)


def cell_replicates(predictions: pd.DataFrame, representations: Sequence[str], targets: Sequence[str],
                    n_boot: int = N_BOOT, seed: int = 0) -> Replicates:
    """The paired replicates of every (representation, target) with test predictions;
    a representation whose probe could not be trained for a target has none there."""
    return replicates(scored(predictions, representations, targets, complete=False), n_boot, seed)


def intervals(boot: Replicates, level: float = LEVEL) -> pd.DataFrame:
    """One row per (representation, target): lo, hi, n_valid (replicates with a value)."""
    rows = [{"representation": r, "target": t, **dict(zip(("lo", "hi", "n_valid"), interval(b, level)))}
            for t, by_rep in boot.items() for r, b in by_rep.items()]
    return pd.DataFrame(rows, columns=["representation", "target", "lo", "hi", "n_valid"])


def shown_better(boot: Mapping[str, np.ndarray], a: str, b: str, level: float = LEVEL) -> bool:
    """Whether the paired Δ = a − b has its whole interval above 0."""
    if a not in boot or b not in boot:
        return False
    lo, _, _ = interval(boot[a] - boot[b], level)
    return bool(np.isfinite(lo) and lo > 0)


def supported_marks(mean: pd.DataFrame, boot: Replicates, level: float = LEVEL) -> pd.DataFrame:
    """'best' / 'second' / '' per cell of ``mean`` (rows = representations, columns =
    targets; higher is better). The top row is 'best' only if it is shown better (paired
    Δ interval above 0) than every other row with a value; the second row is 'second'
    only if the best is marked and it is shown better than every row below it (so two
    rows give at most a best). A tie or an overlap leaves the cells unmarked: the table
    never ranks what its intervals cannot tell apart."""
    marks = pd.DataFrame("", index=mean.index, columns=mean.columns)
    for c in mean.columns:
        ranked = mean[c][np.isfinite(mean[c].astype(float))].sort_values(ascending=False, kind="stable").index
        by_rep = boot.get(c, {})
        if len(ranked) < 2:
            continue
        if all(shown_better(by_rep, ranked[0], q, level) for q in ranked[1:]):
            marks.loc[ranked[0], c] = "best"
            if len(ranked) > 2 and all(shown_better(by_rep, ranked[1], q, level) for q in ranked[2:]):
                marks.loc[ranked[1], c] = "second"
    return marks

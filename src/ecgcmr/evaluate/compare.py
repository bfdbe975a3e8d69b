"""The pipeline's comparison of each alignment variant with the baseline (issue 14):
``tables/deltas.{csv,md}`` (Δ per Table 1 target and block, paired bootstrap interval,
verdict) and ``tables/gates.{csv,md}`` (the four gates per variant and what the run may
conclude). The statistics are :mod:`ecgcmr.evaluate.stats` and
:mod:`ecgcmr.evaluate.gates`; this module only gathers their inputs and writes tables.
docs/statistics.md says what the numbers mean.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import gates as G
from .probe import read_predictions
from .stats import N_BOOT, arms_of, is_classification, paired_bootstrap

log = logging.getLogger(__name__)

DELTA_COLUMNS = ["arm", "baseline", "target", "kind", "metric", "arm_value", "baseline_value", "delta",
                 "lo", "hi", "verdict", "conclusion", "n_test", "positives", "n_valid", "n_seeds_arm",
                 "n_seeds_baseline", "n_train_seeds_arm", "n_train_seeds_baseline", "n_boot", "seed", "note"]
GATE_COLUMNS = ["variant", "gate", "value", "threshold", "direction", "passed", "source", "conclusion"]
NO_PREDICTIONS = "no test predictions (probe untrainable)"
NOT_COMPUTED = "not computed"


def _scored(predictions: pd.DataFrame, rep: str) -> set[str]:
    return set(predictions.loc[predictions["representation"] == rep, "target"])


def deltas_table(predictions: pd.DataFrame, arms: Sequence[str], baseline: str, targets: Sequence[str],
                 gates: pd.DataFrame | None = None, n_boot: int = N_BOOT, seed: int = 0,
                 comparisons: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """Δ = arm − baseline for every arm, then Δ = a − b for each further pair (a, b) of
    ``comparisons`` (e.g. dual-phase − the label control; b is in the ``baseline``
    column), per target of ``targets`` and per Table 1 block
    (:func:`ecgcmr.evaluate.stats.paired_bootstrap`), with n_test (the paired test
    subjects) and, for outcomes, their positives. ``conclusion`` is the verdict only
    where the gates of both sides (rows of ``gates`` with variant == either; the
    baseline has none of its own) all passed (:func:`ecgcmr.evaluate.gates.conclusion`).
    A target without test predictions in either arm (an untrainable probe) is a row
    without numbers that says so."""
    gates = pd.DataFrame(columns=GATE_COLUMNS) if gates is None else gates
    frames = []
    for arm, baseline in [*((a, baseline) for a in arms), *(tuple(c) for c in comparisons)]:
        scored = _scored(predictions, arm) & _scored(predictions, baseline)
        present = [t for t in targets if t in scored]
        parts = []
        if present:
            d = paired_bootstrap(predictions, arm, baseline, targets=present, n_boot=n_boot, seed=seed)
            d = d.rename(columns={"n_subjects": "n_test"})
            positives = {a.target: int((a.y == 1).sum()) for a in arms_of(predictions, arm, baseline, present)
                         if is_classification(a.task)}
            d["positives"] = d["target"].map(positives).astype("Int64")
            d["note"] = ""
            parts.append(d)
        missing = [t for t in targets if t not in scored]
        if missing:
            parts.append(pd.DataFrame({"arm": arm, "baseline": baseline, "target": missing, "kind": "target",
                                       "verdict": NOT_COMPUTED, "n_boot": n_boot, "seed": seed,
                                       "note": NO_PREDICTIONS}))
        d = pd.concat(parts, ignore_index=True)
        own = gates[gates["variant"].isin([arm, baseline])]
        d["conclusion"] = [G.conclusion(own, v) if v != NOT_COMPUTED else v for v in d["verdict"]]
        # targets in Table 1's order, then the block means
        order = {t: i for i, t in enumerate(targets)}
        d = d.assign(_k=d["kind"].ne("target"), _o=d["target"].map(order)).sort_values(["_k", "_o"], kind="stable")
        frames.append(d.drop(columns=["_k", "_o"]))
    if not frames:
        return pd.DataFrame(columns=DELTA_COLUMNS)
    out = pd.concat(frames, ignore_index=True).reindex(columns=DELTA_COLUMNS)
    # counts stay integers beside the rows without numbers
    counts = ["n_test", "positives", "n_valid", "n_seeds_arm", "n_seeds_baseline", "n_train_seeds_arm",
              "n_train_seeds_baseline"]
    return out.astype({c: "Int64" for c in counts})


def _num(x: float, digits: int = 3) -> str:
    return "n/a" if pd.isna(x) else f"{x:+.{digits}f}"


def deltas_markdown(table: pd.DataFrame, names: Mapping[str, str], gates: pd.DataFrame) -> str:
    parts = ["# Each alignment variant vs the baseline (and the configured comparisons)\n\n",
             "Δ = variant − baseline (or the first named − the second) on the same test subjects: R² for phenotypes, AUROC for outcomes; "
             "95 % interval of a two-level paired bootstrap (training runs and probe seeds, then subjects; docs/statistics.md). "
             "*better* / *worse*: the whole interval is above / below 0; *no difference shown* is not "
             "*no effect*. A variant whose gates failed (tables/gates.md) is **not informative**, "
             "whatever its Δ.\n"]
    for (arm, base), d in table.groupby(["arm", "baseline"], sort=False):
        status = G.run_status(gates[gates["variant"].isin([arm, base])])
        parts.append(f"\n## {names.get(arm, arm)} vs {names.get(base, base)}\n\nRun: **{status}**\n\n")
        parts.append("| target | metric | variant | baseline | Δ [95 % CI] | n_test | positives | verdict |\n"
                     "|---|---|---|---|---|---|---|---|\n")
        for r in d.itertuples():
            if r.note:
                parts.append(f"| {r.target} | | | | n/a | | | {r.note} |\n")
                continue
            label = f"**mean of {r.target}**" if r.kind == "group" else r.target
            value = (lambda x: "n/a" if pd.isna(x) else f"{x:.3f}")
            parts.append(f"| {label} | {r.metric} | {value(r.arm_value)} | {value(r.baseline_value)} | "
                         f"{_num(r.delta)} [{_num(r.lo)}, {_num(r.hi)}] | {r.n_test} | "
                         f"{'' if pd.isna(r.positives) else r.positives} | {r.verdict} |\n")
        n_boot, seed = d["n_boot"].iloc[0], d["seed"].iloc[0]
        runs = d["n_train_seeds_arm"].dropna()
        runs = f"{int(runs.max())} training run(s) × probe seeds" if len(runs) else "probe seeds"
        parts.append(f"\n{n_boot} bootstrap replicates, seed {seed}, over {runs} and test subjects; "
                     "n_test: paired test subjects every model of both representations scored.\n")
    return "".join(parts)


def read_gates(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no gates table (has rule compare_gates run?)")
    table = pd.read_csv(path, dtype={c: str for c in ("variant", "gate", "direction", "source", "conclusion")})
    missing = set(GATE_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"{path}: not a gates table (missing columns {sorted(missing)})")
    if table["passed"].dtype != bool:
        raise ValueError(f"{path}: column passed must be True/False, got {sorted(set(table['passed'].astype(str)))}")
    # an empty source (a gate value passed in, not read from a file) is a string
    return table.fillna({"source": "", "conclusion": ""})


def write_deltas(prediction_files: Sequence[str | Path], gates_csv: str | Path, out_csv: str | Path,
                 out_md: str | Path, arms: Sequence[str], baseline: str, targets: Sequence[str],
                 names: Mapping[str, str], n_boot: int = N_BOOT, seed: int = 0,
                 comparisons: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """tables/deltas.{csv,md} from the probes' prediction files and tables/gates.csv."""
    gates = read_gates(gates_csv)
    table = deltas_table(read_predictions(prediction_files), arms, baseline, targets, gates, n_boot, seed,
                         comparisons)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(deltas_markdown(table, names, gates))
    for r in table[table["kind"] == "group"].itertuples():
        log.info("%s vs %s, %s: Δ %s [%s, %s], %s", r.arm, r.baseline, r.target, _num(r.delta),
                 _num(r.lo), _num(r.hi), r.conclusion)
    return table


def _runs(dirs: str | Path | Sequence[str | Path]) -> list[Path]:
    """One model folder, or one per training run (run 0 first)."""
    return [Path(dirs)] if isinstance(dirs, (str, Path)) else [Path(d) for d in dirs]


def gates_table(mae_dirs: str | Path | Sequence[str | Path],
                align_dirs: Mapping[str, str | Path | Sequence[str | Path]], align_batch_size: int,
                lvef_r2: float, lvef_source: str = "") -> pd.DataFrame:
    """The four gates of each variant (the MAE and CMR-encoder gates are shared, so they
    repeat in every variant's rows) and, in every row, what that variant's comparison
    may conclude (:func:`ecgcmr.evaluate.gates.run_status`). With several training runs
    (``mae_dirs`` and each variant's ``align_dirs`` one folder per run, run k of the
    alignment starting from MAE run k, or k mod their number where there are fewer MAE
    runs: ``evaluate.mae_train_seeds``), every run's MAE and alignment gates are rows,
    named with their run, and a variant is informative only if all of them pass."""
    mae_dirs = _runs(mae_dirs)
    frames = []
    for variant, dirs in align_dirs.items():
        dirs = _runs(dirs)
        if len(dirs) < len(mae_dirs):
            raise ValueError(f"{variant}: {len(dirs)} alignment runs but {len(mae_dirs)} MAE runs "
                             "(run k of an alignment starts from MAE run k mod the MAE runs)")
        runs = [G.science_gates(mae_dirs[k % len(mae_dirs)], a, align_batch_size, lvef_r2, lvef_source)
                for k, a in enumerate(dirs)]
        if len(runs) > 1:
            # the CMR encoders are trained once: their gate once, then each run's own
            shared = [t["gate"] == G.LVEF_GATE for t in runs]
            runs = [runs[0][shared[0]]] + [t[~s].assign(gate=t.loc[~s, "gate"] + f" (training run {k})")
                                           for k, (t, s) in enumerate(zip(runs, shared))]
        t = pd.concat(runs, ignore_index=True)
        frames.append(t.assign(variant=variant, conclusion=G.run_status(t)))
    if not frames:
        return pd.DataFrame(columns=GATE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[GATE_COLUMNS]


def gates_markdown(table: pd.DataFrame) -> str:
    parts = ["# Gates: can this run say whether alignment helps?\n\n",
             "Thresholds fixed before the run (issue 14, docs/statistics.md). A failed gate makes the "
             "comparison **not informative**, never \"no effect\".\n"]
    for variant, t in table.groupby("variant", sort=False):
        parts.append(f"\n## {variant}: {t['conclusion'].iloc[0]}\n\n| gate | value | passes when | passed |\n"
                     "|---|---|---|---|\n")
        for r in t.itertuples():
            value = "n/a" if not np.isfinite(r.value) else f"{r.value:.4g}"
            # 5 x chance above 1 (fewer than 5 validation pairs): no retrieval can pass
            unreachable = "retrieval" in r.gate and r.threshold > 1
            unreachable = " (unreachable: too few validation pairs)" if unreachable else ""
            parts.append(f"| {r.gate} | {value} | {r.direction} {r.threshold:.4g}{unreachable} | "
                         f"{'yes' if r.passed else 'no'} |\n")
    return "".join(parts)


def write_gates(mae_dir: str | Path | Sequence[str | Path],
                align_dirs: Mapping[str, str | Path | Sequence[str | Path]], align_batch_size: int,
                ed_encoder: str | Path, es_encoder: str | Path, crop_index: str | Path, targets: str | Path,
                splits: str | Path, out_csv: str | Path, out_md: str | Path, embed_batch_size: int = 16,
                device: str = "cpu") -> pd.DataFrame:
    """tables/gates.{csv,md} from the trained models' files (gate 2 embeds the paired
    training and validation crops with the frozen ED and ES encoders)."""
    lvef_r2 = G.cmr_lvef_r2(ed_encoder, es_encoder, crop_index, targets, splits, embed_batch_size, device)
    table = gates_table(mae_dir, align_dirs, align_batch_size, lvef_r2, f"{ed_encoder}, {es_encoder}")
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(gates_markdown(table))
    for variant, t in table.groupby("variant", sort=False):
        log.info("gates of %s: %s", variant, t["conclusion"].iloc[0])
    return table

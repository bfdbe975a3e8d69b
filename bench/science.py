"""Science benchmark: the science run of config/science.yaml, its negative control and
its 100-label probes, next to the paper's Table 1.

Runs the pipeline (Snakemake) on ``config/science.yaml`` (a synthetic cohort of ~900
ECG-CMR pairs, ~600 ECG-only pretraining subjects and ~2,400 labelled ECG-only test
subjects; CMR encoders that learn LVESV and RVESV; alignment at lr 1e-3, batch 64;
arms baseline, 3D-ED, dual-phase and the label control, four alignment seeds each),
then the same config on a negative-control cohort (``synth.ecg_contractility: 0``:
its ECG carries nothing of contractility, so the expected functional Δ is 0), then
probes of every representation on 100 labelled training subjects (the label-efficiency
regime). Writes bench/results/science.md and science.json: the gates (fixed before the
run), the primary endpoint Δ_func = mean over the six functional targets of
R²(dual-phase) − R²(baseline) with its two-level paired-bootstrap interval (alignment
seeds, then test subjects; tables/deltas.csv), per-target Δ, the volumetric block,
dual-phase − label control, the same in the negative control and at 100 labels, the
share of headroom captured, Table 1 with intervals, and the runtime.

    make science
    .venv/bin/python bench/science.py [--cores N] [--config config/science.yaml] [--no-negative-control]
                                      [--label-budget 100] [--skip-run]
    .venv/bin/python bench/science.py --config config/config.yaml --skip-run   # the demo's tables

Not a test: it trains every arm four times on two cohorts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from ecgcmr.config import compare_pairs, load_config, merged  # noqa: E402
from ecgcmr.phenotypes import FUNCTIONAL, OUTCOMES, PHENOTYPES, VOLUMETRIC  # noqa: E402
from ecgcmr.synth.ceilings import ecg_ceilings, headroom_share  # noqa: E402

# The paper's Table 1 (means; R² for phenotypes, AUROC % for outcomes), for comparison.
PAPER = pd.DataFrame.from_dict({
    "baseline":   [0.606, 0.548, 0.640, 0.610, 0.549, 0.626, 0.525, 0.464, 0.478, 0.482, 0.550, 0.512,
                   68.552, 73.800, 62.818, 76.836, 68.862, 82.667],
    "2d":         [0.667, 0.639, 0.681, 0.664, 0.607, 0.685, 0.603, 0.559, 0.568, 0.531, 0.595, 0.534,
                   69.853, 74.406, 62.793, 79.250, 70.379, 83.333],
    "2d_time":    [0.629, 0.579, 0.673, 0.637, 0.598, 0.654, 0.587, 0.549, 0.554, 0.520, 0.595, 0.566,
                   69.228, 73.849, 61.867, 77.401, 69.635, 83.889],
    "3d_ed":      [0.655, 0.612, 0.677, 0.642, 0.616, 0.688, 0.568, 0.560, 0.575, 0.536, 0.647, 0.500,
                   69.872, 74.304, 62.848, 79.676, 70.348, 85.593],
    "dual_phase": [0.649, 0.624, 0.684, 0.648, 0.632, 0.673, 0.619, 0.567, 0.582, 0.572, 0.637, 0.579,
                   69.748, 73.888, 63.300, 77.441, 69.955, 83.111],
}, orient="index", columns=["LVDV", "LVSV", "LVMM", "RVDV", "RVSV", "LVMT", "LVGCS", "LVGLS", "LVGRS",
                            "LVEF", "LVCO", "RVEF", "CAD", "AF", "SCD", "HF", "MI", "CMP"])
ORDER = list(PHENOTYPES) + list(OUTCOMES)


def rebased(cfg: dict, results: str) -> dict:
    """The config's own cohort paths moved from its results_dir to ``results`` (the
    synthetic raw files live below a run's own folder; headroom() reads its truth)."""
    base = cfg["results_dir"].rstrip("/") + "/"
    return {k: results + "/" + v[len(base):] for k, v in cfg["cohort"].items()
            if isinstance(v, str) and v.startswith(base)}


def run_pipeline(configfiles: list[Path], results: str, cores: int) -> dict:
    """Snakemake up to Table 1, the deltas and the gates. Returns the run's wall time,
    cores and load average at its start, also kept in ``{results}/science_runtime.json``:
    a call that finds the run complete (nothing planned) returns the recorded one."""
    targets = [str(Path(results, "tables", name)) for name in ("table1.csv", "deltas.csv", "gates.csv")]
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
           "--configfile", *map(str, configfiles), "--cores", str(cores), "--rerun-incomplete"]
    record = REPO / results / "science_runtime.json"
    dry = subprocess.run([*cmd, "-n", "--quiet", "rules", "--", *targets], cwd=REPO, capture_output=True, text=True)
    if dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr and record.is_file():
        return json.loads(record.read_text())
    print(" ".join(cmd), flush=True)
    load, started = os.getloadavg()[0], time.time()
    subprocess.run([*cmd, "--", *targets], check=True, cwd=REPO)
    out = {"wall_s": round(time.time() - started, 1), "cores": cores, "load_average_at_start": round(load, 2),
           "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    record.write_text(json.dumps(out, indent=2) + "\n")
    return out


def negative_control(config: Path, cfg: dict, arms: list[str]) -> tuple[Path, str]:
    """An override of ``config`` for its negative-control cohort: the same settings, the
    ECG blind to contractility, its own results folder, and only ``arms`` beside the
    baseline (its question is dual-phase − baseline = 0; the other arms would cost as
    much again and answer nothing more)."""
    results = cfg["results_dir"].rstrip("/") + "_negative_control"
    override = {"run_name": f"{cfg['run_name']}_negative_control", "results_dir": results,
                "cohort": rebased(cfg, results), "synth": {"ecg_contractility": 0.0},
                "align": {"run": list(arms)}, "evaluate": {"representations": ["baseline", *arms]}}
    path = REPO / "bench" / "results" / "science_negative_control_config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(override))
    return path, results


def label_budget(results: str, cfg: dict, n_labels: int) -> tuple[pd.DataFrame, int]:
    """Every Table 1 probe of the run again, each trained on a seeded draw of
    ``n_labels`` labelled training subjects (``evaluate.probe.train_labels``; validation
    and test unchanged), on the run's own embeddings: the predictions land in
    ``{results}/labels{n}/`` (kept: a later call trains only what is missing). Returns
    their paired-bootstrap Δ table and how many probe jobs this call trained."""
    from ecgcmr.config import BASELINE
    from ecgcmr.evaluate.compare import deltas_table, read_gates
    from ecgcmr.evaluate.probe import read_predictions, run_probes
    from ecgcmr.evaluate.tables import TABLE1_TARGETS
    from ecgcmr.paths import Paths
    from ecgcmr.specs import split_run

    results = REPO / results
    P, ev = Paths(str(results)), cfg["evaluate"]
    targets = [t for t in TABLE1_TARGETS if t in ev["targets"]]
    hp = {**ev["probe"], "train_labels": n_labels}
    out = Path(results, f"labels{n_labels}")
    files, trained = [], 0
    reps = ev["representations"]
    for emb in sorted(Path(results, "embeddings").glob("*.parquet")):
        rep = emb.stem
        if split_run(rep)[0] not in reps:
            continue
        for seed in ev["seeds"]:
            pred = out / rep / f"predictions_seed{seed}.parquet"
            if not pred.is_file():
                run_probes(emb, P.targets, P.splits, targets, seed, split_run(rep)[0], "paired_split", hp,
                           [out / rep / t / f"seed{seed}.json" for t in targets],
                           [out / rep / t / f"seed{seed}.pt" for t in targets],
                           P.ecg_index, pred, train_seed=split_run(rep)[1])
                trained += 1
            files.append(pred)
    arms = [r for r in reps if r != BASELINE]
    table = deltas_table(read_predictions(files), arms, BASELINE, targets,
                         read_gates(Path(results, "tables", "gates.csv")), cfg["compare"]["n_boot"],
                         cfg["compare"]["seed"], compare_pairs(cfg))
    return table, trained


def improvement(ours: pd.DataFrame, targets: list[str]) -> dict:
    """Change of dual-phase over baseline per target and on average, absolute and
    relative (%), the paper's "average ↑ 9.2 % over baseline ECG" (whether it is real is
    :func:`bootstrap_answer`'s)."""
    if not {"baseline", "dual_phase"} <= set(ours.index):
        return {"available": False}
    rel = {t: 100 * (ours.loc["dual_phase", t] - ours.loc["baseline", t]) / abs(ours.loc["baseline", t])
           for t in targets if np.isfinite(ours.loc[["dual_phase", "baseline"], t]).all()}
    diff = {t: ours.loc["dual_phase", t] - ours.loc["baseline", t] for t in rel}
    return {"available": True, "per_target_relative_pct": rel, "per_target_abs": diff,
            "mean_relative_pct": float(np.mean(list(rel.values()))) if rel else float("nan"),
            "mean_abs": float(np.mean(list(diff.values()))) if diff else float("nan"),
            "wins": int(sum(v > 0 for v in diff.values())), "n": len(diff)}


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def bootstrap_answer(deltas: pd.DataFrame, gates: pd.DataFrame, arm: str = "dual_phase",
                     reference: str = "baseline") -> dict:
    """The pipeline's paired-bootstrap Δ of ``arm`` − ``reference`` per block and per
    target (tables/deltas.csv) and the gates of both (tables/gates.csv): what the run
    may conclude."""
    mine = deltas[(deltas["arm"] == arm) & (deltas["baseline"] == reference)]
    keys = ("delta", "lo", "hi", "verdict", "conclusion", "n_test", "n_train_seeds_arm", "n_seeds_arm",
            "arm_value", "baseline_value")
    table = lambda rows: {t: {k: _plain(r[k]) for k in keys} for t, r in rows.set_index("target").iterrows()}
    own = gates[gates["variant"].isin([arm, reference])]
    return {"arm": arm, "reference": reference,
            "blocks": table(mine[mine["kind"] == "group"]), "targets": table(mine[mine["kind"] == "target"]),
            "gates": [{k: _plain(r[k]) for k in ("variant", "gate", "value", "threshold", "direction", "passed")}
                      for _, r in own.iterrows()]}


def headroom(results: Path, synth: dict, deltas: pd.DataFrame, arm: str = "dual_phase",
             n_reference: int = 20_000) -> dict:
    """The ECG-only ceilings of the run's cohort (``ecgcmr.synth.ceilings``) on the
    baseline's test subjects, and the share of headroom ``arm`` captured per target,
    Δ / (ceiling − baseline), and over the functional block (its mean Δ over the mean
    room). Empty when the run has no synthetic truth."""
    truth = results / "raw" / "truth" / "latents.parquet"
    preds = sorted((results / "probes" / "baseline").glob("predictions_seed*.parquet"))
    if not truth.is_file() or not preds:
        return {}
    observed = pd.read_parquet(preds[0])
    if "train_seed" in observed:
        observed = observed[observed["train_seed"] == observed["train_seed"].min()]
    generator = {"prevalence": synth.get("outcome_prevalence"), "ecg_contractility": synth["ecg_contractility"]}
    ceil = ecg_ceilings(pd.read_parquet(truth), observed[["eid", "target", "y_true"]], generator,
                        n_reference).set_index("target")
    # the Δ and the baseline it is of, pooled as the paired bootstrap pools them (AUROC 0-1)
    d = deltas[(deltas["arm"] == arm) & (deltas["baseline"] == "baseline")
               & (deltas["kind"] == "target")].set_index("target")
    rows = {}
    for t in [t for t in ORDER if t in ceil.index]:
        base, delta = (float(d.loc[t, "baseline_value"]), float(d.loc[t, "delta"])) if t in d.index \
            else (float("nan"), float("nan"))
        rows[t] = {"metric": ceil.loc[t, "metric"], "ceiling": float(ceil.loc[t, "ceiling"]), "baseline": base,
                   "delta": delta, "share": headroom_share(delta, base, float(ceil.loc[t, "ceiling"]))}
    func = [t for t in FUNCTIONAL if t in rows and np.isfinite(rows[t]["delta"])]
    block = {}
    if func:
        room = np.mean([rows[t]["ceiling"] - rows[t]["baseline"] for t in func])
        delta = float(np.mean([rows[t]["delta"] for t in func]))
        block = {"targets": func, "mean_room": float(room), "mean_delta": delta,
                 "share": float(delta / room) if room > 0 else float("nan")}
    return {"arm": arm, "n_reference": n_reference, "targets": rows, "functional": block}


def headroom_md(h: dict) -> str:
    if not h:
        return ""
    rows = "".join(f"| {t} | {r['metric']} | {r['ceiling']:.3f} | {r['baseline']:.3f} | {r['delta']:+.3f} | "
                   f"{100 * r['share']:+.0f} % |\n" for t, r in h["targets"].items())
    f = h["functional"]
    tail = (f"\nFunctional block: mean Δ {f['mean_delta']:+.3f} of a mean room of {f['mean_room']:.3f} "
            f"(ceiling − baseline): {100 * f['share']:+.0f} % of the headroom.\n") if f else ""
    return ("\n## Headroom: what an ECG-only predictor could reach here (ecgcmr.synth.ceilings)\n\n"
            f"Ceiling: gradient boosting on the ECG waveform's generating variables, trained on "
            f"{h['n_reference']:,} fresh subjects of the same generator, scored on the baseline's test "
            f"subjects (R²; outcomes AUROC, 0-1, as in tables/deltas.csv). Baseline and Δ: tables/deltas.csv. Share: Δ({h['arm']} − baseline) / (ceiling − baseline).\n\n"
            "| target | metric | ceiling | baseline | Δ | share of headroom |\n|---|---|---|---|---|---|\n"
            + rows + tail)


def paper_improvement(targets: list[str], relative: bool = True) -> float:
    d = [PAPER.loc["dual_phase", t] - PAPER.loc["baseline", t] for t in targets]
    if relative:
        d = [100 * x / PAPER.loc["baseline", t] for x, t in zip(d, targets)]
    return float(np.mean(d))


def fmt_table(mean: pd.DataFrame, ci: tuple[pd.DataFrame, pd.DataFrame] | None, cols: list[str],
              names: dict[str, str], decimals: int = 3) -> str:
    """Markdown: "mean [lo, hi]" (the cell's 95 % interval) where ``ci`` is given."""
    head = "| Model | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 1) + "\n"
    rows = []
    for r in mean.index:
        cells = []
        for c in cols:
            m = mean.loc[r, c]
            lo, hi = (np.nan, np.nan) if ci is None else (ci[0].loc[r, c], ci[1].loc[r, c])
            s = f" [{lo:.{decimals}f}, {hi:.{decimals}f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
            cells.append("n/a" if not np.isfinite(m) else f"{m:.{decimals}f}{s}")
        rows.append(f"| {names.get(r, r)} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def block_rows(answer: dict) -> str:
    return "".join(f"| {g} | {b['delta']:+.3f} | [{b['lo']:+.3f}, {b['hi']:+.3f}] | {b['verdict']} | "
                   f"{b['conclusion']} | {b['n_test']} |\n" for g, b in answer["blocks"].items())


def blocks_md(title: str, answer: dict) -> str:
    if not answer["blocks"]:
        return f"\n### {title}\n\nNot computed (an arm is missing).\n"
    return (f"\n### {title}\n\n| block | Δ | 95 % interval | verdict | conclusion | n test |\n"
            "|---|---|---|---|---|---|\n" + block_rows(answer))


def gates_md(gates: pd.DataFrame) -> str:
    rows = "".join(f"| {r.variant} | {r.gate} | {r.value:.4g} | {r.direction} {r.threshold:.4g} | "
                   f"{'yes' if r.passed else 'no'} |\n" for r in gates.itertuples())
    return "| arm | gate | value | passes when | passed |\n|---|---|---|---|---|\n" + rows


def cohort_summary(results: Path, cfg: dict) -> dict:
    from ecgcmr.config import mae_runs

    splits = pd.read_parquet(results / "splits.parquet", columns=["paired", "paired_split", "pretrain", "has_ecg"])
    paired = splits[splits["paired"]]
    align_seed = cfg["align"]["seed"]
    return {"pairs": {s: int((paired["paired_split"] == s).sum()) for s in ("train", "val", "test")},
            "labelled_ecg_only_test": int(((~splits["paired"]) & (splits["paired_split"] == "test")).sum()),
            "ecg_pretrain_train": int((splits["pretrain"] == "train").sum()),
            "train_seeds": [align_seed + k for k in range(cfg["evaluate"]["train_seeds"])],
            "mae_train_seeds": [cfg["pretrain_ecg"]["seed"] + k for k in range(mae_runs(cfg))]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "config" / "science.yaml"))
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-run", action="store_true", help="only read the runs' existing tables")
    ap.add_argument("--no-negative-control", action="store_true", help="skip the negative-control cohort")
    ap.add_argument("--label-budget", type=int, default=100, help="labelled training subjects of the "
                    "label-efficiency probes (0: none)")
    ap.add_argument("--negative-arms", nargs="+", default=["dual_phase"],
                    help="arms of the negative-control run beside the baseline")
    args = ap.parse_args()
    config = Path(args.config).resolve()
    cfg = load_config(config)
    if len(cfg["evaluate"]["seeds"]) < 3:
        ap.error(f"{config}: use at least 3 probe seeds (evaluate.seeds)")
    results = cfg["results_dir"]
    runs = {"main": {"config": [config], "results": results, "cfg": cfg}}
    if not args.no_negative_control:
        neg_path, neg_results = negative_control(config, cfg, args.negative_arms)
        runs["negative_control"] = {"config": [config, neg_path], "results": neg_results,
                                    "cfg": merged(cfg, yaml.safe_load(neg_path.read_text()))}
    runtime = {}
    for name, r in runs.items():
        if not args.skip_run:
            runtime[name] = run_pipeline(r["config"], r["results"], args.cores)
    started, load = time.time(), os.getloadavg()[0]
    budget = None
    if args.label_budget:
        budget, trained = label_budget(results, cfg, args.label_budget)
        if trained and not args.skip_run:   # wall time of the probe jobs this call trained
            runtime["label_budget"] = {"wall_s": round(time.time() - started, 1), "cores": 1,
                                       "load_average_at_start": round(load, 2)}

    tables = REPO / results / "tables"
    t1 = pd.read_csv(tables / "table1.csv").set_index("representation")
    cols = [c for c in ORDER if f"{c}_mean" in t1]
    wide = {v: t1[[f"{c}_{v}" for c in cols]].set_axis(cols, axis=1) for v in ("mean", "lo", "hi")}
    mean = wide["mean"]
    names = t1["name"].to_dict()   # the run's display labels (its config's)
    deltas, gates = pd.read_csv(tables / "deltas.csv"), pd.read_csv(tables / "gates.csv")
    arms = [a for a in cfg["evaluate"]["representations"] if a != "baseline"]
    answers = {f"{a} - baseline": bootstrap_answer(deltas, gates, a) for a in arms}
    for a, b in compare_pairs(cfg):
        answers[f"{a} - {b}"] = bootstrap_answer(deltas, gates, a, b)
    primary = answers.get("dual_phase - baseline", {"blocks": {}})
    neg = None
    if "negative_control" in runs:
        nt = REPO / runs["negative_control"]["results"] / "tables"
        if (nt / "deltas.csv").is_file():
            neg = bootstrap_answer(pd.read_csv(nt / "deltas.csv"), pd.read_csv(nt / "gates.csv"))
            neg["gates_table"] = pd.read_csv(nt / "gates.csv")
    low = bootstrap_answer(budget, gates) if budget is not None else None
    room = headroom(REPO / results, cfg["synth"], deltas)
    func = [c for c in FUNCTIONAL if c in cols]
    vol = [c for c in VOLUMETRIC if c in cols]
    cohort = cohort_summary(REPO / results, cfg)

    f = primary["blocks"].get("functional")
    if f is not None:
        answer = (f"Primary endpoint Δ_func (dual-phase − baseline, mean R² over {', '.join(func)}): "
                  f"{f['delta']:+.3f} [95 % {f['lo']:+.3f}, {f['hi']:+.3f}] over {f['n_train_seeds_arm']} alignment "
                  f"seed(s) × probe seeds and {f['n_test']} test subjects: {f['verdict']}; what the run may "
                  f"conclude: {f['conclusion']} (paper Table 1: {paper_improvement(FUNCTIONAL, relative=False):+.3f}).")
    else:
        answer = "The run has no baseline and dual-phase rows for the functional phenotypes: no answer."
    summary = {"config": str(config.relative_to(REPO)) if config.is_relative_to(REPO) else str(config),
               "results": results, "cores": args.cores, "runtime": runtime or None, "cohort": cohort,
               "answer": answer, "comparisons": answers, "negative_control": None if neg is None else
               {k: v for k, v in neg.items() if k != "gates_table"},
               "label_budget": None if low is None else {"n_labels": args.label_budget, **low},
               "gates": gates.to_dict("records"), "headroom": room,
               "functional": improvement(mean, func), "volumetric": improvement(mean, vol),
               "paper_functional_mean_abs": paper_improvement(FUNCTIONAL, relative=False),
               "paper_volumetric_mean_abs": paper_improvement(VOLUMETRIC, relative=False)}
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "science.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")

    ci = (wide["lo"], wide["hi"])
    p = cohort["pairs"]
    took = "; ".join(f"{k} {v['wall_s'] / 60:.0f} min on {v['cores']} core(s) (load average at start "
                     f"{v['load_average_at_start']:.1f})" for k, v in runtime.items()) \
        if runtime else "tables read from existing runs"
    md = [f"# Science run: {summary['config']}\n\n", f"**Answer.** {answer}\n\n",
          f"Cohort: {p['train']}/{p['val']}/{p['test']} ECG-CMR pairs (train/val/test), "
          f"{cohort['labelled_ecg_only_test']} labelled ECG-only test subjects, {cohort['ecg_pretrain_train']} ECGs "
          f"in MAE training. Alignment seeds {cohort['train_seeds']} from MAE seed(s) {cohort['mae_train_seeds']}; "
          f"probe seeds {cfg['evaluate']['seeds']}. Runtime: {took}.\n\n",
          "## Gates (fixed before the run; docs/statistics.md)\n\n", gates_md(gates),
          "\nA failed gate makes an arm's comparison *not informative*, never *no effect*.\n",
          "\n## Comparisons (paired bootstrap: alignment seeds × probe seeds, then test subjects; tables/deltas.csv)\n"]
    md += [blocks_md(k.replace(" - ", " − "), a) for k, a in answers.items()]
    t = primary.get("targets", {})
    if t:
        md.append("\n### Dual-phase − baseline per target\n\n| target | dual-phase | baseline | Δ [95 % CI] | verdict |\n"
                  "|---|---|---|---|---|\n" + "".join(
                      f"| {k} | {v['arm_value']:.3f} | {v['baseline_value']:.3f} | {v['delta']:+.3f} "
                      f"[{v['lo']:+.3f}, {v['hi']:+.3f}] | {v['verdict']} |\n" for k, v in t.items()
                      if v["delta"] == v["delta"]))
    if neg is not None:
        md.append("\n## Negative control: the same design, ECG blind to contractility (expected Δ_func 0)\n")
        md.append(blocks_md(f"dual-phase − baseline ({runs['negative_control']['results']})", neg))
        md.append("\n" + gates_md(neg["gates_table"][neg["gates_table"]["variant"] == "dual_phase"]))
    if low is not None:
        md.append(f"\n## {args.label_budget} labelled training subjects per probe (label-efficiency regime)\n")
        md.append(blocks_md(f"dual-phase − baseline, {args.label_budget} labels", low))
        for a, b in [(x, y) for x, y in [("label_control", "baseline"), ("dual_phase", "label_control")]
                     if {x, y} <= set(cfg["evaluate"]["representations"])]:
            md.append(blocks_md(f"{a} − {b}, {args.label_budget} labels", bootstrap_answer(budget, gates, a, b)))
    md += [headroom_md(room),
           "\n## Table 1 (ours, synthetic cohort; mean [95 % interval])\n\n",
           fmt_table(mean, ci, [c for c in cols if c in PHENOTYPES], names), "\n",
           fmt_table(mean, ci, [c for c in cols if c in OUTCOMES], names),
           "\n## Paper (UK Biobank, Table 1 means)\n\n",
           fmt_table(PAPER.loc[[r for r in PAPER.index if r in mean.index]], None, list(PHENOTYPES), names),
           "\nThe synthetic cohort's ECG sees the heart only through a few latent factors (the headroom "
           "section), so absolute values are not comparable with UK Biobank; the comparison is of the "
           "direction and size of the alignment effect, and only where the gates pass.\n"]
    (out / "science.md").write_text("".join(md))
    print("".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())

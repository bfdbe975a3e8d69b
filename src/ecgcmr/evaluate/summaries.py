"""Run summaries for the report: exclusions by stage and reason, and the cost
(wall time, peak memory) of every rule from Snakemake's benchmark files and of the
bench/ scripts."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .. import exclusions as excl  # noqa: E402

log = logging.getLogger(__name__)


def exclusions_summary(exclusions_csv: str | Path, out_csv: str | Path, out_png: str | Path) -> pd.DataFrame:
    """Subjects excluded per (stage, reason), as a table and a horizontal bar chart."""
    df = excl.read(exclusions_csv)
    counts = (df.groupby(["stage", "reason"]).agg(n_subjects=("eid", "nunique"), n_rows=("eid", "size"))
              .reset_index().sort_values(["stage", "n_subjects"], ascending=[True, False]))
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    counts.to_csv(out_csv, index=False)
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(counts), 1) + 1.2))
    if counts.empty:
        ax.text(0.5, 0.5, "no subject was excluded", ha="center", va="center")
        ax.axis("off")
    else:
        labels = [f"{s}: {r}" for s, r in zip(counts["stage"], counts["reason"])]
        stages = list(dict.fromkeys(counts["stage"]))
        colours = [plt.cm.tab10(stages.index(s) % 10) for s in counts["stage"]]
        ax.barh(range(len(counts)), counts["n_subjects"], color=colours)
        ax.set_yticks(range(len(counts)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("subjects excluded")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return counts


def _rule_of(stem: str, rules: Sequence[str]) -> str:
    """Benchmark files are ``{rule}{suffix}.tsv`` (ecgcmr.paths.Paths.benchmark): the
    rule is the longest rule name the stem starts with."""
    matches = [r for r in rules if stem == r or stem.startswith(r + "_") or stem.startswith(r + ".")]
    return max(matches, key=len) if matches else stem


def benchmark_summary(benchmark_dir: str | Path, rules: Sequence[str], out_csv: str | Path,
                      out_png: str | Path, bench_results_dir: str | Path | None = None) -> pd.DataFrame:
    """Wall time and peak RSS per rule (sum and max over its jobs) from Snakemake's
    benchmark TSVs, plus any bench/results/*.json measurements (listed, not plotted)."""
    rows = []
    for tsv in sorted(Path(benchmark_dir).rglob("*.tsv")):
        try:
            b = pd.read_csv(tsv, sep="\t", na_values=["-", "NA"])
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
            log.warning("unreadable benchmark %s: %s", tsv, err)
            continue
        if b.empty or "s" not in b:
            continue
        rel = tsv.relative_to(benchmark_dir).with_suffix("")
        rows.append({"rule": _rule_of(rel.parts[0] if len(rel.parts) > 1 else rel.name, rules), "job": str(rel),
                     "s": float(b["s"].iloc[-1]), "max_rss_mb": float(b.get("max_rss", pd.Series([float("nan")])).iloc[-1])})
    jobs = pd.DataFrame(rows, columns=["rule", "job", "s", "max_rss_mb"])
    per_rule = (jobs.groupby("rule").agg(jobs=("job", "size"), total_s=("s", "sum"), max_s=("s", "max"),
                                         max_rss_mb=("max_rss_mb", "max"))
                .reset_index().sort_values("total_s", ascending=False))
    bench = []
    if bench_results_dir and Path(bench_results_dir).is_dir():
        for js in sorted(Path(bench_results_dir).glob("*.json")):
            try:
                bench.append({"bench": js.stem, "result": json.dumps(json.loads(js.read_text()))[:500]})
            except (OSError, ValueError) as err:
                log.warning("unreadable bench result %s: %s", js, err)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    per_rule.to_csv(out_csv, index=False)
    if bench:
        pd.DataFrame(bench).to_csv(Path(out_csv).with_name(Path(out_csv).stem + "_bench_scripts.csv"), index=False)

    fig, axes = plt.subplots(1, 2, figsize=(11, 0.3 * max(len(per_rule), 1) + 1.5), sharey=True)
    if per_rule.empty:
        for ax in axes:
            ax.axis("off")
        axes[0].text(0.5, 0.5, "no benchmark files yet", ha="center", va="center")
    else:
        y = range(len(per_rule))
        axes[0].barh(y, per_rule["total_s"], color="tab:blue")
        axes[0].set_xlabel("wall time, all jobs [s]")
        axes[0].set_yticks(list(y), [f"{r} ({n})" for r, n in zip(per_rule["rule"], per_rule["jobs"])], fontsize=8)
        axes[0].invert_yaxis()
        axes[1].barh(y, per_rule["max_rss_mb"], color="tab:orange")
        axes[1].set_xlabel("peak RSS of one job [MB]")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return per_rule


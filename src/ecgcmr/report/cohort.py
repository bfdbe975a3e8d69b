"""The cohort as a clinician reads it: how many subjects reach each stage and why the
others left (flow), and who they are per split (baseline characteristics).

Counts come from ``splits.parquet`` (who has raw ECG and CMR files, who is paired with
tables, which split) and ``exclusions.csv`` (who each stage left out, with the reason);
a subject is counted once per stage however many of its files failed there.
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..phenotypes import OUTCOMES, PHENOTYPES  # noqa: E402

# lane -> [(stage name in exclusions.csv, box label after it)], in data order
LANES = {
    "ECG": [("ingest_ecg", "ECG read and filtered"), ("ecg_index", "ECG in the cache")],
    "CMR": [("ingest_cmr", "CMR cine read"), ("segment", "CMR segmented"), ("crop", "ED/ES heart crops")],
}
RAW = {"ECG": ("has_ecg", "ECG files (field 20205)"), "CMR": ("has_cmr", "CMR zips (field 20209)")}
SPLITS = ("train", "val", "test")


def flow_counts(splits: pd.DataFrame, exclusions: pd.DataFrame) -> pd.DataFrame:
    """One row per box: lane, step, label, n, excluded (n left at this step) and the
    reasons (``reason: n`` list)."""
    splits = splits.assign(eid=splits["eid"].astype(str))
    ex = exclusions.assign(eid=exclusions["eid"].astype(str))
    rows = []
    for lane, steps in LANES.items():
        col, label = RAW[lane]
        alive = set(splits.loc[splits[col].astype(bool), "eid"])
        rows.append({"lane": lane, "step": 0, "label": label, "n": len(alive), "excluded": 0, "reasons": ""})
        for i, (stage, label) in enumerate(steps, 1):
            gone = ex[(ex["stage"] == stage) & ex["eid"].isin(alive)].drop_duplicates("eid")
            alive -= set(gone["eid"])
            reasons = "; ".join(f"{r}: {n}" for r, n in gone["reason"].value_counts().items())
            rows.append({"lane": lane, "step": i, "label": label, "n": len(alive),
                         "excluded": len(gone), "reasons": reasons})
    tables_out = ex[ex["stage"] == "ingest_tables"].drop_duplicates("eid")
    paired = splits[splits["paired"].astype(bool)]
    lost = lost_eids(ex)
    usable = paired[~paired["eid"].isin(lost)]
    rows.append({"lane": "Paired", "step": 0, "label": "ECG + CMR + tables (paired)", "n": len(paired),
                 "excluded": len(tables_out),
                 "reasons": "; ".join(f"{r}: {n}" for r, n in tables_out["reason"].value_counts().items())})
    rows.append({"lane": "Paired", "step": 1, "label": "paired, every stage passed", "n": len(usable),
                 "excluded": len(paired) - len(usable), "reasons": "left at an ECG or CMR stage above"})
    for i, s in enumerate(SPLITS, 2):
        rows.append({"lane": "Paired", "step": i, "label": f"paired {s}", "n": int((usable["paired_split"] == s).sum()),
                     "excluded": 0, "reasons": ""})
    only = splits[splits["has_ecg"].astype(bool) & ~splits["paired"].astype(bool) & ~splits["eid"].isin(lost)]
    # splits.labelled_ecg_test: ECG + phenotypes without a CMR file, Table 1 test only
    labelled = only["paired_split"] == "test"
    for i, s in enumerate(SPLITS, 5):
        rows.append({"lane": "Paired", "step": i, "label": f"ECG-only pretraining {s}",
                     "n": int((only.loc[~labelled, "pretrain"] == s).sum()), "excluded": 0, "reasons": ""})
    if labelled.any():
        rows.append({"lane": "Paired", "step": 5 + len(SPLITS), "label": "labelled ECG-only (Table 1 test)",
                     "n": int(labelled.sum()), "excluded": 0, "reasons": ""})
    return pd.DataFrame(rows)


def lost_eids(exclusions: pd.DataFrame) -> set[str]:
    """Subjects an ECG or CMR stage left out: they are in no model's data."""
    stages = [s for steps in LANES.values() for s, _ in steps]
    return set(exclusions.loc[exclusions["stage"].isin(stages), "eid"].astype(str))


def plot_cohort_flow(counts: pd.DataFrame, path: str | Path) -> None:
    """ECG and CMR lanes top-down, each arrow labelled with who left there and why;
    then the paired cohort and its splits."""
    fig, ax = plt.subplots(figsize=(11, 7.5))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    box = {"boxstyle": "round,pad=0.4", "fc": "#eef4fb", "ec": "#4a78a8"}
    x_of = {"ECG": 0.14, "CMR": 0.56}
    step_h = 0.14
    bottom = 1.0
    for lane, x in x_of.items():
        lane_rows = counts[counts["lane"] == lane].sort_values("step")
        for _, r in lane_rows.iterrows():
            y = 0.95 - r["step"] * step_h
            ax.text(x, y, f"{r['label']}\nn = {r['n']}", ha="center", va="center", fontsize=9, bbox=box)
            if r["step"]:
                ax.annotate("", (x, y + 0.03), (x, y + step_h - 0.03), arrowprops={"arrowstyle": "->"})
                if r["excluded"]:
                    ax.text(x + 0.1, y + step_h / 2, _wrap(f"excluded {r['excluded']}: {r['reasons']}"),
                            ha="left", va="center", fontsize=8, color="#a33")
            bottom = min(bottom, y)
    paired = counts[counts["lane"] == "Paired"].set_index("step")
    y0 = bottom - 0.15
    ax.text(0.35, y0, f"{paired.loc[0, 'label']}: n = {paired.loc[0, 'n']}\n"
            f"{paired.loc[1, 'label']}: n = {paired.loc[1, 'n']}", ha="center", va="center", fontsize=9, bbox=box)
    for x in x_of.values():
        ax.annotate("", (0.35, y0 + 0.04), (x, bottom - 0.04), arrowprops={"arrowstyle": "->", "color": "0.5"})
    if paired.loc[0, "excluded"]:
        ax.text(0.62, y0, _wrap(f"no usable phenotype/outcome tables {paired.loc[0, 'excluded']}: "
                                f"{paired.loc[0, 'reasons']}"), fontsize=7, color="#a33", va="center")
    split_text = "   ".join(f"{paired.loc[i, 'label'].removeprefix('paired ')} {paired.loc[i, 'n']}" for i in (2, 3, 4))
    only_text = "   ".join(f"{paired.loc[i, 'label'].split()[-1]} {paired.loc[i, 'n']}" for i in (5, 6, 7))
    ax.text(0.35, y0 - 0.13, f"paired splits (alignment, probes): {split_text}\n"
            f"ECG-only subjects (MAE pretraining): {only_text}", ha="center", va="center", fontsize=9,
            bbox={**box, "fc": "#f4f8ee", "ec": "#5a8a3a"})
    ax.annotate("", (0.35, y0 - 0.09), (0.35, y0 - 0.04), arrowprops={"arrowstyle": "->"})
    ax.set_ylim(y0 - 0.2, 1.0)
    fig.set_size_inches(11, 7.5 * (1.2 - y0) / 1.0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _wrap(text: str, width: int = 48) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:6])


def _mean_sd(v: pd.Series, decimals: int = 1) -> str:
    v = pd.to_numeric(v, errors="coerce").dropna()
    return "–" if v.empty else f"{v.mean():.{decimals}f} ± {v.std(ddof=1) if len(v) > 1 else 0:.{decimals}f}"


def _count_pct(v: pd.Series) -> str:
    v = pd.to_numeric(v, errors="coerce").dropna()
    return "–" if v.empty else f"{int((v == 1).sum())} ({100 * (v == 1).mean():.1f} %)"


def baseline_table(targets: pd.DataFrame, splits: pd.DataFrame, exclusions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows: characteristics; columns: paired train/val/test and ECG-only subjects,
    less those an ECG or CMR stage excluded (the subjects the models saw, as the flow's
    last box). Mean ± SD for continuous values, n (%) for sex and outcomes (of those
    labelled)."""
    t = targets.assign(eid=targets["eid"].astype(str)).set_index("eid")
    s = splits.assign(eid=splits["eid"].astype(str))
    if exclusions is not None:
        s = s[~s["eid"].isin(lost_eids(exclusions))]
    paired = s["paired"].astype(bool)
    groups = {f"paired {k}": s.loc[paired & (s["paired_split"] == k), "eid"] for k in SPLITS}
    only = s["has_ecg"].astype(bool) & ~paired
    labelled = only & (s["paired_split"] == "test")   # splits.labelled_ecg_test
    if labelled.any():
        groups["labelled ECG-only test"] = s.loc[labelled, "eid"]
    groups["ECG only"] = s.loc[only & ~labelled, "eid"]
    cols = {}
    for name, eids in groups.items():
        g = t.reindex([e for e in eids if e in t.index])
        col = {"n": str(len(eids)), "age [years]": _mean_sd(g.get("age", pd.Series(dtype=float))),
               "male, n (%)": _count_pct(g.get("sex", pd.Series(dtype=float)))}
        for p, (desc, unit) in PHENOTYPES.items():
            col[f"{p} [{unit}] ({desc})"] = _mean_sd(g[p]) if p in g else "–"
        for o, desc in OUTCOMES.items():
            col[f"{o} ({desc}), n (%)"] = _count_pct(g[o]) if o in g else "–"
        cols[name] = col
    return pd.DataFrame(cols)


def baseline_html(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", *table.columns])
    body = "".join("<tr><th style='text-align:left'>" + html.escape(i) + "</th>"
                   + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                   for i, row in zip(table.index, table.to_numpy()))
    style = ("<style>body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse}"
             " td,th{border:1px solid #ccc;padding:3px 6px;text-align:right} th{background:#f4f4f4}</style>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Baseline characteristics</title>{style}"
            f"</head><body><h2>Baseline characteristics per split</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></body></html>\n")


def write_cohort_report(splits: str | Path, exclusions: str | Path, targets: str | Path,
                        flow_png: str | Path, flow_csv: str | Path, baseline: str | Path) -> None:
    from .. import exclusions as excl

    s, ex = pd.read_parquet(splits), excl.read(exclusions)
    counts = flow_counts(s, ex)
    Path(flow_csv).parent.mkdir(parents=True, exist_ok=True)
    counts.to_csv(flow_csv, index=False)
    plot_cohort_flow(counts, flow_png)
    table = baseline_table(pd.read_parquet(targets), s, ex)
    Path(baseline).write_text(baseline_html(table))

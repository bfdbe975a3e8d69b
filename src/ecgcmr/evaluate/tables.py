"""The paper's Tables 1-3 from the probe results and the encoders, as CSV (numbers),
Markdown (best **bold**, second <u>underlined</u>, as the paper, but only where the
paired interval supports the rank: :mod:`.cells`) and HTML (for the Snakemake report,
which shows HTML inline but offers CSV/Markdown only as downloads). A Table 1/2 cell is
the mean over every training run's probe seeds with its 95 % interval (:mod:`.cells`).

Only what was run is shown: a representation or ViT size without probe results is
left out, never filled in.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..phenotypes import FUNCTIONAL, OUTCOMES, VOLUMETRIC
from ..specs import VIT_SIZES as SIZE_TABLE
from .cells import cell_replicates, intervals, supported_marks
from .stats import LEVEL, N_BOOT

log = logging.getLogger(__name__)

# Table 2/3 rows in Table 3's order: the size table's keys
VIT_SIZES = list(SIZE_TABLE)
# Table 2 columns: target -> header
TABLE2_COLUMNS = {"sex": "Sex AUC [%]", "age": "Age R²", "qrs_num": "Number of QRS in ECG R²",
                  "qrs_duration": "QRS duration R²"}
TABLE1_TARGETS = list(VOLUMETRIC) + list(FUNCTIONAL) + list(OUTCOMES)


def collect_results(paths: Iterable[str | Path]) -> pd.DataFrame:
    """All probe results, one row per (representation, target, training run, probe
    seed). AUROC is kept as a fraction here; tables show it in percent like the paper."""
    from .probe import read_result  # torch: not needed when the Snakefile imports the names above

    rows = [read_result(p) for p in paths]
    cols = ["representation", "target", "train_seed", "seed", "task", "metric", "value", "reason",
            "n_train", "n_val", "n_test", "n_test_positive", "best_epoch"]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """mean, std (over the models with a value: every training run's probe seeds),
    n_seeds (those models), n_train_seeds (the training runs) and n_nan per
    (representation, target)."""
    def agg(g: pd.DataFrame) -> pd.Series:
        v = g["value"].astype(float)
        scale = 100.0 if g["metric"].iloc[0] == "auroc" else 1.0
        ok = v[np.isfinite(v)] * scale
        reasons = sorted({r for r in g["reason"] if r})
        return pd.Series({"metric": g["metric"].iloc[0],
                          "mean": ok.mean() if len(ok) else math.nan,
                          # population SD over seeds (ddof=0), as the authors' np.std
                          "std": ok.std(ddof=0) if len(ok) else math.nan,
                          "n_seeds": len(v), "n_train_seeds": g["train_seed"].nunique(),
                          "n_nan": int((~np.isfinite(v)).sum()),
                          "reason": "; ".join(reasons)})
    if results.empty:
        return pd.DataFrame(columns=["representation", "target", "metric", "mean", "std", "n_seeds",
                                     "n_train_seeds", "n_nan", "reason"])
    return (results.groupby(["representation", "target"], sort=False)[["metric", "value", "reason", "train_seed"]]
            .apply(agg).reset_index())


def _wide(summary: pd.DataFrame, rows: Sequence[str], columns: Sequence[str], value: str = "mean") -> pd.DataFrame:
    """``value`` as a wide frame (rows = representations, columns = targets) restricted
    to the rows/columns that have results."""
    present_rows = [r for r in rows if r in set(summary["representation"])]
    wide = summary.pivot(index="representation", columns="target", values=value).reindex(present_rows)
    return wide[[c for c in columns if c in wide.columns]].astype(float)


def cell_intervals(results: pd.DataFrame, prediction_files: Sequence[str | Path], representations: Sequence[str],
                   targets: Sequence[str], n_boot: int, seed: int, level: float) -> tuple[pd.DataFrame, dict]:
    """The summary of ``results`` with each cell's lo/hi (in the table's units: AUROC
    in percent), and the paired replicates behind the marks."""
    from .probe import read_predictions  # torch: not needed when the Snakefile imports the names above

    boot = cell_replicates(read_predictions(list(prediction_files)), representations, targets, n_boot, seed)
    summary = summarise(results).merge(intervals(boot, level), on=["representation", "target"], how="left")
    scale = np.where(summary["metric"] == "auroc", 100.0, 1.0)
    summary["lo"], summary["hi"] = summary["lo"] * scale, summary["hi"] * scale
    return summary, boot


def _cell(m: float, lo: float, hi: float, decimals: int) -> str:
    if not np.isfinite(m):
        return "n/a"
    interval = f" [{lo:.{decimals}f}, {hi:.{decimals}f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{m:.{decimals}f}{interval}"


def format_table(mean: pd.DataFrame, lo: pd.DataFrame, hi: pd.DataFrame, marks: pd.DataFrame, decimals: int,
                 row_names: dict[str, str], headers: dict[str, str] | None = None,
                 footer: dict[str, str] | None = None) -> tuple[str, str]:
    """(Markdown, HTML): each cell "mean [lo, hi]", a 'best' mark bold and a 'second'
    underlined; ``footer`` (column -> text) adds a last row (the n each score rests on)."""
    headers = headers or {}
    head = ["Model"] + [headers.get(c, c) for c in mean.columns]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows_html = []
    for r in mean.index:
        cells_md, cells_html = [], []
        for c in mean.columns:
            text = _cell(mean.loc[r, c], lo.loc[r, c], hi.loc[r, c], decimals)
            mark = marks.loc[r, c]
            cells_md.append(f"**{text}**" if mark == "best" else f"<u>{text}</u>" if mark == "second" else text)
            t = html.escape(text)
            cells_html.append(f"<b>{t}</b>" if mark == "best" else f"<u>{t}</u>" if mark == "second" else t)
        name = row_names.get(r, r)
        md.append("| " + " | ".join([name] + cells_md) + " |")
        rows_html.append("<tr><th>" + html.escape(name) + "</th>" + "".join(f"<td>{c}</td>" for c in cells_html) + "</tr>")
    if footer:
        cells = [footer.get(c, "") for c in mean.columns]
        md.append("| " + " | ".join([N_ROW] + cells) + " |")
        rows_html.append(f"<tr class='n'><th>{N_ROW}</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    table_html = ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
                  + "".join(rows_html) + "</tbody></table>")
    return "\n".join(md) + "\n", table_html


def cells_note(summary: pd.DataFrame, n_boot: int, level: float) -> str:
    """What a cell and a mark mean, with this table's counts."""
    runs = sorted({int(n) for n in summary["n_train_seeds"]})
    seeds = sorted({int(n) for n in summary["n_seeds"]})
    pct = f"{100 * level:g} %"
    return (f"Cells: mean over {'/'.join(map(str, seeds))} probe model(s) "
            f"({'/'.join(map(str, runs))} training run(s) × probe seeds) [{pct} interval: "
            f"{n_boot} bootstrap replicates resampling training runs, probe seeds and test subjects]. "
            f"Bold: best, underlined: second, only where the paired {pct} interval of the difference to "
            f"every lower row excludes 0; an unmarked column has no supported ranking.")


N_ROW = "n test (positives)"


def n_footer(results: pd.DataFrame, representations: Sequence[str]) -> dict[str, str]:
    """Per target: test-split n, and positives for a binary target, e.g. ``52 (7)``
    (the largest over representations and seeds: one test split serves them all)."""
    r = results[results["representation"].isin(representations)]
    out = {}
    for target, g in r.groupby("target"):
        n = pd.to_numeric(g["n_test"], errors="coerce").max()
        pos = pd.to_numeric(g["n_test_positive"], errors="coerce").max()
        out[target] = "" if not np.isfinite(n) else f"{int(n)}" + (f" ({int(pos)})" if np.isfinite(pos) else "")
    return out


_STYLE = ("<style>body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse;margin:8px 0}"
          " td,th{border:1px solid #ccc;padding:3px 6px;text-align:right} th{background:#f4f4f4}"
          " caption{text-align:left;font-weight:bold;padding:4px 0}</style>")


def _html_page(title: str, parts: list[tuple[str, str]], note: str = "") -> str:
    body = "".join(f"<h3>{html.escape(cap)}</h3>{tbl}" for cap, tbl in parts)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{_STYLE}"
            f"</head><body><h2>{html.escape(title)}</h2>{body}<p>{html.escape(note)}</p></body></html>\n")


CSV_VALUES = ("mean", "std", "lo", "hi", "n_seeds", "n_train_seeds")


def _numeric_csv(summary: pd.DataFrame, rows: Sequence[str], columns: Sequence[str], row_names: dict) -> pd.DataFrame:
    """One row per representation; per target its mean, std (over models), lo/hi (the
    cell's interval), n_seeds and n_train_seeds."""
    wide = {v: _wide(summary, rows, columns, v) for v in CSV_VALUES}
    index = wide["mean"].index
    columns = {"representation": index, "name": [row_names.get(r, r) for r in index]}
    for c in wide["mean"].columns:
        for v in CSV_VALUES:
            col = wide[v][c]
            columns[f"{c}_{v}"] = (col.astype("Int64") if v.startswith("n_") else col).to_numpy()
    return pd.DataFrame(columns)


def _reasons_note(summary: pd.DataFrame) -> str:
    missing = summary[summary["n_nan"] > 0]
    if missing.empty:
        return ""
    items = [f"{r.representation}/{r.target}: {r.n_nan} of {r.n_seeds} seeds without a value ({r.reason})"
             for r in missing.itertuples()]
    return "Not scored: " + "; ".join(items)


def check_representations(results: pd.DataFrame, representations: Sequence[str],
                          names: Mapping[str, str]) -> None:
    """Every representation in the probe results is a configured row with a display
    name: an unknown one is an error, never a silently dropped row."""
    unnamed = [r for r in representations if r not in names]
    if unnamed:
        raise ValueError(f"Table 1 representations {unnamed} have no display name "
                         f"(align.variants[*].label, evaluate.baseline_label)")
    unknown = results[~results["representation"].isin(list(representations))]
    if not unknown.empty:
        first = unknown.iloc[0]
        raise ValueError(f"probe results of unknown representation(s) {sorted(set(unknown['representation']))} "
                         f"(e.g. {first['representation']}/{first['target']}/seed {first['seed']}): "
                         f"Table 1 rows are {list(representations)} (evaluate.representations)")


def _marked(summary: pd.DataFrame, boot: dict, rows: Sequence[str], columns: Sequence[str],
            level: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    mean = _wide(summary, rows, columns)
    lo, hi = (_wide(summary, rows, columns, v) for v in ("lo", "hi"))
    return mean, lo, hi, supported_marks(mean, boot, level)


def table1(probe_results: Sequence[str | Path], prediction_files: Sequence[str | Path], out_dir: str | Path,
           representations: Sequence[str], names: Mapping[str, str], n_boot: int = N_BOOT, seed: int = 0,
           level: float = LEVEL) -> pd.DataFrame:
    """Table 1: rows = ``representations`` in the given order, shown by ``names``
    (representation -> display label, from config), columns = the volumetric, then the
    functional phenotypes (R²), then the outcomes (AUROC, %): the mean over every
    training run's probe seeds with its interval from the probes' test predictions
    (``prediction_files``; :mod:`.cells`). Writes table1.{csv,md,html} and
    probe_results.csv."""
    results = collect_results(probe_results)
    check_representations(results, representations, names)
    order = list(representations)
    summary, boot = cell_intervals(results, prediction_files, order, TABLE1_TARGETS, n_boot, seed, level)
    mean, lo, hi, marks = _marked(summary, boot, order, TABLE1_TARGETS, level)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _numeric_csv(summary, order, TABLE1_TARGETS, names).to_csv(out_dir / "table1.csv", index=False)
    results.to_csv(out_dir / "probe_results.csv", index=False)
    blocks = [("Volumetric and mass phenotypes (R² ↑)", [c for c in mean.columns if c in VOLUMETRIC]),
              ("Functional and strain phenotypes (R² ↑)", [c for c in mean.columns if c in FUNCTIONAL]),
              ("Clinical endpoints (AUROC % ↑)", [c for c in mean.columns if c in OUTCOMES])]
    md_parts, html_parts = ["# Table 1\n"], []
    for caption, cols in blocks:
        if not cols:
            continue
        md, tbl = format_table(mean[cols], lo[cols], hi[cols], marks[cols], 3, names,
                               footer=n_footer(results, order))
        md_parts += [f"\n**{caption}**\n\n", md]
        html_parts.append((caption, tbl))
    shown = summary[summary["representation"].isin(order)]
    note = " ".join(n for n in (cells_note(shown, n_boot, level), _reasons_note(shown)) if n)
    md_parts.append(f"\n{note}\n")
    (out_dir / "table1.md").write_text("".join(md_parts))
    (out_dir / "table1.html").write_text(_html_page("Table 1: ECG-only prediction of CMR phenotypes and outcomes",
                                                    html_parts, note))
    log.info("table 1: %d representations x %d targets", *mean.shape)
    return mean


def table2(probe_results: Sequence[str | Path], prediction_files: Sequence[str | Path], out_dir: str | Path,
           n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> pd.DataFrame:
    """Table 2: rows = ViT sizes (representations ``vit_{size}``), columns = sex AUROC
    (%), age, QRS number and QRS duration R², each cell as in :func:`table1`. Writes
    table2.{csv,md,html}."""
    results = collect_results(probe_results)
    reps = [f"vit_{s}" for s in VIT_SIZES]
    columns = list(TABLE2_COLUMNS)
    summary, boot = cell_intervals(results, prediction_files, reps, columns, n_boot, seed, level)
    mean, lo, hi, marks = _marked(summary, boot, reps, columns, level)
    names = {f"vit_{s}": s.capitalize() for s in VIT_SIZES}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _numeric_csv(summary, reps, columns, names).to_csv(out_dir / "table2.csv", index=False)
    md, tbl = format_table(mean, lo, hi, marks, 2, names, TABLE2_COLUMNS, footer=n_footer(results, reps))
    shown = summary[summary["representation"].isin(reps)]
    note = " ".join(n for n in (cells_note(shown, n_boot, level), _reasons_note(shown)) if n)
    (out_dir / "table2.md").write_text("# Table 2\n\n" + md + f"\n{note}\n")
    (out_dir / "table2.html").write_text(_html_page("Table 2: ViT backbones on general and ECG-derived targets",
                                                    [("", tbl)], note))
    return mean


def count_parameters(module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def table3(encoders: dict[str, str | Path], out_dir: str | Path) -> pd.DataFrame:
    """Table 3: architecture of each trained ViT size, read from the encoder files
    (layers, heads, width: the constructor arguments saved with the encoder, checked
    against the size table of ``ecgcmr.specs``; parameters counted on the
    loaded encoder, without the MAE decoder)."""
    from ..models import load_ecg_encoder

    rows = []
    for size in [s for s in VIT_SIZES if s in encoders]:
        enc = load_ecg_encoder(encoders[size])
        arch = {k: enc.config[k] for k in ("embed_dim", "depth", "num_heads")}
        if arch != SIZE_TABLE[size]:
            log.warning("%s: encoder %s differs from the %s row of the size table %s",
                        encoders[size], arch, size, SIZE_TABLE[size])
        n = count_parameters(enc)
        rows.append({"size": size, "ViT model": size.capitalize(), "Layers": arch["depth"],
                     "Heads": arch["num_heads"], "Embedding size": arch["embed_dim"],
                     "Parameters": n, "Parameters (M)": f"{n / 1e6:.1f} M"})
    df = pd.DataFrame(rows, columns=["size", "ViT model", "Layers", "Heads", "Embedding size",
                                     "Parameters", "Parameters (M)"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_dir / "table3.csv", index=False)
    shown = df.drop(columns=["size", "Parameters"])
    md = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    md += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    (out_dir / "table3.md").write_text("# Table 3\n\n" + "\n".join(md) + "\n")
    (out_dir / "table3.html").write_text(_html_page("Table 3: ViT architectures",
                                                    [("", shown.to_html(index=False, border=0))]))
    return df

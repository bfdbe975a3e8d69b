"""The paper's Tables 1-3 from the probe results and the encoders, as CSV (numbers),
Markdown (best **bold**, second <u>underlined</u>, as the paper) and HTML (for the
Snakemake report, which shows HTML inline but offers CSV/Markdown only as downloads).

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

from ..specs import VIT_SIZES as SIZE_TABLE
from ..phenotypes import FUNCTIONAL, OUTCOMES, VOLUMETRIC

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
    n_seeds (those models) and n_nan per (representation, target)."""
    def agg(g: pd.DataFrame) -> pd.Series:
        v = g["value"].astype(float)
        scale = 100.0 if g["metric"].iloc[0] == "auroc" else 1.0
        ok = v[np.isfinite(v)] * scale
        reasons = sorted({r for r in g["reason"] if r})
        return pd.Series({"metric": g["metric"].iloc[0],
                          "mean": ok.mean() if len(ok) else math.nan,
                          # population SD over seeds (ddof=0), as the authors' np.std
                          "std": ok.std(ddof=0) if len(ok) else math.nan,
                          "n_seeds": len(v), "n_nan": int((~np.isfinite(v)).sum()),
                          "reason": "; ".join(reasons)})
    if results.empty:
        return pd.DataFrame(columns=["representation", "target", "metric", "mean", "std", "n_seeds", "n_nan", "reason"])
    return (results.groupby(["representation", "target"], sort=False)[["metric", "value", "reason"]]
            .apply(agg).reset_index())


def _wide(summary: pd.DataFrame, rows: Sequence[str], columns: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean, std) wide frames restricted to rows/columns that have results."""
    present_rows = [r for r in rows if r in set(summary["representation"])]
    mean = summary.pivot(index="representation", columns="target", values="mean").reindex(present_rows)
    std = summary.pivot(index="representation", columns="target", values="std").reindex(present_rows)
    cols = [c for c in columns if c in mean.columns]
    return mean[cols].astype(float), std[cols].astype(float)


def rank_marks(mean: pd.DataFrame) -> pd.DataFrame:
    """'best' / 'second' / '' per cell (higher is better for R² and AUROC). Ranks need
    at least two rows with a value; ties share the mark."""
    marks = pd.DataFrame("", index=mean.index, columns=mean.columns)
    for c in mean.columns:
        vals = sorted({round(v, 12) for v in mean[c] if np.isfinite(v)}, reverse=True)
        if len(mean[c].dropna()) < 2:
            continue
        for i, label in enumerate(["best", "second"][:len(vals)]):
            marks.loc[np.isclose(mean[c], vals[i], rtol=0, atol=1e-12), c] = label
    return marks


def _cell(m: float, s: float, decimals: int) -> str:
    if not np.isfinite(m):
        return "n/a"
    return f"{m:.{decimals}f} ± {s:.{decimals}f}"


def format_table(mean: pd.DataFrame, std: pd.DataFrame, decimals: int, row_names: dict[str, str],
                 headers: dict[str, str] | None = None, footer: dict[str, str] | None = None) -> tuple[str, str]:
    """(Markdown, HTML) with the best value bold and the second underlined; ``footer``
    (column -> text) adds a last row (the n each score rests on)."""
    marks = rank_marks(mean)
    headers = headers or {}
    head = ["Model"] + [headers.get(c, c) for c in mean.columns]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows_html = []
    for r in mean.index:
        cells_md, cells_html = [], []
        for c in mean.columns:
            text = _cell(mean.loc[r, c], std.loc[r, c], decimals)
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


def _numeric_csv(mean: pd.DataFrame, std: pd.DataFrame, summary: pd.DataFrame, row_names: dict) -> pd.DataFrame:
    out = pd.DataFrame({"representation": mean.index, "name": [row_names.get(r, r) for r in mean.index]})
    n = summary.pivot(index="representation", columns="target", values="n_seeds").reindex(mean.index)
    for c in mean.columns:
        out[f"{c}_mean"] = mean[c].to_numpy()
        out[f"{c}_std"] = std[c].to_numpy()
        out[f"{c}_n_seeds"] = n[c].to_numpy()
    return out


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


def table1(probe_results: Sequence[str | Path], out_dir: str | Path, representations: Sequence[str],
           names: Mapping[str, str]) -> pd.DataFrame:
    """Table 1: rows = ``representations`` in the given order, shown by ``names``
    (representation -> display label, from config), columns = the volumetric, then the
    functional phenotypes (R²), then the outcomes (AUROC, %), mean ± std over seeds.
    Writes table1.{csv,md,html}."""
    results = collect_results(probe_results)
    check_representations(results, representations, names)
    summary = summarise(results)
    order = list(representations)
    mean, std = _wide(summary, order, TABLE1_TARGETS)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _numeric_csv(mean, std, summary, names).to_csv(out_dir / "table1.csv", index=False)
    results.to_csv(out_dir / "probe_results.csv", index=False)
    blocks = [("Volumetric and mass phenotypes (R² ↑)", [c for c in mean.columns if c in VOLUMETRIC]),
              ("Functional and strain phenotypes (R² ↑)", [c for c in mean.columns if c in FUNCTIONAL]),
              ("Clinical endpoints (AUROC % ↑)", [c for c in mean.columns if c in OUTCOMES])]
    md_parts, html_parts = ["# Table 1\n"], []
    for caption, cols in blocks:
        if not cols:
            continue
        md, tbl = format_table(mean[cols], std[cols], 3, names, footer=n_footer(results, order))
        md_parts += [f"\n**{caption}**\n\n", md]
        html_parts.append((caption, tbl))
    note = _reasons_note(summary[summary["representation"].isin(order)])
    if note:
        md_parts.append(f"\n{note}\n")
    (out_dir / "table1.md").write_text("".join(md_parts))
    (out_dir / "table1.html").write_text(_html_page("Table 1: ECG-only prediction of CMR phenotypes and outcomes",
                                                    html_parts, note))
    log.info("table 1: %d representations x %d targets", *mean.shape)
    return mean


def table2(probe_results: Sequence[str | Path], out_dir: str | Path) -> pd.DataFrame:
    """Table 2: rows = ViT sizes (representations ``vit_{size}``), columns = sex AUROC
    (%), age, QRS number and QRS duration R². Writes table2.{csv,md,html}."""
    results = collect_results(probe_results)
    summary = summarise(results)
    reps = [f"vit_{s}" for s in VIT_SIZES]
    mean, std = _wide(summary, reps, list(TABLE2_COLUMNS))
    names = {f"vit_{s}": s.capitalize() for s in VIT_SIZES}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _numeric_csv(mean, std, summary, names).to_csv(out_dir / "table2.csv", index=False)
    md, tbl = format_table(mean, std, 2, names, TABLE2_COLUMNS, footer=n_footer(results, reps))
    note = _reasons_note(summary[summary["representation"].isin(reps)])
    (out_dir / "table2.md").write_text("# Table 2\n\n" + md + (f"\n{note}\n" if note else ""))
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

"""The ``seg_agreement`` rule: the segment stage's LV volumes against a reference.

Reference: UK Biobank's own numbers from the phenotype table (``targets.parquet``:
LVEDV = LVDV, field 24100; LVEF = field 24103; LVESV = LVEDV - LVSV, i.e.
24100 - 24102, which is field 24101 by definition) or, for the synthetic cohort, the
generator's truth (``latents.parquet``: LVDV, LVESV, LVEF), so the demo shows the
comparison. Per subject the differences (ours - reference); over the cohort, per
measure, the Bland-Altman bias and 95 % limits of agreement (bias +- 1.96 SD of the
differences) and Pearson's r, and a Bland-Altman plot for the report.

A subject whose EDV, ESV or EF differ by more than the configured limits is flagged
``disagrees`` always; with ``exclude: true`` it is also excluded (stage ``segment``,
reason ``segmentation_disagrees_with_ukb``), and the crop rule leaves it out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .. import exclusions  # noqa: E402

log = logging.getLogger(__name__)
STAGE = "segment"
REASON = "segmentation_disagrees_with_ukb"
MEASURES = {"lvedv_ml": ("LVEDV", "mL"), "lvesv_ml": ("LVESV", "mL"), "lvef": ("LVEF", "%")}


def reference_volumes(path: str, source: str) -> pd.DataFrame:
    """eid, lvedv_ml, lvesv_ml, lvef of the reference (``ukb``: targets.parquet;
    ``truth``: the synthetic generator's latents.parquet)."""
    df = pd.read_parquet(path)
    df["eid"] = df["eid"].astype(str)
    # a table without a field (not extracted in this application) compares nothing for it
    col = lambda name: df[name].astype(float) if name in df.columns else pd.Series(np.nan, index=df.index)  # noqa: E731
    esv = col("LVESV") if source == "truth" else col("LVDV") - col("LVSV")
    out = pd.DataFrame({"eid": df["eid"], "lvedv_ml": col("LVDV"), "lvesv_ml": esv, "lvef": col("LVEF")})
    return out.astype({c: float for c in MEASURES})


def bland_altman(ours: np.ndarray, ref: np.ndarray) -> dict:
    """Bias, SD and 95 % limits of ``ours - ref``, Pearson's r, n (finite pairs only)."""
    ok = np.isfinite(ours) & np.isfinite(ref)
    a, b = np.asarray(ours, float)[ok], np.asarray(ref, float)[ok]
    if len(a) < 2:
        return {"n": int(len(a)), "bias": None, "sd": None, "lower": None, "upper": None, "r": None}
    d = a - b
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else None
    return {"n": int(len(a)), "bias": bias, "sd": sd, "lower": bias - 1.96 * sd, "upper": bias + 1.96 * sd, "r": r}


def compare(seg: pd.DataFrame, ref: pd.DataFrame, limits: dict) -> pd.DataFrame:
    """Per-subject table: ours, reference and difference per measure, ``disagrees``."""
    seg = seg.assign(eid=seg["eid"].astype(str))[["eid", *MEASURES]]
    df = seg.merge(ref, on="eid", how="inner", suffixes=("", "_ref"))
    why = [[] for _ in range(len(df))]
    for m, key in (("lvedv_ml", "max_edv_diff_ml"), ("lvesv_ml", "max_esv_diff_ml"), ("lvef", "max_ef_diff")):
        df[f"{m}_diff"] = df[m] - df[f"{m}_ref"]
        for i, v in enumerate(df[f"{m}_diff"].to_numpy(float)):
            if abs(v) > float(limits[key]):  # NaN (a missing reference value) never is
                why[i].append(f"{MEASURES[m][0]} {v:+.1f} {MEASURES[m][1]}")
    df["disagrees"] = [bool(w) for w in why]
    df["why"] = ["; ".join(w) for w in why]
    return df


def plot(df: pd.DataFrame, stats: dict, title: str, out_png: str) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    for ax, (m, (name, unit)) in zip(axes, MEASURES.items()):
        s = stats[m]
        if df.empty or s["bias"] is None:
            ax.text(0.5, 0.5, "no subjects with both values", ha="center", transform=ax.transAxes)
            ax.set_title(name)
            continue
        mean = (df[m] + df[f"{m}_ref"]) / 2
        ax.scatter(mean, df[f"{m}_diff"], s=8, c=np.where(df["disagrees"], "tab:red", "tab:blue"))
        for y, style in ((s["bias"], "-"), (s["lower"], "--"), (s["upper"], "--")):
            ax.axhline(y, color="k", linestyle=style, linewidth=0.8)
        ax.set_xlabel(f"mean of the two ({unit})")
        ax.set_ylabel(f"ours - reference ({unit})")
        r = f", r = {s['r']:.2f}" if s["r"] is not None else ""
        ax.set_title(f"{name}: bias {s['bias']:+.1f} [{s['lower']:+.1f}, {s['upper']:+.1f}]{r}", fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def seg_agreement(seg_shards: list[str], reference: str | None, source: str, method: str, out_csv: str,
                  out_json: str, out_png: str, out_exclusions: str, params: dict) -> dict:
    """The ``seg_agreement`` rule (see the module docstring). ``reference`` None: no
    reference table (a cohort without the phenotype fields): empty outputs that say so."""
    seg = pd.concat([pd.read_parquet(s, columns=["eid", *MEASURES]) for s in seg_shards], ignore_index=True) \
        if seg_shards else pd.DataFrame(columns=["eid", *MEASURES])
    ref = reference_volumes(reference, source) if reference else \
        pd.DataFrame(columns=["eid", *MEASURES]).astype({"eid": str, **{c: float for c in MEASURES}})
    df = compare(seg, ref, params)
    stats = {m: bland_altman(df[m].to_numpy(float), df[f"{m}_ref"].to_numpy(float)) for m in MEASURES}
    what = {"truth": "the synthetic generator's truth", "ukb": "UK Biobank fields 24100/24101 (= 24100 - 24102)/24103"}
    how = {"localise": "training-free localiser", "unet": "segmenter (U-Net)"}
    summary = {"reference": what.get(source, source), "method": method, "n_segmented": int(len(seg)),
               "n_compared": int(len(df)), "n_disagree": int(df["disagrees"].sum()), "limits": dict(params),
               "exclude": bool(params.get("exclude", False)), "measures": stats}
    title = (f"LV volumes from the {how.get(method, method)} vs {what.get(source, source)}\n"
             f"{len(df)} subjects, {summary['n_disagree']} beyond the limits (red)"
             + ("; excluded" if summary["exclude"] else "; not excluded (segmentation.agreement.exclude: false)"))
    plot(df, stats, title, out_png)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_csv, index=False)
    Path(out_json).write_text(json.dumps(summary, indent=2) + "\n")
    rows = [exclusions.Exclusion(r.eid, STAGE, REASON, r.why, out_csv)
            for r in df.itertuples() if r.disagrees] if summary["exclude"] else []
    exclusions.write(rows, out_exclusions)
    log.info("segmentation vs %s: %d subjects, %d disagree%s; EDV bias %s", summary["reference"], len(df),
             summary["n_disagree"], " (excluded)" if summary["exclude"] else "", stats["lvedv_ml"]["bias"])
    return summary

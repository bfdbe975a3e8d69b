"""The evaluation stage in the shared tiny pipeline run (tests/configs/tiny.yaml, one
run of `all` shared by every test in the "tiny_run" group, see conftest_workflow):
one probe job per (representation, seed) writes one result and one weights file per
target on the right split, Tables 1-3 have the configured rows and columns with finite
scores, the report holds them, and `ecgcmr predict` works from the run directory alone
on real ECG files (a UK Biobank CardioSoft XML and a PTB-XL WFDB record).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest_workflow import REPO, TINY, TINY_RESULTS, tiny_run, tiny_report_path  # noqa: F401
from ecgcmr.evaluate.probe import load_probe, read_result
from ecgcmr.evaluate.tables import TABLE1_TARGETS, VIT_SIZES
from ecgcmr.phenotypes import OUTCOMES, PHENOTYPES

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]

# The tiny run's evaluate section: tiny.yaml over the demo config, key by key.
EVAL = {**yaml.safe_load((REPO / "config" / "config.yaml").read_text())["evaluate"],
        **yaml.safe_load(TINY.read_text())["evaluate"]}
REPS = EVAL["representations"]
VITS = [f"vit_{s}" for s in EVAL["vit_sizes"]]
SEEDS = EVAL["seeds"]
T1 = [t for t in TABLE1_TARGETS if t in EVAL["targets"]]
T2 = EVAL["table2_targets"]
REGRESSION_T1 = [t for t in T1 if t in PHENOTYPES]


@pytest.fixture(scope="module")
def res(tiny_run):  # noqa: F811
    return tiny_run / TINY_RESULTS


def test_tiny_config_exercises_both_probe_rules():
    # guards the assertions below against a tiny.yaml that no longer probes anything
    assert len(REPS) >= 2 and VITS and REGRESSION_T1 and set(T1) & set(OUTCOMES) and T2


def test_one_probe_job_per_representation_and_seed_covers_every_target(res):
    for rule, reps, targets in [("probe", REPS, T1), ("probe_vit", VITS, T2)]:
        for rep in reps:
            for seed in SEEDS:
                log = (res / "logs" / f"{rule}_{rep}_{seed}.log").read_text()
                # the job trained every target of its representation, one probe each
                trained = [t for t in targets if f"{rep} / {t} / seed {seed}:" in log]
                assert trained == targets, (rule, rep, seed, log[-2000:])
                assert (res / "benchmarks" / f"{rule}_{rep}_{seed}.tsv").is_file()
    per_target_logs = [p.name for p in (res / "logs").glob("probe_*_*_*.log")
                       if any(f"_{t}_" in p.name for t in T1 + T2)]
    assert not per_target_logs, per_target_logs  # no job per (representation, target, seed)


def _labelled_in_split(res, rep, target, column):
    """Subjects a probe of `target` on `rep` may use: embedded, labelled, in a split."""
    eids = pd.read_parquet(res / "embeddings" / f"{rep}.parquet", columns=["eid"])["eid"].astype(str)
    source = res / ("ecg/index.parquet" if target in ("qrs_num", "qrs_duration") else "tables/targets.parquet")
    y = pd.read_parquet(source, columns=["eid", target]).astype({"eid": str}).set_index("eid")[target]
    split = pd.read_parquet(res / "splits.parquet").astype({"eid": str}).set_index("eid")[column]
    part = split.reindex(eids).fillna("")
    labelled = y.reindex(eids).notna().to_numpy()
    return {s: int((labelled & (part == s).to_numpy()).sum()) for s in ("train", "val", "test")}


def test_every_probe_result_is_its_own_target_on_its_split(res):
    for reps, targets, column in [(REPS, T1, "paired_split"), (VITS, T2, "pretrain")]:
        for rep in reps:
            for target in targets:
                n = _labelled_in_split(res, rep, target, column)
                for seed in SEEDS:
                    r = read_result(res / "probes" / rep / target / f"seed{seed}.json")
                    assert (r["representation"], r["target"], r["seed"]) == (rep, target, seed)
                    binary = target in OUTCOMES or target == "sex"
                    assert r["metric"] == ("auroc" if binary else "r2"), r
                    assert (r["n_val"], r["n_test"]) == (n["val"], n["test"]), (rep, target, r, n)
                    if target in OUTCOMES:  # training set balanced by undersampling negatives
                        assert 0 < r["n_train"] <= n["train"], (rep, target, r, n)
                    else:
                        assert r["n_train"] == n["train"], (rep, target, r, n)
                    probe = load_probe(res / "probes" / rep / target / f"seed{seed}.pt")
                    if probe is None:   # untrainable: no value, and the result says why
                        assert math.isnan(r["value"]) and r["reason"], r
                    else:
                        assert probe["target"] == target and probe["config"]["in_dim"] == r["embedding_dim"]
    # Table 2 uses every ECG subject's pretraining split, Table 1 only the paired ones
    vit_n = read_result(res / "probes" / VITS[0] / T2[-1] / f"seed{SEEDS[0]}.json")["n_train"]
    t1_n = read_result(res / "probes" / REPS[0] / REGRESSION_T1[0] / f"seed{SEEDS[0]}.json")["n_train"]
    assert vit_n > t1_n


def test_tables_have_the_configured_rows_columns_and_finite_scores(res):
    from ecgcmr.config import load_config, representation_labels
    from ecgcmr.models import load_ecg_encoder
    from ecgcmr.models.vit_mae import VIT_SIZES as SIZE_TABLE

    tables = res / "tables"
    long = pd.read_csv(tables / "probe_results.csv")
    assert len(long) == len(REPS) * len(T1) * len(SEEDS)
    t1 = pd.read_csv(tables / "table1.csv")
    labels = representation_labels(load_config(TINY))
    assert list(t1["representation"]) == REPS   # the configured rows, in the configured order
    assert list(t1["name"]) == [labels[r] for r in REPS]
    assert [c for c in t1.columns if c.endswith("_mean")] == [f"{t}_mean" for t in T1]
    assert (t1[[f"{t}_n_seeds" for t in T1]] == len(SEEDS)).all().all()
    scores = t1[[f"{t}_mean" for t in REGRESSION_T1]].to_numpy()
    assert np.isfinite(scores).all() and (scores <= 1).all(), t1
    assert np.isfinite(t1[[f"{t}_std" for t in REGRESSION_T1]].to_numpy()).all()
    # every regression cell carries its bootstrap interval (read from the probes' predictions)
    lo, hi = (t1[[f"{t}_{b}" for t in REGRESSION_T1]].to_numpy() for b in ("lo", "hi"))
    assert np.isfinite(lo).all() and (lo < hi).all(), t1
    md = (tables / "table1.md").read_text()
    for t in set(T1) & set(OUTCOMES):   # an AUROC in %, or n/a with its reason under the table
        auc = t1[f"{t}_mean"]
        assert (auc.between(0, 100) | (auc.isna() & (f"/{t}:" in md))).all(), (t, md)

    t2 = pd.read_csv(tables / "table2.csv")
    assert list(t2["name"]) == [s.capitalize() for s in VIT_SIZES if f"vit_{s}" in VITS]
    assert [c for c in t2.columns if c.endswith("_mean")] == [f"{t}_mean" for t in
                                                              ["sex", "age", "qrs_num", "qrs_duration"] if t in T2]
    assert np.isfinite(t2[[f"{t}_mean" for t in T2 if t != "sex"]].to_numpy()).all(), t2

    t3 = pd.read_csv(tables / "table3.csv")
    assert list(t3["size"]) == [s for s in VIT_SIZES if f"vit_{s}" in VITS]
    for row in t3.itertuples():
        enc = load_ecg_encoder(res / "models" / f"ecg_mae_{row.size}" / "encoder.pt")
        assert row.Parameters == sum(p.numel() for p in enc.parameters())
        assert (row.Layers, row.Heads) == (SIZE_TABLE[row.size]["depth"], SIZE_TABLE[row.size]["num_heads"])
    for png in ("table1_bars.png", "table2_bars.png"):
        assert (tables / png).stat().st_size > 5000


def test_every_variant_is_compared_with_the_baseline_and_gated(res):
    from ecgcmr.evaluate.compare import DELTA_COLUMNS, GATE_COLUMNS, read_gates

    variants = [r for r in REPS if r != "baseline"]
    gates = read_gates(res / "tables" / "gates.csv")
    assert list(gates.columns) == GATE_COLUMNS and list(dict.fromkeys(gates["variant"])) == variants
    deltas = pd.read_csv(res / "tables" / "deltas.csv")
    assert list(deltas.columns) == DELTA_COLUMNS and set(deltas["baseline"]) == {"baseline"}
    for v in variants:
        d = deltas[deltas["arm"] == v]
        assert list(d.loc[d["kind"] == "target", "target"]) == T1, d
        scored = d[d["note"].isna()]
        assert (scored["n_test"] > 0).all() and (scored["n_boot"] == 2000).all(), scored
        status = gates.loc[gates["variant"] == v, "conclusion"].iloc[0]
        if status != "informative":   # a one-epoch run: a failed gate, shown as such, never "no effect"
            assert (scored["conclusion"] == status).all(), scored
    for v in variants:   # the markdown says, per variant, what the run may conclude
        status = gates.loc[gates["variant"] == v, "conclusion"].iloc[0]
        assert f"Run: **{status}**" in (res / "tables" / "deltas.md").read_text()
        assert f"## {v}: {status}" in (res / "tables" / "gates.md").read_text()


def test_inference_manifest_names_every_seed_of_every_table1_target(res):
    m = json.loads((res / "inference" / "manifest.json").read_text())
    rep = EVAL["inference_representation"]
    assert m["representation"] == rep and m["encoder"] == f"models/align_{rep}/ecg_encoder.pt"
    assert list(m["probes"]) == [t for t in [*PHENOTYPES, *OUTCOMES] if t in T1]
    for t, files in m["probes"].items():
        assert files == [f"probes/{rep}/{t}/seed{s}.pt" for s in sorted(SEEDS)]


def test_inference_manifest_says_what_the_run_trained_on(res):
    m = json.loads((res / "inference" / "manifest.json").read_text())
    ranges = json.loads((res / m["training_ranges"]).read_text())
    assert m["cohort"]["synthetic"] is True and m["cohort"]["n_ecg_train"] == ranges["n_records"] > 0
    assert set(ranges["features"]) == {"amplitude_mv", "heart_rate_bpm", "noise_ratio"}
    card = json.loads((res / "inference" / "model_card.json").read_text())
    assert card["training_data"] == m["cohort"] and card["metrics"] and "n_test" in card["metrics"][0]
    assert (res / "inference" / "ecg_encoder.safetensors").stat().st_size > 1000


def test_report_holds_the_tables_and_plots_without_rst_errors(tiny_run, tmp_path_factory):  # noqa: F811
    html = tiny_report_path(tmp_path_factory).read_text(errors="replace")
    rep = EVAL["inference_representation"]
    for name in ("table1.html", "table2.html", "table3.html", "table1_bars.png", "table2_bars.png",
                 f"shared_space_{EVAL['projection_variant']}.png", "benchmarks_summary.png",
                 "cohort_flow.png", "baseline_characteristics.html", "exclusions_pseudonymised.csv",
                 f"roc_{rep}.png", f"scatter_{rep}.png", "deltas.csv", "gates.csv"):
        assert name in html, f"{name} not in the report"
    assert "ecgcmr: CMR-guided ECG representations" in html
    # docutils renders broken reStructuredText (workflow.rst, captions) as a System Message
    assert "System Message" not in html


def test_predict_from_the_run_directory_on_real_ecgs(res, shared_data, tmp_path):
    inputs = [shared_data / "cardiosoft_xml" / "ukbb_scrubbed.xml",   # real UK Biobank CardioSoft XML
              shared_data / "wfdb_ptbxl" / "HR06000",                 # real PTB-XL 12-lead WFDB
              shared_data / "wfdb" / "100"]                           # MIT-BIH, 2 leads: not a 12-lead ECG
    out = tmp_path / "pred.csv"
    proc = subprocess.run([sys.executable, "-m", "ecgcmr.cli", "predict", "--run", str(res), "-o", str(out),
                           *map(str, inputs)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pred = pd.read_csv(out)
    # a real record may lie outside the synthetic cohort's ranges: flagged, still predicted
    assert [s != "error" for s in pred["status"]] == [True, True, False], pred[["input", "status", "reason"]]
    assert pred["training_cohort"].str.startswith("synthetic demo cohort").all()
    assert pred.loc[2, "reason"] == "not_12_lead" and "could not be predicted" in proc.stderr
    ok = pred.iloc[:2]
    for t in REGRESSION_T1:
        assert np.isfinite(ok[f"{t} [{PHENOTYPES[t][1]}]"]).all(), ok
    manifest = json.loads((res / "inference" / "manifest.json").read_text())
    for t in set(T1) & set(OUTCOMES):
        usable = any(load_probe(res / w) is not None for w in manifest["probes"][t])
        p = ok[f"{t} probability"]
        assert (p.between(0, 1).all() and p.notna().all()) if usable else p.isna().all(), (t, p)
    # targets the run did not train: columns present and empty, never invented
    for t in sorted(set(PHENOTYPES) - set(T1)):
        assert pred[f"{t} [{PHENOTYPES[t][1]}]"].isna().all()

"""ingest_tables: UKB-style main table + diagnoses -> targets, on synthetic tables."""

import numpy as np
import pandas as pd
import pytest
import yaml

from ecgcmr.errors import InputError
from ecgcmr.phenotypes import OUTCOMES, PHENOTYPES
from ecgcmr.synth.physiology import sample_cohort
from ecgcmr.synth.tables import diagnoses_table, main_table
from ecgcmr.outcomes import OutcomeWindow
from ecgcmr.targets import build_targets, outcome_labels


@pytest.fixture(scope="module")
def cfg(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


@pytest.fixture()
def cohort(tmp_path, cfg):
    latents = sample_cohort(300, seed=3, prevalence={o: 0.1 for o in OUTCOMES})
    main = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.05, seed=3)
    diag = diagnoses_table(latents, cfg["outcomes"], seed=3)
    main.to_csv(tmp_path / "main.csv", index=False)
    diag.to_csv(tmp_path / "diag.csv", index=False)
    return latents, tmp_path / "main.csv", tmp_path / "diag.csv"


def test_targets_recover_latent_labels_and_phenotypes(cohort, cfg):
    latents, main, diag = cohort
    targets, rows = build_targets(main, diag, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"])
    assert rows == []
    assert list(targets.columns) == ["eid", *PHENOTYPES, *OUTCOMES, "age", "sex"]
    merged = targets.merge(latents, on="eid", suffixes=("", "_true"))
    assert len(merged) == len(latents)
    for o in OUTCOMES:  # the ICD-10 round trip gives back exactly the latent labels
        np.testing.assert_array_equal(merged[o].to_numpy(), merged[f"{o}_true"].to_numpy(), err_msg=o)
    imaged = merged[merged.has_cmr]
    ok = imaged["LVEF"].notna()
    assert 0.85 < ok.mean() < 1.0  # ~5% missing, as configured
    np.testing.assert_allclose(imaged.loc[ok, "LVEF"], imaged.loc[ok, "LVEF_true"], atol=0.01)
    assert merged.loc[~merged.has_cmr, list(PHENOTYPES)].isna().all().all()  # no CMR -> no phenotypes
    np.testing.assert_array_equal(merged["sex"], merged["sex_true"])


def test_duplicate_and_incomplete_subjects_are_excluded_with_reason(cohort, cfg, tmp_path):
    _, main, diag = cohort
    df = pd.read_csv(main, dtype={"eid": str})
    df = pd.concat([df, df.iloc[[0]]])
    df.loc[df.index[5], "21003-2.0"] = np.nan
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    targets, rows = build_targets(bad, diag, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"])
    reasons = {r.reason for r in rows}
    assert reasons == {"duplicate_eid", "missing_age_or_sex"}
    assert targets["eid"].is_unique and len(targets) == len(df) - 2
    assert all(r.path == str(bad) for r in rows)


def test_wrong_field_id_names_the_file_and_column(cohort, cfg):
    _, main, diag = cohort
    fields = {**cfg["phenotype_fields"], "LVEF": 99999}
    with pytest.raises(InputError, match=r"main\.csv: missing_columns \(99999-2\.0\)"):
        build_targets(main, diag, fields, cfg["demographic_fields"], cfg["outcomes"])


def test_outcome_prefixes_match_dotted_and_undotted_codes():
    diag = pd.DataFrame({"eid": ["1", "2", "3"], "icd10": ["I48", "I21.9".replace(".", ""), "I10"]})
    outcomes = {o: [] for o in OUTCOMES} | {"AF": ["I48"], "MI": ["I21"], "CAD": ["I2"]}
    labels = outcome_labels(diag, pd.Series(["1", "2", "3", "4"]), outcomes).set_index("eid")
    assert labels.loc["1", "AF"] == 1 and labels.loc["2", "MI"] == 1 and labels.loc["2", "CAD"] == 1
    assert labels.loc[["3", "4"], list(OUTCOMES)].sum().sum() == 0


def _by_hand(diag: pd.DataFrame, visit: pd.Series, prefixes: list[str], mode: str, horizon_days=None):
    """The window rules written out per subject, the slow obvious way."""
    out = {}
    for eid, at in visit.items():
        rows = diag[(diag.eid == eid) & diag.icd10.str.startswith(tuple(prefixes))]
        dates = [pd.Timestamp(d) if d else None for d in rows.date]
        before = any(d is not None and d <= at for d in dates)
        undated = any(d is None for d in dates)
        after = any(d is not None and d > at and (horizon_days is None or (d - at).days <= horizon_days)
                    for d in dates)
        if mode == "prevalent":
            out[eid] = 1 if before else (None if undated else 0)
        else:
            out[eid] = None if (before or undated) else (1 if after else 0)
    return out


@pytest.mark.parametrize("mode,horizon", [("prevalent", None), ("incident", None), ("incident", 5)])
def test_outcome_window_labels_follow_the_visit_date(cohort, cfg, tmp_path, mode, horizon):
    _, main, diag = cohort
    d = pd.read_csv(diag, dtype=str, keep_default_na=False)
    d.loc[d.index[::17], "date"] = ""                       # some diagnoses carry no date
    d.to_csv(diag, index=False)
    m = pd.read_csv(main, dtype={"eid": str})
    m.loc[m.index[:3], "53-2.0"] = ""                       # three subjects without a visit date
    m.to_csv(main, index=False)
    window = OutcomeWindow(mode=mode, horizon_years=horizon)
    targets, rows = build_targets(main, diag, cfg["phenotype_fields"], cfg["demographic_fields"],
                                  cfg["outcomes"], window=window)
    assert {r.eid for r in rows if r.reason == "missing_visit_date"} == set(m.eid[:3])
    targets = targets.set_index("eid")
    assert targets.loc[m.eid[:3], list(OUTCOMES)].isna().all().all()
    assert targets["LVEF"].notna().sum() > 0                  # phenotypes are kept
    visit = pd.to_datetime(m.set_index("eid")["53-2.0"].iloc[3:])
    for o in OUTCOMES:
        expected = _by_hand(d, visit, cfg["outcomes"][o], mode, None if horizon is None else horizon * 365.25)
        got = targets.loc[list(expected), o]
        want = pd.array([expected[e] for e in expected], dtype="Int8")
        assert got.isna().tolist() == list(pd.isna(want)), o
        assert (got.dropna().to_numpy() == want[~pd.isna(want)].to_numpy()).all(), o
        # the window matters here: the synthetic dates fall on both sides of the visits
        if mode == "prevalent":
            assert 0 < got.sum() < targets[o].notna().sum()


def test_any_window_ignores_dates(cohort, cfg):
    _, main, diag = cohort
    plain, _ = build_targets(main, diag, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"])
    windowed, _ = build_targets(main, diag, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"],
                                window=OutcomeWindow("any"))
    pd.testing.assert_frame_equal(plain, windowed)
    assert not plain[list(OUTCOMES)].isna().any().any()


def test_a_window_needs_diagnosis_dates(cohort, cfg, tmp_path):
    _, main, diag = cohort
    undated = tmp_path / "undated.csv"
    pd.read_csv(diag, dtype=str).drop(columns="date").to_csv(undated, index=False)
    with pytest.raises(InputError, match=r"undated\.csv: missing_columns \(date"):
        build_targets(main, undated, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"],
                      window=OutcomeWindow("incident"))
    with pytest.raises(ValueError, match="horizon_years"):
        OutcomeWindow("prevalent", horizon_years=5)
    with pytest.raises(ValueError, match="mode"):
        OutcomeWindow("lifetime")


def test_phenotypes_beyond_table1_are_written_and_read_without_moving_the_twelve(tmp_path, cfg):
    """LVESV (24101) and RVESV (24107), the ES volumes the CMR encoders of the science
    run learn from: the synthetic table writes them after the 12, the targets read
    them after the 12, and the 12 columns are those of a run without them."""
    latents = sample_cohort(120, seed=4, prevalence={o: 0.1 for o in OUTCOMES})
    fields = {**cfg["phenotype_fields"], "LVESV": 24101, "RVESV": 24107}
    plain = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.05, seed=4)
    extended = main_table(latents, fields, cfg["demographic_fields"], 2, 0.05, seed=4)
    pd.testing.assert_frame_equal(extended[plain.columns], plain)
    extended.to_csv(tmp_path / "main.csv", index=False)
    diagnoses_table(latents, cfg["outcomes"], seed=4).to_csv(tmp_path / "diag.csv", index=False)
    targets, _ = build_targets(tmp_path / "main.csv", tmp_path / "diag.csv", fields, cfg["demographic_fields"],
                               cfg["outcomes"])
    assert list(targets.columns) == ["eid", *PHENOTYPES, "LVESV", "RVESV", *OUTCOMES, "age", "sex"]
    merged = targets.merge(latents, on="eid", suffixes=("", "_true"))
    ok = merged["LVESV"].notna()
    assert ok.sum() > 0.5 * merged["has_cmr"].sum()
    np.testing.assert_allclose(merged.loc[ok, "LVESV"], merged.loc[ok, "LVESV_true"], atol=0.01)
    with pytest.raises(ValueError, match="does not make"):
        main_table(latents, {**fields, "LAVOL": 24110}, cfg["demographic_fields"], 2, 0.05, seed=4)


def test_labelled_subjects_without_cmr_get_phenotypes_and_nothing_else_moves(cfg):
    from ecgcmr.synth.cohort import labelled

    latents = sample_cohort(80, seed=5, prevalence={o: 0.1 for o in OUTCOMES}, cmr_fraction=0.5)
    plain = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.0, seed=5)
    latents["has_labels"] = labelled(latents, 10)
    extra = latents["has_labels"] & ~latents["has_cmr"]
    assert extra.sum() == 10
    assert sorted(latents.loc[extra, "eid"]) == sorted(latents.loc[~latents.has_cmr, "eid"])[:10]
    table = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.0, seed=5)
    lvef = [c for c in table.columns if "24103" in c][0]
    assert table.loc[extra.to_numpy(), lvef].notna().all()
    others = (~extra).to_numpy()
    pd.testing.assert_frame_equal(table[others], plain[others])
    with pytest.raises(ValueError, match="only"):
        labelled(latents, 1000)

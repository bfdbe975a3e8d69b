"""ingest_tables: UKB-style main table + diagnoses -> targets, on synthetic tables."""

import numpy as np
import pandas as pd
import pytest
import yaml

from ecgcmr.errors import InputError
from ecgcmr.phenotypes import OUTCOMES, PHENOTYPES
from ecgcmr.synth.physiology import sample_cohort
from ecgcmr.synth.tables import diagnoses_table, main_table
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

"""Faults of real tables reach the log and the exclusions table, never a silent NaN:
non-numeric values, eids with spaces, malformed diagnosis dates, duplicated columns."""

import logging

import pandas as pd
import pytest
import yaml

from ecgcmr.errors import InputError
from ecgcmr.outcomes import OutcomeWindow
from ecgcmr.synth.physiology import sample_cohort
from ecgcmr.synth.tables import main_table
from ecgcmr.targets import build_targets, ingest_tables


@pytest.fixture(scope="module")
def cfg(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


@pytest.fixture()
def main(cfg):
    latents = sample_cohort(6, seed=2, cmr_fraction=1.0)
    return main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.0, seed=2).astype(str)


def _targets(cfg, main_csv, diag_csv, mode="any"):
    return build_targets(main_csv, diag_csv, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"],
                         window=OutcomeWindow(mode=mode))


def _diag(tmp_path, rows):
    path = tmp_path / "diag.csv"
    pd.DataFrame(rows, columns=["eid", "icd10", "date"]).to_csv(path, index=False)
    return path


def test_non_numeric_values_are_listed_with_their_column_and_counted(tmp_path, cfg, main, caplog):
    main.loc[0, "24103-2.0"] = "abc"
    main.loc[1, "24100-2.0"] = "n/a"
    main.to_csv(tmp_path / "m.csv", index=False)
    diag = _diag(tmp_path, [])
    targets, rows = _targets(cfg, tmp_path / "m.csv", diag)
    bad = {(r.eid, r.reason): r.detail for r in rows}
    assert "24103-2.0 = 'abc'" in bad[(main.eid[0], "non_numeric_value")]
    assert "24100-2.0 = 'n/a'" in bad[(main.eid[1], "non_numeric_value")]
    assert targets.set_index("eid").loc[main.eid[0], "LVEF"] != targets.set_index("eid").loc[main.eid[0], "LVEF"]
    with caplog.at_level(logging.INFO, logger="ecgcmr"):
        ingest_tables(tmp_path / "m.csv", diag, tmp_path / "t.parquet", tmp_path / "x.csv", cfg["phenotype_fields"],
                      cfg["demographic_fields"], cfg["outcomes"])
    assert "bad_number:24103-2.0: 1" in caplog.text and "bad_number:24100-2.0: 1" in caplog.text


def test_eid_with_surrounding_spaces_is_stripped_and_still_pairs(tmp_path, cfg, main):
    eid = main.loc[2, "eid"]
    main.loc[2, "eid"] = f" {eid}  "
    main.to_csv(tmp_path / "m.csv", index=False)
    targets, rows = _targets(cfg, tmp_path / "m.csv", _diag(tmp_path, [(eid, "I48", "2010-01-01")]))
    t = targets.set_index("eid")
    assert eid in t.index and t.loc[eid, "AF"] == 1 and rows == []


@pytest.mark.parametrize("mode", ["prevalent", "incident"])
def test_malformed_diagnosis_date_is_an_exclusion_row(tmp_path, cfg, main, mode):
    main.to_csv(tmp_path / "m.csv", index=False)
    diag = _diag(tmp_path, [(main.eid[0], "I48", "2010-13-45"), (main.eid[1], "I48", "2010-01-01"),
                            (main.eid[3], "I10", "yesterday")])     # not an outcome code: no row
    targets, rows = _targets(cfg, tmp_path / "m.csv", diag, mode)
    [row] = [r for r in rows if r.reason == "bad_diagnosis_date"]
    assert row.eid == main.eid[0] and "'2010-13-45'" in row.detail and row.path == str(diag)
    assert pd.isna(targets.set_index("eid").loc[main.eid[0], "AF"])


def test_malformed_visit_date_is_an_exclusion_row(tmp_path, cfg, main):
    main.loc[0, "53-2.0"] = "2015/31/31"
    main.to_csv(tmp_path / "m.csv", index=False)
    _, rows = _targets(cfg, tmp_path / "m.csv", _diag(tmp_path, []), "prevalent")
    reasons = {r.reason for r in rows if r.eid == main.eid[0]}
    assert reasons == {"bad_date", "missing_visit_date"}


def test_duplicated_column_name_is_one_clear_error(tmp_path, cfg, main):
    path = tmp_path / "m.csv"
    header = ",".join([*main.columns, "24100-2.0"])
    lines = [",".join([*r, "1.0"]) for r in main.to_numpy()]
    path.write_text("\n".join([header, *lines]) + "\n")
    with pytest.raises(InputError, match=r"m\.csv: duplicate_columns \(column '24100-2\.0'"):
        _targets(cfg, path, _diag(tmp_path, []))


def test_two_names_of_one_column_across_split_files_is_an_error(tmp_path, cfg, main):
    main.to_csv(tmp_path / "a.csv", index=False)
    main[["eid", "24100-2.0"]].rename(columns={"24100-2.0": "p24100_i2"}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(InputError, match=r"b\.csv: duplicate_columns \(p24100_i2 \(24100-2\.0\) is also in .*a\.csv"):
        _targets(cfg, [tmp_path / "a.csv", tmp_path / "b.csv"], _diag(tmp_path, []))

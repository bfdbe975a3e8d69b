"""ingest_tables reads every table form UK Biobank and RAP hand out (ukbconv CSV/TSV,
RAP Table Exporter / dx extract_dataset field names, split files) and the outcome
fields (41270/41280, 40000/40001/40002, hesin), giving the same targets as the
ukbconv main table with a long-form diagnoses table."""

import pandas as pd
import pytest
import yaml

from ecgcmr.outcomes import OutcomeWindow
from ecgcmr.phenotypes import OUTCOMES
from ecgcmr.synth.physiology import sample_cohort
from ecgcmr.synth.tables import diagnoses_table, main_table, outcome_columns
from ecgcmr.targets import build, ingest_tables


@pytest.fixture(scope="module")
def cfg(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


@pytest.fixture(scope="module")
def cohort(cfg):
    latents = sample_cohort(120, seed=5, prevalence={o: 0.2 for o in OUTCOMES})
    diag = diagnoses_table(latents, cfg["outcomes"], seed=5)
    return latents, diag


def _ingest(tmp_path, cfg, main, diag, name, window=None, **kw):
    out = tmp_path / name / "targets.parquet"
    ingest_tables(main, diag, out, tmp_path / name / "excl.csv", cfg["phenotype_fields"],
                  cfg["demographic_fields"], cfg["outcomes"], 2, window, **kw)
    return out


def _write(df: pd.DataFrame, path, sep=","):
    df.to_csv(path, index=False, sep=sep)
    return path


def _forms(tmp_path, cfg, latents):
    conv = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.05, seed=5)
    rap = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.05, seed=5, form="rap")
    assert "p24100_i2" in rap.columns and "p31" in rap.columns and "24100-2.0" in conv.columns
    dx = rap.rename(columns=lambda c: f"participant.{c}")          # dx extract_dataset header
    half = len(conv.columns) // 2
    return {
        "ukbconv_csv": [_write(conv, tmp_path / "conv.csv")],
        "ukbconv_tsv": [_write(conv, tmp_path / "conv.tsv", "\t")],
        "rap_csv": [_write(rap, tmp_path / "rap.csv")],
        "dx_tsv": [_write(dx, tmp_path / "dx.tsv", "\t")],
        "ukbconv_split": [_write(conv.iloc[:, :half], tmp_path / "c1.csv"),
                          _write(conv[["eid", *conv.columns[half:]]], tmp_path / "c2.tsv", "\t")],
        "rap_split": [_write(rap.iloc[:, :4], tmp_path / "r1.csv"),
                      _write(rap[["eid", *rap.columns[4:]]], tmp_path / "r2.csv")],
    }


@pytest.mark.parametrize("mode", ["any", "prevalent"])
def test_every_table_form_gives_byte_identical_targets(tmp_path, cfg, cohort, mode):
    latents, diag = cohort
    diag_csv = _write(diag, tmp_path / "diag.csv")
    window = {"mode": mode}
    outputs = {name: _ingest(tmp_path, cfg, paths, diag_csv, name, window).read_bytes()
               for name, paths in _forms(tmp_path, cfg, latents).items()}
    reference = outputs.pop("ukbconv_csv")
    assert pd.read_parquet(tmp_path / "ukbconv_csv" / "targets.parquet")["LVEF"].notna().sum() > 50
    for name, data in outputs.items():
        assert data == reference, name


@pytest.mark.parametrize("form", ["ukbconv", "rap"])
@pytest.mark.parametrize("mode", ["any", "prevalent", "incident"])
def test_labels_from_ukb_outcome_fields_equal_the_long_form(tmp_path, cfg, cohort, form, mode):
    latents, diag = cohort
    base = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.05, seed=5, form=form)
    fields = outcome_columns(diag, latents["eid"], cfg["outcomes"]["SCD"], form=form)
    assert (fields.iloc[:, 1] != "").sum() > 5        # some deaths (40001) carry the SCD codes
    with_fields = _write(base.merge(fields, on="eid"), tmp_path / "with_fields.csv")
    long_only = _write(base, tmp_path / "base.csv")
    diag_csv = _write(diag, tmp_path / "diag.csv")
    window = {"mode": mode}
    a = _ingest(tmp_path, cfg, long_only, diag_csv, "long", window)
    b = _ingest(tmp_path, cfg, with_fields, None, "fields", window)
    assert a.read_bytes() == b.read_bytes()
    prov = pd.read_csv(b.with_name("targets.provenance.csv"))
    scd = prov[(prov.source == "deaths") & (prov.outcome == "SCD")]
    assert scd.records.iloc[0] > 5 and set(prov.source) == {"fields", "deaths"}


def test_hesin_tables_give_the_long_form_labels(tmp_path, cfg, cohort):
    latents, diag = cohort
    base = _write(main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.0, seed=5),
                  tmp_path / "base.csv")
    d = diag.assign(ins_index=diag.groupby("eid").cumcount())
    hesin_diag = _write(d.rename(columns={"icd10": "diag_icd10"})[["eid", "ins_index", "diag_icd10"]],
                        tmp_path / "hesin_diag.txt", "\t")
    hesin = _write(d.rename(columns={"date": "epistart"})[["eid", "ins_index", "epistart"]],
                   tmp_path / "hesin.txt", "\t")
    window = {"mode": "prevalent"}
    a = _ingest(tmp_path, cfg, base, _write(diag, tmp_path / "d.csv"), "long", window)
    b = _ingest(tmp_path, cfg, base, None, "hesin", window, hesin_diag=hesin_diag, hesin=hesin)
    assert a.read_bytes() == b.read_bytes()


def _one(tmp_path, cfg, extra: dict, window="any", **kw):
    """Three subjects; ``extra`` adds outcome columns to the ukbconv main table."""
    latents = sample_cohort(3, seed=1)
    main = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.0, seed=1)
    for col, values in extra.items():
        main[col] = values
    path = _write(main, tmp_path / "m.csv")
    built = build(path, None, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"],
                  window=OutcomeWindow(mode=window), **kw)
    return built, list(main["eid"])


def test_code_without_date_labels_any_but_not_a_window(tmp_path, cfg):
    extra = {"41270-0.0": ["I48", "", ""], "41280-0.0": ["", "", ""]}
    built, eids = _one(tmp_path, cfg, extra)
    t = built.targets.set_index("eid")
    assert t.loc[eids[0], "AF"] == 1 and t.loc[eids[1], "AF"] == 0
    prov = built.provenance.set_index(["source", "outcome"])
    assert prov.loc[("fields", "AF"), "undated"] == 1
    built, _ = _one(tmp_path, cfg, extra, window="prevalent")
    t = built.targets.set_index("eid")
    assert pd.isna(t.loc[eids[0], "AF"]) and t.loc[eids[1], "AF"] == 0   # cannot be placed: missing


def test_date_without_code_labels_nothing_and_is_counted(tmp_path, cfg):
    extra = {"41270-0.0": ["", "I10", ""], "41280-0.0": ["2010-01-01", "2011-01-01", ""],
             "40001-0.0": ["", "", ""], "40000-0.0": ["", "", "2020-02-02"]}
    built, eids = _one(tmp_path, cfg, extra, window="prevalent")
    assert (built.targets[list(OUTCOMES)] == 0).all().all()
    prov = built.provenance.set_index(["source", "outcome"])
    assert prov.loc[("fields", "*"), "dates_without_code"] == 1
    assert prov.loc[("deaths", "*"), "dates_without_code"] == 1


def test_no_outcome_source_is_a_clear_error(tmp_path, cfg):
    from ecgcmr.errors import InputError

    with pytest.raises(InputError, match="no_outcome_source"):
        _one(tmp_path, cfg, {})


def test_eid_in_only_one_split_file_is_kept_and_listed(tmp_path, cfg, cohort):
    latents, diag = cohort
    conv = main_table(latents, cfg["phenotype_fields"], cfg["demographic_fields"], 2, 0.0, seed=5)
    pheno = [c for c in conv.columns if c.startswith("24")]
    d = _write(diag, tmp_path / "d.csv")
    a = _write(conv.drop(columns=pheno), tmp_path / "a.csv")               # eid, sex, age, visit: everyone
    b = _write(conv[["eid", *pheno]].iloc[1:], tmp_path / "b.csv")         # phenotypes: first subject lacks
    built = build([a, b], d, cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"])
    first = conv["eid"].iloc[0]
    t = built.targets.set_index("eid")
    assert len(t) == len(conv) and pd.isna(t.loc[first, "LVEF"]) and t["LVEF"].notna().sum() > 50
    [row] = [r for r in built.rows if r.eid == first]
    assert row.reason == "absent_from_table" and row.path == str(b)
    # a subject only in the phenotype file has no age/sex: excluded as such
    extra = pd.concat([conv[["eid", *pheno]].iloc[1:], pd.DataFrame({"eid": ["9999999"]})])
    built = build([a, _write(extra, tmp_path / "e.csv")], d, cfg["phenotype_fields"], cfg["demographic_fields"],
                  cfg["outcomes"])
    assert {r.reason for r in built.rows if r.eid == "9999999"} == {"absent_from_table", "missing_age_or_sex"}
    assert "9999999" not in set(built.targets.eid)


def test_synth_switches_write_the_forms_users_have(tmp_path, cfg, cohort):
    """synth.table_form / outcome_form / a main_table list: the demo's RAP main table with
    outcome fields gives the targets of the ukbconv table with the long-form table."""
    from ecgcmr.synth.cohort import write_tables

    latents, _ = cohort
    synth = {**cfg["synth"], "seed": 5, "missing_phenotype_rate": 0.05}
    old = {"main_table": str(tmp_path / "old" / "m.csv"), "diagnoses_table": str(tmp_path / "old" / "d.csv")}
    write_tables(latents, old, {**synth, "table_form": "ukbconv", "outcome_form": "long"},
                 cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"])
    new = {"main_table": [str(tmp_path / "new" / "a.csv"), str(tmp_path / "new" / "b.tsv")], "diagnoses_table": None}
    write_tables(latents, new, {**synth, "table_form": "rap", "outcome_form": "fields"},
                 cfg["phenotype_fields"], cfg["demographic_fields"], cfg["outcomes"])
    assert (tmp_path / "new" / "b.tsv").read_text().splitlines()[0].startswith("eid\tp")
    assert not (tmp_path / "new" / "d.csv").exists()
    a = _ingest(tmp_path, cfg, old["main_table"], old["diagnoses_table"], "o", {"mode": "prevalent"})
    b = _ingest(tmp_path, cfg, new["main_table"], None, "n", {"mode": "prevalent"})
    assert a.read_bytes() == b.read_bytes()

"""UK Biobank-style tables for the synthetic cohort.

- the main dataset as ukbconv writes it: ``eid`` plus ``<field>-<instance>.<array>``
  columns (phenotypes only for imaged subjects, a share of values left empty; the visit
  date, field 53, in 2014-2020 as the imaging visits were);
  or, with ``form="rap"``, as RAP's Table Exporter writes it (``p<field>_i<instance>``,
  ``p31``: UK Biobank drops the array part of single-array fields, and the instance
  part of single-instance ones);
- hospital diagnoses in long form ``eid, icd10, date`` (codes without the dot, as UKB's
  HES tables write them), or the same records as UK Biobank's own outcome fields
  (``outcome_columns``): 41270/41280 and, for sudden cardiac death, 40001/40000.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..phenotypes import OUTCOMES, phenotype_columns

# Common non-cardiac (or non-target) codes, so the table is not all outcome codes.
BACKGROUND_CODES = ["I10", "E119", "E785", "J459", "K219", "M179", "N390", "Z864"]
VISIT_DATE_FIELD = 53   # UKB "Date of attending assessment centre"


FORMS = ("ukbconv", "rap")


def column(field: int, instance: int, array: int = 0, form: str = "ukbconv", arrays: bool = False,
           instances: bool = True) -> str:
    """A column name as ukbconv (``24100-2.0``) or RAP (``p24100_i2``) writes it; RAP
    omits ``_a<array>`` unless the field has several (``arrays``) and ``_i<instance>``
    unless it has several (``instances``)."""
    if form == "ukbconv":
        return f"{field}-{instance}.{array}"
    if form != "rap":
        raise ValueError(f"table form {form!r}; expected one of {', '.join(FORMS)}")
    return f"p{field}" + (f"_i{instance}" if instances else "") + (f"_a{array}" if arrays else "")


def main_table(latents: pd.DataFrame, phenotype_fields: dict[str, int], demographic_fields: dict[str, int],
               instance: int, missing_rate: float, seed: int, form: str = "ukbconv") -> pd.DataFrame:
    rng = np.random.default_rng([seed, 20])
    out = pd.DataFrame({"eid": latents["eid"].astype(str)})
    out[column(demographic_fields["sex"], 0, form=form, instances=False)] = latents["sex"].astype(int)
    out[column(demographic_fields["age"], instance, form=form)] = latents["age"].round().astype(int)
    visit_rng = np.random.default_rng([seed, 21])   # its own stream: the other columns stay as they were
    visit = np.datetime64("2014-06-01") + visit_rng.integers(0, 6 * 365, len(latents))
    out[column(VISIT_DATE_FIELD, instance, form=form)] = pd.to_datetime(visit).strftime("%Y-%m-%d")
    # phenotypes of the imaged, and of any labelled subject whose zip is not written
    imaged = latents.get("has_labels", latents["has_cmr"]).to_numpy(bool)
    # Table 1's 12 first, in their order (each draws its missing mask from rng in turn),
    # then any other phenotype the config names that the generator has (LVESV, RVESV)
    columns = phenotype_columns(phenotype_fields)
    unknown = [n for n in columns if n not in latents.columns]
    if unknown:
        raise ValueError(f"phenotype_fields names {unknown}, which the synthetic generator does not make "
                         f"(it has {[c for c in latents.columns if c.isupper()]})")
    for name in columns:
        values = latents[name].round(2).to_numpy(float).copy()
        missing = ~imaged | (rng.random(len(values)) < missing_rate)
        values[missing] = np.nan
        out[column(phenotype_fields[name], instance, form=form)] = values
    return out


def outcome_columns(diagnoses: pd.DataFrame, eids: pd.Series, death_prefixes: list[str],
                    form: str = "ukbconv") -> pd.DataFrame:
    """The long-form records as UK Biobank's fields, one row per eid of ``eids``: a
    subject's first record whose code starts with one of ``death_prefixes`` becomes the
    primary cause of death (40001, dated by 40000), the others hospital diagnoses
    (41270 codes with 41280 dates at the same array index; RAP lists the codes in one
    ``p41270`` cell, ``|``-separated). The same records, so the same labels."""
    prefixes = tuple(death_prefixes)
    diag = diagnoses.assign(eid=diagnoses["eid"].astype(str))
    first_death = diag[diag["icd10"].str.startswith(prefixes)].drop_duplicates("eid").index
    is_death = diag.index.isin(first_death)
    out = pd.DataFrame({"eid": eids.astype(str).to_numpy()})
    deaths = diag[is_death].set_index("eid")
    out[column(40001, 0, form=form)] = out["eid"].map(deaths["icd10"]).fillna("")
    out[column(40000, 0, form=form)] = out["eid"].map(deaths["date"]).fillna("")
    hes = diag[~is_death].copy()
    hes["k"] = hes.groupby("eid").cumcount()
    codes = hes.pivot(index="eid", columns="k", values="icd10").reindex(out["eid"])
    dates = hes.pivot(index="eid", columns="k", values="date").reindex(out["eid"])
    if form == "rap":
        out[column(41270, 0, form=form, instances=False)] = [
            "|".join(c for c in row if isinstance(c, str)) for row in codes.to_numpy()]
    for k in codes.columns:
        if form == "ukbconv":
            out[column(41270, 0, k)] = codes[k].fillna("").to_numpy()
        out[column(41280, 0, k, form=form, arrays=True, instances=False)] = dates[k].fillna("").to_numpy()
    return out


def diagnoses_table(latents: pd.DataFrame, outcomes: dict[str, list[str]], seed: int) -> pd.DataFrame:
    """One or more ICD-10 rows per positive outcome, never a code that would also
    label an outcome the subject does not have (I42 is both HF- and CMP-coded)."""
    rng = np.random.default_rng([seed, 30])
    start = np.datetime64("2000-01-01")
    rows = []
    for _, subj in latents.iterrows():
        negative = [o for o in OUTCOMES if not subj[o]]
        for outcome in OUTCOMES:
            if not subj[outcome]:
                continue
            candidates = [c for c in _expand(outcomes[outcome])
                          if not any(c.startswith(p) for o in negative for p in outcomes[o])]
            if candidates:
                rows.append((subj["eid"], str(rng.choice(candidates)), start + int(rng.integers(0, 8400))))
        for code in rng.choice(BACKGROUND_CODES, size=rng.integers(0, 3), replace=False):
            if not any(code.startswith(p) for o in negative for p in outcomes[o]):
                rows.append((subj["eid"], str(code), start + int(rng.integers(0, 8400))))
    df = pd.DataFrame(rows, columns=["eid", "icd10", "date"])
    df["date"] = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d")
    return df.sort_values(["eid", "date", "icd10"], kind="stable").reset_index(drop=True)


def _expand(prefixes: list[str]) -> list[str]:
    """Three-character categories get a fourth character (I21 -> I210..I219), as HES records."""
    codes = []
    for p in prefixes:
        codes += [p + str(d) for d in range(10)] if len(p) == 3 else [p]
    return codes

"""UK Biobank-style tables for the synthetic cohort.

- the main dataset as ukbconv writes it: ``eid`` plus ``<field>-<instance>.<array>``
  columns (phenotypes only for imaged subjects, a share of values left empty; the visit
  date, field 53, in 2014-2020 as the imaging visits were);
- hospital diagnoses in long form ``eid, icd10, date`` (codes without the dot, as UKB's
  HES tables write them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..phenotypes import OUTCOMES, PHENOTYPES

# Common non-cardiac (or non-target) codes, so the table is not all outcome codes.
BACKGROUND_CODES = ["I10", "E119", "E785", "J459", "K219", "M179", "N390", "Z864"]
VISIT_DATE_FIELD = 53   # UKB "Date of attending assessment centre"


def main_table(latents: pd.DataFrame, phenotype_fields: dict[str, int], demographic_fields: dict[str, int],
               instance: int, missing_rate: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 20])
    out = pd.DataFrame({"eid": latents["eid"].astype(str)})
    out[f"{demographic_fields['sex']}-0.0"] = latents["sex"].astype(int)
    out[f"{demographic_fields['age']}-{instance}.0"] = latents["age"].round().astype(int)
    visit_rng = np.random.default_rng([seed, 21])   # its own stream: the other columns stay as they were
    visit = np.datetime64("2014-06-01") + visit_rng.integers(0, 6 * 365, len(latents))
    out[f"{VISIT_DATE_FIELD}-{instance}.0"] = pd.to_datetime(visit).strftime("%Y-%m-%d")
    imaged = latents["has_cmr"].to_numpy(bool)
    for name in PHENOTYPES:
        values = latents[name].round(2).to_numpy(float).copy()
        missing = ~imaged | (rng.random(len(values)) < missing_rate)
        values[missing] = np.nan
        out[f"{phenotype_fields[name]}-{instance}.0"] = values
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

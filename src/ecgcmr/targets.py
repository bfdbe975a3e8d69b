"""``ingest_tables``: phenotype and diagnosis tables -> one targets table.

Output columns: eid, the 12 phenotypes (NaN where missing), the 6 outcomes (Int8, NA
where the outcome window cannot label the subject: ``ecgcmr.outcomes``), age, sex.
Subjects are those of the main table; a duplicated eid or a subject with no age/sex is
excluded and listed, and so is, from the outcomes only, a subject without a visit date
when the outcome window needs one.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import exclusions as excl
from .errors import InputError
from .io.ukb_tables import field_column, read_diagnoses, read_fields
from .outcomes import OutcomeWindow, outcome_labels
from .phenotypes import OUTCOMES, PHENOTYPES

log = logging.getLogger(__name__)
STAGE = "ingest_tables"


def build_targets(main_table: str | Path, diagnoses_table: str | Path, phenotype_fields: dict[str, int],
                  demographic_fields: dict[str, int], outcomes: dict[str, list[str]],
                  instance: int = 2, window: OutcomeWindow = OutcomeWindow(),
                  ) -> tuple[pd.DataFrame, list[excl.Exclusion]]:
    missing = [p for p in PHENOTYPES if p not in phenotype_fields]
    if missing:
        raise ValueError(f"phenotype_fields lacks {missing}")
    columns = {name: field_column(phenotype_fields[name], instance) for name in PHENOTYPES}
    columns["age"] = field_column(demographic_fields["age"], instance)
    columns["sex"] = field_column(demographic_fields["sex"], 0)
    if window.windowed:
        columns["visit_date"] = field_column(window.visit_date_field, instance)
    table = read_fields(main_table, columns, dates=("visit_date",) if window.windowed else ())

    rows: list[excl.Exclusion] = []
    dup = table["eid"].duplicated(keep="first")
    for eid in table.loc[dup, "eid"]:
        rows.append(excl.Exclusion(eid, STAGE, "duplicate_eid", "eid repeated in main table; first row kept",
                                   str(main_table)))
    table = table[~dup]
    no_demo = table["age"].isna() | table["sex"].isna()
    for eid in table.loc[no_demo, "eid"]:
        rows.append(excl.Exclusion(eid, STAGE, "missing_age_or_sex", "", str(main_table)))
    table = table[~no_demo].reset_index(drop=True)

    diagnoses = read_diagnoses(diagnoses_table)
    visits = None
    if window.windowed:
        if "date" not in diagnoses.columns:
            raise InputError(diagnoses_table, "missing_columns",
                             f"date (outcome_window.mode={window.mode} places diagnoses in time)")
        visits = table.set_index("eid")["visit_date"]
        for eid in table.loc[table["visit_date"].isna(), "eid"]:
            rows.append(excl.Exclusion(eid, STAGE, "missing_visit_date",
                                       f"no {columns['visit_date']}: outcome labels left missing "
                                       f"(outcome_window.mode={window.mode}); phenotypes kept", str(main_table)))
    labels = outcome_labels(diagnoses, table["eid"], outcomes, window, visits)
    targets = table.merge(labels, on="eid", how="left")
    targets["sex"] = targets["sex"].astype(np.int8)
    targets = targets[["eid", *PHENOTYPES, *OUTCOMES, "age", "sex"]]
    return targets, rows


def ingest_tables(main_table, diagnoses_table, out_targets, out_exclusions, phenotype_fields,
                  demographic_fields, outcomes, instance=2, outcome_window: dict | None = None) -> pd.DataFrame:
    window = OutcomeWindow.from_config(outcome_window)
    targets, rows = build_targets(main_table, diagnoses_table, phenotype_fields, demographic_fields,
                                  outcomes, instance, window)
    Path(out_targets).parent.mkdir(parents=True, exist_ok=True)
    targets.to_parquet(out_targets, index=False)
    excl.write(rows, out_exclusions)
    prevalence = ", ".join(f"{o} {targets[o].mean():.1%} (n={targets[o].notna().sum()})" for o in OUTCOMES)
    log.info("targets: %d subjects, %d excluded; outcomes (%s window): %s", len(targets), len(rows),
             window.mode, prevalence)
    return targets


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config/config.yaml", help="pipeline config (fields, outcomes)")
    p.add_argument("--main-table", required=True)
    p.add_argument("--diagnoses", required=True)
    p.add_argument("--out", required=True, help="targets parquet")
    p.add_argument("--exclusions", required=True, help="exclusions CSV")


def cli(args) -> int:
    from .config import load_config

    cfg = load_config(args.config)
    # a bad table raises InputError: ecgcmr.cli prints it as one line and exits 2
    ingest_tables(args.main_table, args.diagnoses, args.out, args.exclusions, cfg["phenotype_fields"],
                  cfg["demographic_fields"], cfg["outcomes"], cfg["cohort"].get("instance", 2),
                  cfg.get("outcome_window"))
    return 0

"""``ingest_tables``: the main table(s) and the outcome sources -> one targets table.

Output columns: eid, the 12 phenotypes (NaN where missing), the 6 outcomes (Int8, NA
where the outcome window cannot label the subject: ``ecgcmr.outcomes``), age, sex.
Subjects are those of the main table (the union of its files, ``ecgcmr.io.ukb_tables``);
a duplicated eid or a subject with no age/sex is excluded and listed, and so is, from
the outcomes only, a subject without a visit date when the outcome window needs one.
A value that is not a number (or a date where one is needed) is left missing and
listed with its column. Outcome records come from every source configured
(``ecgcmr.outcome_sources``); how many each gave is written beside the targets.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import exclusions as excl
from . import outcome_sources as src
from .errors import InputError
from .io.ukb_tables import MainTables, field_column, to_dates, to_numbers
from .outcomes import OutcomeWindow, outcome_labels
from .phenotypes import OUTCOMES, PHENOTYPES, phenotype_columns

log = logging.getLogger(__name__)
STAGE = "ingest_tables"


@dataclass
class Built:
    targets: pd.DataFrame
    rows: list[excl.Exclusion]
    provenance: pd.DataFrame
    counts: Counter


def build_targets(main_table, diagnoses_table, phenotype_fields: dict[str, int],
                  demographic_fields: dict[str, int], outcomes: dict[str, list[str]],
                  instance: int = 2, window: OutcomeWindow = OutcomeWindow(), **sources,
                  ) -> tuple[pd.DataFrame, list[excl.Exclusion]]:
    built = build(main_table, diagnoses_table, phenotype_fields, demographic_fields, outcomes, instance,
                  window, **sources)
    return built.targets, built.rows


def build(main_table, diagnoses_table, phenotype_fields: dict[str, int], demographic_fields: dict[str, int],
          outcomes: dict[str, list[str]], instance: int = 2, window: OutcomeWindow = OutcomeWindow(),
          outcome_fields: dict | None = src.DEFAULT_FIELDS, hesin_diag=None, hesin=None) -> Built:
    """``main_table``: one path or a list (joined on eid); ``diagnoses_table``,
    ``hesin_diag``/``hesin`` optional; ``outcome_fields`` (None: not read) names the
    41270/41280/4000x fields of the main table."""
    missing = [p for p in PHENOTYPES if p not in phenotype_fields]
    if missing:
        raise ValueError(f"phenotype_fields lacks {missing}")
    # beyond Table 1's 12, any named phenotype (e.g. LVESV 24101, RVESV 24107 as CMR
    # pretraining targets) is read alike and kept after them
    columns = phenotype_columns(phenotype_fields)
    keys = {name: (int(phenotype_fields[name]), instance, 0) for name in columns}
    keys["age"] = (int(demographic_fields["age"]), instance, 0)
    keys["sex"] = (int(demographic_fields["sex"]), 0, 0)
    if window.windowed:
        keys["visit_date"] = (int(window.visit_date_field), instance, 0)
    tables = MainTables(main_table)
    okeys = [k for k in src.field_keys(tables, outcome_fields) if k not in keys.values()]
    raw, problems, counts = tables.read([*keys.values(), *okeys])
    counts = Counter(counts)
    rows = [excl.Exclusion(p.eid, STAGE, p.reason, p.detail, p.path) for p in problems]
    dup = {p.eid for p in problems if p.reason == "duplicate_eid"}
    table = pd.DataFrame({"eid": raw["eid"]})
    for name, key in keys.items():
        col = field_column(*key)
        values, bad = to_dates(raw[col]) if name == "visit_date" else to_numbers(raw[col])
        table[name] = values
        counts[f"bad_{'date' if name == 'visit_date' else 'number'}:{col}"] += int(bad.sum())
        for eid, text in zip(raw.loc[bad, "eid"], raw.loc[bad, col]):
            what = "a date" if name == "visit_date" else "a number"
            rows.append(excl.Exclusion(eid, STAGE, "bad_date" if name == "visit_date" else "non_numeric_value",
                                       f"{tables.label(key)} = {text!r} is not {what}: left missing",
                                       str(tables.path_of(key))))
    no_demo = table["age"].isna() | table["sex"].isna()
    for eid in table.loc[no_demo, "eid"]:
        rows.append(excl.Exclusion(eid, STAGE, "missing_age_or_sex", "", str(tables.path_of(keys["age"]))))
    keep = ~no_demo
    table, raw = table[keep].reset_index(drop=True), raw[keep].reset_index(drop=True)

    diagnoses = _diagnoses(raw, tables, diagnoses_table, outcome_fields, hesin_diag, hesin, window, counts)
    visits = None
    if window.windowed:
        visits = table.set_index("eid")["visit_date"]
        label = field_column(*keys["visit_date"])
        for eid in table.loc[table["visit_date"].isna(), "eid"]:
            rows.append(excl.Exclusion(eid, STAGE, "missing_visit_date",
                                       f"no {label}: outcome labels left missing "
                                       f"(outcome_window.mode={window.mode}); phenotypes kept",
                                       str(tables.path_of(keys["visit_date"]))))
        rows += _bad_diagnosis_dates(diagnoses, table["eid"], outcomes, window)
    labels = outcome_labels(diagnoses, table["eid"], outcomes, window, visits)
    targets = table.merge(labels, on="eid", how="left")
    targets["sex"] = targets["sex"].astype(np.int8)
    targets = targets[["eid", *columns, *OUTCOMES, "age", "sex"]]
    prov = src.provenance(diagnoses, table["eid"], outcomes, counts)
    return Built(targets, rows, prov, counts)


def _diagnoses(raw, tables, diagnoses_table, outcome_fields, hesin_diag, hesin, window, counts) -> pd.DataFrame:
    frames = src.from_fields(raw, tables, outcome_fields, counts) if outcome_fields else []
    if hesin_diag:
        frames.append(src.from_hesin(hesin_diag, hesin, counts))
    if diagnoses_table:
        long = src.from_long_table(diagnoses_table)
        if window.windowed and (long["date_text"] == "").all() and len(long):
            raise InputError(diagnoses_table, "missing_columns",
                             f"date (outcome_window.mode={window.mode} places diagnoses in time)")
        frames.append(long)
    if not frames:
        raise InputError(", ".join(map(str, tables.paths)), "no_outcome_source",
                         "no diagnoses_table, no hesin_diag and no outcome field columns "
                         f"({', '.join(f'{k}={v}' for k, v in (outcome_fields or {}).items())}) in the main table")
    return pd.concat(frames, ignore_index=True)


def _bad_diagnosis_dates(diagnoses, eids, outcomes, window) -> list[excl.Exclusion]:
    """Outcome codes whose date is present but not a date: they cannot be placed
    against the visit, so the labels they would decide may be missing."""
    prefixes = tuple(p.upper().replace(".", "") for ps in outcomes.values() for p in ps)
    bad = ((diagnoses["date_text"] != "") & diagnoses["date"].isna() & diagnoses["eid"].isin(set(eids))
           & diagnoses["icd10"].str.startswith(prefixes))
    return [excl.Exclusion(r.eid, STAGE, "bad_diagnosis_date",
                           f"{r.icd10} ({r.source}) dated {r.date_text!r}, not a date: treated as undated "
                           f"(outcome_window.mode={window.mode})", r.path) for r in diagnoses[bad].itertuples()]


def provenance_path(out_targets: str | Path) -> Path:
    """``targets.provenance.csv`` beside ``targets.parquet``."""
    p = Path(out_targets)
    return p.with_name(p.name.split(".")[0] + ".provenance.csv")


def ingest_tables(main_table, diagnoses_table, out_targets, out_exclusions, phenotype_fields,
                  demographic_fields, outcomes, instance=2, outcome_window: dict | None = None,
                  outcome_fields: dict | None = src.DEFAULT_FIELDS, hesin_diag=None, hesin=None,
                  out_provenance=None) -> pd.DataFrame:
    window = OutcomeWindow.from_config(outcome_window)
    built = build(main_table, diagnoses_table, phenotype_fields, demographic_fields, outcomes, instance, window,
                  outcome_fields, hesin_diag, hesin)
    targets, rows = built.targets, built.rows
    Path(out_targets).parent.mkdir(parents=True, exist_ok=True)
    targets.to_parquet(out_targets, index=False)
    excl.write(rows, out_exclusions)
    built.provenance.to_csv(out_provenance or provenance_path(out_targets), index=False)
    for what, n in sorted(built.counts.items()):
        if n:
            log.warning("%s: %d", what, n) if what.startswith(("bad_", "rows_without")) else log.info("%s: %d", what, n)
    for r in built.provenance.itertuples():
        if r.outcome == "*":
            log.info("outcome source %s: %d records (%d undated, %d malformed dates, %d dates without a code)",
                     r.source, r.records, r.undated, r.bad_dates, r.dates_without_code)
        elif r.records:
            log.info("  %s from %s: %d records, %d subjects", r.outcome, r.source, r.records, r.subjects)
    prevalence = ", ".join(f"{o} {targets[o].mean():.1%} (n={targets[o].notna().sum()})" for o in OUTCOMES)
    log.info("targets: %d subjects, %d excluded; outcomes (%s window): %s", len(targets), len(rows),
             window.mode, prevalence)
    return targets


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config/config.yaml", help="pipeline config (fields, outcomes)")
    p.add_argument("--main-table", required=True, nargs="+", help="main table file(s), joined on eid")
    p.add_argument("--diagnoses", default=None, help="long-form eid, icd10, date table (optional)")
    p.add_argument("--hesin-diag", default=None)
    p.add_argument("--hesin", default=None)
    p.add_argument("--out", required=True, help="targets parquet")
    p.add_argument("--exclusions", required=True, help="exclusions CSV")


def cli(args) -> int:
    from .config import load_config

    cfg = load_config(args.config)
    # a bad table raises InputError: ecgcmr.cli prints it as one line and exits 2
    ingest_tables(args.main_table, args.diagnoses, args.out, args.exclusions, cfg["phenotype_fields"],
                  cfg["demographic_fields"], cfg["outcomes"], cfg["cohort"].get("instance", 2),
                  cfg.get("outcome_window"), cfg.get("outcome_fields", src.DEFAULT_FIELDS),
                  args.hesin_diag, args.hesin)
    return 0

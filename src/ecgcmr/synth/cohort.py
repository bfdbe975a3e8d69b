"""``synth_cohort``: a synthetic cohort written in the real UK Biobank formats.

Writes, from one latent physiology table (kept as ground truth):
field-20205 CardioSoft XMLs, field-20209 short-axis DICOM zips (+ label maps), the
main dataset (ukbconv or RAP form) and the outcome records (long-form CSV and/or
UK Biobank's 41270/41280/4000x fields). Subjects are rendered independently from
``rng([seed, eid])``, so the result is byte-identical whatever the number of workers.
A few files can be damaged on purpose (``synth.faults``) so that a demo run shows the
exclusions table at work.
"""

from __future__ import annotations

import argparse
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from ..ids import bulk_name
from .physiology import sample_cohort
from .tables import diagnoses_table, main_table, outcome_columns

log = logging.getLogger(__name__)


def _render_ecg(args):
    from .ecg import write_subject_ecg

    row, path, cfg, seed = args
    write_subject_ecg(row, path, cfg, seed)


def _render_cmr(args):
    from .cmr import write_subject_cmr

    row, zip_path, label_path, cfg, seed = args
    write_subject_cmr(row, zip_path, label_path, cfg, seed)


def _damage(latents: pd.DataFrame, ecg_dir: Path, cmr_dir: Path, faults: dict, instance: int) -> pd.DataFrame:
    """Truncate a few files, as interrupted downloads do; the choice is deterministic."""
    rows = []
    n_xml, n_zip = int(faults.get("truncated_xml", 0)), int(faults.get("truncated_zip", 0))
    for eid in latents["eid"].iloc[:n_xml]:
        p = ecg_dir / bulk_name(eid, 20205, instance, 0, "xml")
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        rows.append((eid, str(p), "truncated_xml"))
    imaged = latents.loc[latents["has_cmr"], "eid"]
    for eid in imaged.iloc[-n_zip:] if n_zip else []:
        p = cmr_dir / bulk_name(eid, 20209, instance, 0, "zip")
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
        rows.append((eid, str(p), "truncated_zip"))
    return pd.DataFrame(rows, columns=["eid", "path", "fault"])


def _main_paths(cohort: dict) -> list[Path]:
    main = cohort["main_table"]
    return [Path(p) for p in ([main] if isinstance(main, str) else main)]


def write_tables(latents: pd.DataFrame, cohort: dict, synth: dict, phenotype_fields: dict,
                 demographic_fields: dict, outcomes: dict) -> None:
    """The main table in ``synth.table_form`` (ukbconv | rap; split column-wise over
    the files of a ``cohort.main_table`` list, each with eid; ``.tsv`` files
    tab-separated), with the outcome records as UKB fields if ``synth.outcome_form``
    is ``fields``, and as the long-form table wherever ``cohort.diagnoses_table`` is set."""
    form, seed, instance = synth.get("table_form", "ukbconv"), synth["seed"], cohort.get("instance", 2)
    table = main_table(latents, phenotype_fields, demographic_fields, instance,
                       synth.get("missing_phenotype_rate", 0.0), seed, form=form)
    diag = diagnoses_table(latents, outcomes, seed)
    if synth.get("outcome_form", "long") == "fields":
        table = table.merge(outcome_columns(diag, latents["eid"], outcomes["SCD"], form), on="eid")
    paths = _main_paths(cohort)
    cols = list(table.columns[1:])
    per = -(-len(cols) // len(paths))
    for k, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        table[["eid", *cols[k * per:(k + 1) * per]]].to_csv(path, index=False,
                                                              sep="\t" if path.suffix == ".tsv" else ",")
    if cohort.get("diagnoses_table"):
        Path(cohort["diagnoses_table"]).parent.mkdir(parents=True, exist_ok=True)
        diag.to_csv(cohort["diagnoses_table"], index=False)


def write_cohort(cohort: dict, synth: dict, phenotype_fields: dict, demographic_fields: dict,
                 outcomes: dict, done_flag: str | Path, workers: int = 1) -> pd.DataFrame:
    ecg_dir, cmr_dir, truth = Path(cohort["ecg_dir"]), Path(cohort["cmr_dir"]), Path(cohort["truth_dir"])
    for d in (ecg_dir, cmr_dir, truth / "masks"):
        d.mkdir(parents=True, exist_ok=True)
    instance, seed, cmr_cfg = cohort.get("instance", 2), synth["seed"], synth["cmr"]
    latents = sample_cohort(synth["n_subjects"], seed, synth.get("eid_start", 1_000_000),
                            synth["cmr_fraction"], cmr_cfg["n_frames"], cmr_cfg["es_fraction"],
                            synth.get("outcome_prevalence"))

    subjects = [row for _, row in latents.iterrows()]
    ecg_jobs = [(row, ecg_dir / bulk_name(row.eid, 20205, instance, 0, "xml"), synth["ecg"], seed)
                for row in subjects]
    cmr_jobs = [(row, cmr_dir / bulk_name(row.eid, 20209, instance, 0, "zip"),
                 truth / "masks" / f"{row.eid}_labels.nii.gz", cmr_cfg, seed)
                for row in subjects if row.has_cmr]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_render_ecg, ecg_jobs, chunksize=8))
            list(pool.map(_render_cmr, cmr_jobs, chunksize=2))
    else:
        for job in ecg_jobs:
            _render_ecg(job)
        for job in cmr_jobs:
            _render_cmr(job)

    write_tables(latents, cohort, synth, phenotype_fields, demographic_fields, outcomes)
    latents.to_parquet(truth / "latents.parquet", index=False)
    _damage(latents, ecg_dir, cmr_dir, synth.get("faults", {}), instance).to_csv(truth / "faults.csv", index=False)
    Path(done_flag).parent.mkdir(parents=True, exist_ok=True)
    Path(done_flag).write_text(f"{len(latents)} subjects, {len(cmr_jobs)} with CMR\n")
    log.info("synthetic cohort: %d subjects, %d with CMR", len(latents), len(cmr_jobs))
    return latents


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config/config.yaml", help="pipeline config with cohort/synth sections")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)


def cli(args) -> int:
    import yaml

    cfg = yaml.safe_load(Path(args.config).read_text())
    write_cohort(cfg["cohort"], cfg["synth"], cfg["phenotype_fields"], cfg["demographic_fields"],
                 cfg["outcomes"], Path(cfg["results_dir"]) / "raw" / "synth.done", args.workers)
    return 0

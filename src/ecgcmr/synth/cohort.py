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


def bulk_path(directory: Path, eid, field: int, instance: int, array: int, ext: str, layout: str = "flat") -> Path:
    """Where a bulk file lies: flat (ukbfetch) or in a folder per 2-digit eid prefix (RAP)."""
    name = bulk_name(eid, field, instance, array, ext)
    if layout == "flat":
        return directory / name
    if layout == "rap":
        return directory / str(eid)[:2] / name
    raise ValueError(f"synth.layout is {layout!r}; expected flat or rap")


def _damage(latents: pd.DataFrame, ecg_dir: Path, cmr_dir: Path, faults: dict, instance: int,
            layout: str = "flat") -> pd.DataFrame:
    """Truncate a few files, as interrupted downloads do; the choice is deterministic."""
    rows = []
    n_xml, n_zip = int(faults.get("truncated_xml", 0)), int(faults.get("truncated_zip", 0))
    for eid in latents["eid"].iloc[:n_xml]:
        p = bulk_path(ecg_dir, eid, 20205, instance, 0, "xml", layout)
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        rows.append((eid, str(p), "truncated_xml"))
    imaged = latents.loc[latents["has_cmr"], "eid"]
    for eid in imaged.iloc[-n_zip:] if n_zip else []:
        p = bulk_path(cmr_dir, eid, 20209, instance, 0, "zip", layout)
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
        rows.append((eid, str(p), "truncated_zip"))
    return pd.DataFrame(rows, columns=["eid", "path", "fault"])


def _extra_files(latents: pd.DataFrame, ecg_dir: Path, cmr_dir: Path, extra: dict, instance: int,
                 layout: str) -> pd.DataFrame:
    """Files real bulk folders hold beside the ones ingest uses (``synth.extra_files``):
    an instance-3 (repeat imaging visit) ECG and zip, a repeat ``_2_1`` ECG and zip, or
    a zip of instance 3 only. Drawn from imaged subjects after the first (whose ECG a
    fault may truncate), in order."""
    n_other, n_rep, n_only = (int(extra.get(k, 0)) for k in ("other_instance", "repeat", "other_instance_only"))
    imaged = list(latents.loc[latents["has_cmr"], "eid"].iloc[1:1 + n_other + n_rep + n_only])
    rows = []
    for k, eid in enumerate(imaged):
        for field, ext, folder in ((20205, "xml", ecg_dir), (20209, "zip", cmr_dir)):
            src = bulk_path(folder, eid, field, instance, 0, ext, layout)
            if k < n_other:
                dst, kind = bulk_path(folder, eid, field, instance + 1, 0, ext, layout), "other_instance"
            elif k < n_other + n_rep:
                dst, kind = bulk_path(folder, eid, field, instance, 1, ext, layout), "repeat_file"
            elif field == 20209:
                dst, kind = bulk_path(folder, eid, field, instance + 1, 0, ext, layout), "other_instance_only"
                src.rename(dst)
                rows.append((eid, str(dst), kind))
                continue
            else:
                continue
            dst.write_bytes(src.read_bytes())
            rows.append((eid, str(dst), kind))
    return pd.DataFrame(rows, columns=["eid", "path", "kind"])


def _main_paths(cohort: dict) -> list[Path]:
    main = cohort["main_table"]
    return [Path(p) for p in ([main] if isinstance(main, str) else main)]


def labelled(latents: pd.DataFrame, n_without_cmr: int) -> pd.Series:
    """Who has phenotypes in the main table: every subject with a CMR, and the first
    ``n_without_cmr`` of the others by eid (their IDPs exist, their zip is not written:
    the labelled ECG-only test subjects of ``splits.labelled_ecg_test``). No random
    draw, so the rest of the cohort is the same for any count."""
    others = latents.loc[~latents["has_cmr"], "eid"].astype(str).sort_values()
    if n_without_cmr > len(others):
        raise ValueError(f"synth.labelled_ecg_only = {n_without_cmr}, but only {len(others)} subjects have no CMR")
    return latents["has_cmr"] | latents["eid"].astype(str).isin(set(others.iloc[:n_without_cmr]))


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
                            synth.get("outcome_prevalence"), synth["ecg_contractility"])
    latents["has_labels"] = labelled(latents, synth.get("labelled_ecg_only", 0))

    subjects = [row for _, row in latents.iterrows()]
    layout = synth.get("layout", "flat")
    ecg_jobs = [(row, bulk_path(ecg_dir, row.eid, 20205, instance, 0, "xml", layout), synth["ecg"], seed)
                for row in subjects]
    cmr_jobs = [(row, bulk_path(cmr_dir, row.eid, 20209, instance, 0, "zip", layout),
                 truth / "masks" / f"{row.eid}_labels.nii.gz", cmr_cfg, seed)
                for row in subjects if row.has_cmr]
    for job in ecg_jobs + cmr_jobs:
        job[1].parent.mkdir(parents=True, exist_ok=True)
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
    _damage(latents, ecg_dir, cmr_dir, synth.get("faults", {}), instance, layout).to_csv(truth / "faults.csv",
                                                                                          index=False)
    _extra_files(latents, ecg_dir, cmr_dir, synth.get("extra_files", {}), instance, layout).to_csv(
        truth / "extra_files.csv", index=False)
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

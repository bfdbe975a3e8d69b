"""The UK Biobank fields a run reads, generated from its config, so the list in
docs/ukb-data.md cannot drift from what the pipeline asks for.

    python -m ecgcmr.field_list                      # print the table for config/ukb.yaml
    python -m ecgcmr.field_list --write docs/ukb-data.md   # refresh the doc's table

tests/test_ukb_docs.py checks that the doc holds the current table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .phenotypes import PHENOTYPES

BEGIN, END = "<!-- field-list:begin (python -m ecgcmr.field_list --write docs/ukb-data.md) -->", \
    "<!-- field-list:end -->"
REPO = Path(__file__).resolve().parents[2]


def merged_config(*paths: str | Path) -> dict:
    """Later files over earlier ones, key by key (as ``snakemake --configfile``)."""
    def merge(a: dict, b: dict) -> dict:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out
    cfg: dict = {}
    for p in paths:
        cfg = merge(cfg, yaml.safe_load(Path(p).read_text()) or {})
    return cfg


def rows(cfg: dict) -> list[tuple[str, int, str, str, str]]:
    """(what, field, ukbconv columns, RAP names, config key) for every field."""
    i = int(cfg["cohort"].get("instance", 2))
    out = [("12-lead resting ECG, CardioSoft XML (bulk)", 20205, f"bulk `{{eid}}_20205_{i}_0.xml`",
            "`Bulk/Electrocardiogram/Resting/`", "cohort.ecg_dir"),
           ("Short-axis cine, DICOM zip (bulk)", 20209, f"bulk `{{eid}}_20209_{i}_0.zip`",
            "`Bulk/Heart MRI/Short axis/`", "cohort.cmr_dir")]
    demo = cfg["demographic_fields"]
    out.append(("Sex (0 female, 1 male)", demo["sex"], f"`{demo['sex']}-0.0`", f"`p{demo['sex']}`",
                "demographic_fields.sex"))
    out.append(("Age when attended assessment centre", demo["age"], f"`{demo['age']}-{i}.0`",
                f"`p{demo['age']}_i{i}`", "demographic_fields.age"))
    window = cfg.get("outcome_window") or {}
    if window.get("mode", "any") != "any" or window.get("visit_date_field"):
        v = int(window.get("visit_date_field", 53))
        out.append(("Date of attending assessment centre (needed by outcome_window prevalent/incident)", v,
                    f"`{v}-{i}.0`", f"`p{v}_i{i}`", "outcome_window.visit_date_field"))
    for name, fid in cfg["phenotype_fields"].items():
        desc, unit = PHENOTYPES[name]
        out.append((f"{desc} ({name}, {unit})", fid, f"`{fid}-{i}.0`", f"`p{fid}_i{i}`", f"phenotype_fields.{name}"))
    of = cfg.get("outcome_fields") or {}
    described = {
        "icd10": ("Hospital inpatient diagnoses, ICD-10 (all array indices)", "`{f}-0.0` … `{f}-0.N`",
                  "`p{f}` (one cell, codes joined by a pipe) or `p{f}_a0` …"),
        "icd10_date": ("Date of first inpatient diagnosis (array index = the diagnosis's)", "`{f}-0.0` … `{f}-0.N`",
                       "`p{f}_a0` … `p{f}_aN`"),
        "death_primary": ("Underlying (primary) cause of death, ICD-10", "`{f}-0.0`, `{f}-1.0`",
                          "`p{f}_i0`, `p{f}_i1`"),
        "death_secondary": ("Contributory (secondary) causes of death, ICD-10", "`{f}-0.0` … `{f}-1.N`",
                            "`p{f}_i0_a0` …"),
        "death_date": ("Date of death (instance = the causes')", "`{f}-0.0`, `{f}-1.0`", "`p{f}_i0`, `p{f}_i1`"),
    }
    for key, (desc, conv, rap) in described.items():
        if of.get(key) is not None:
            f = int(of[key])
            out.append((desc, f, conv.format(f=f), rap.format(f=f), f"outcome_fields.{key}"))
    return out


def table(cfg: dict) -> str:
    lines = ["| what | field | ukbconv column(s) | RAP field name(s) | config key |", "|---|---|---|---|---|"]
    lines += [f"| {w} | {f} | {c} | {r} | `{k}` |" for w, f, c, r, k in rows(cfg)]
    return "\n".join(lines)


def block(cfg: dict) -> str:
    return f"{BEGIN}\n{table(cfg)}\n{END}"


def refresh(doc: str, cfg: dict) -> str:
    """``doc`` with the text between the markers replaced by the current table."""
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    return doc[:start] + block(cfg) + doc[end:]


def default_config() -> dict:
    return merged_config(REPO / "config" / "config.yaml", REPO / "config" / "ukb.yaml")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", nargs="*", help="config files, later over earlier (default: config.yaml + ukb.yaml)")
    p.add_argument("--write", help="markdown file whose field-list block to refresh")
    args = p.parse_args(argv)
    cfg = merged_config(*args.config) if args.config else default_config()
    if args.write:
        path = Path(args.write)
        path.write_text(refresh(path.read_text(), cfg))
    else:
        sys.stdout.write(table(cfg) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

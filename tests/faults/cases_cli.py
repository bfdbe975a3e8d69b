"""Wrong command lines: a config that is missing, malformed or off-schema, missing
input files. Each is one line on stderr naming the file and the reason, exit code 2,
nothing written, no traceback."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import yaml

from ecgcmr.cli import main as ecgcmr_main

from . import data
from .registry import Silent, Unclear, case

AREA = "command line"


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _run(tmp, argv) -> tuple[int, str]:
    err = io.StringIO()
    with _cwd(tmp), contextlib.redirect_stderr(err):
        rc = ecgcmr_main(argv)
    return rc, err.getvalue()


def _one_line_error(tmp, argv, *needles, outputs=()):
    rc, err = _run(tmp, argv)
    if rc == 0:
        raise Silent(f"exit 0 for {argv}: {err}")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if rc != 2 or len(lines) != 1 or "Traceback" in err:
        raise Unclear(f"exit {rc}, stderr: {err}")
    missing = [n for n in needles if n not in lines[0]]
    if missing:
        raise Unclear(f"error lacks {missing}: {lines[0]}")
    made = [o for o in outputs if (Path(tmp) / o).exists()]
    if made:
        raise Silent(f"wrote {made} despite the error")


def _bad_config(tmp, edit) -> Path:
    cfg = yaml.safe_load(data.CONFIG.read_text())
    text = edit(cfg)
    p = Path(tmp) / "bad.yaml"
    p.write_text(text if isinstance(text, str) else yaml.safe_dump(cfg))
    return p


def _ecg_argv(tmp, config):
    folder = Path(tmp) / "in"
    folder.mkdir(exist_ok=True)
    return ["ingest-ecg", "--input", str(folder), "--out", "out.parquet", "--config", str(config)]


def cli_case(name, fault, argv_fn, *needles, outputs=("out.parquet",)):
    def run(tmp):
        _one_line_error(tmp, argv_fn(tmp), *needles, outputs=outputs)
    case(name, AREA, fault, f"exit 2, one line naming {needles}")(run)


cli_case("ingest_ecg_relative_config_missing", "ingest-ecg --config cfg/missing.yaml (relative, absent)",
         lambda t: _ecg_argv(t, "cfg/missing.yaml"), "cfg/missing.yaml", "does not exist")
cli_case("ingest_ecg_default_config_absent", "ingest-ecg run outside a checkout (default config/config.yaml absent)",
         lambda t: ["ingest-ecg", "--input", str(t), "--out", "out.parquet"], "config/config.yaml", "does not exist")


def _set(section, key, value):
    def edit(cfg):
        cfg[section][key] = value
    return edit


for name, section, key, value, needle in [
        ("notch_not_a_number", "ecg", "notch_hz", "fifty", "notch_hz"),
        ("cache_dtype_unknown", "ecg", "cache_dtype", "float8", "cache_dtype"),
        ("max_members_zero", "cmr", "max_members", 0, "max_members"),
        ("budget_negative", "cmr", "zip_time_budget_s", -1, "zip_time_budget_s"),
        ("prefer_repeat_unknown", "cmr", "prefer_repeat", "middle", "prefer_repeat")]:
    cli_case(f"config_{name}", f"config with {section}.{key} = {value!r}",
             lambda t, s=section, k=key, v=value: _ecg_argv(t, _bad_config(t, _set(s, k, v))), needle, "bad.yaml")

cli_case("config_unknown_top_key", "config with a misspelt top-level key (resutls_dir)",
         lambda t: _ecg_argv(t, _bad_config(t, lambda c: c.update(resutls_dir="x"))), "resutls_dir", "bad.yaml")
cli_case("config_not_yaml", "a config that is not YAML", lambda t: _ecg_argv(t, _bad_config(t, lambda c: "a: [b\n")),
         "not valid YAML", "bad.yaml")
cli_case("config_empty", "an empty config file", lambda t: _ecg_argv(t, _bad_config(t, lambda c: "")),
         "bad.yaml")
cli_case("ingest_ecg_input_missing", "ingest-ecg --input on a folder that does not exist",
         lambda t: ["ingest-ecg", "--input", "nope", "--out", "out.parquet", "--config", str(data.CONFIG)], "nope")
cli_case("ingest_tables_without_config", "ingest-tables without --config, outside a checkout",
         lambda t: ["ingest-tables", "--main-table", "m.csv", "--diagnoses", "d.csv", "--out", "out.parquet",
                    "--exclusions", "x.csv"], "config", "does not exist")
cli_case("ingest_tables_main_table_missing", "ingest-tables with a main table that does not exist",
         lambda t: ["ingest-tables", "--config", str(data.CONFIG), "--main-table", "m.csv", "--diagnoses", "d.csv",
                    "--out", "out.parquet", "--exclusions", "x.csv"], "m.csv")
cli_case("splits_targets_missing", "splits with a targets file that does not exist",
         lambda t: ["splits", "--ecg-dir", ".", "--cmr-dir", ".", "--targets", "targets.parquet", "--out", "out.parquet"],
         "targets.parquet", "--targets")
cli_case("splits_ecg_dir_missing", "splits with an ECG folder that does not exist",
         lambda t: ["splits", "--ecg-dir", "ecg", "--cmr-dir", ".", "--targets", ".", "--out", "out.parquet"], "ecg")
cli_case("ingest_cmr_config_missing", "ingest-cmr with a config that does not exist",
         lambda t: ["ingest-cmr", "--cmr-dir", ".", "--out-dir", "o", "--index", "out.parquet", "--exclusions", "x.csv",
                    "--config", "nope.yaml"], "nope.yaml")


@case("library_filter_defaults_removed", AREA, "preprocess called with a config['ecg'] lacking notch_hz",
      "refused: the schema is the one source of defaults (no silent 60 Hz notch)")
def _no_defaults(tmp):
    import numpy as np

    from ecgcmr.ecg.preprocess import preprocess_batch

    params = {k: v for k, v in data.ecg_params().items() if k != "notch_hz"}
    try:
        preprocess_batch(np.zeros((1, 12, 5000), np.float32), params)
    except ValueError as e:
        if "notch_hz" not in str(e):
            raise Unclear(str(e)) from e
        return
    raise Silent("filtered with a built-in notch default")


@case("config_partial_override", AREA, "ingest-ecg --config with only `ecg: {notch_hz: 60}` (a --configfile-style override)",
      "merged over the embedded config as the workflow does; the 60 Hz notch is used")
def _override(tmp):
    from ecgcmr.config import load_config

    p = Path(tmp) / "over.yaml"
    p.write_text("ecg:\n  notch_hz: 60\n")
    cfg = load_config(p)
    if cfg["ecg"]["notch_hz"] != 60 or cfg["ecg"]["savgol_window"] != 15:
        raise Silent(f"override not applied: {cfg['ecg']}")

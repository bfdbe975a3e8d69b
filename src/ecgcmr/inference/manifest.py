"""The inference manifest: everything ``ecgcmr predict`` needs from a finished run,
so prediction needs neither the Snakefile nor the config.

``{results}/inference/manifest.json`` names (relative to the run directory, so a run
directory can be moved or copied whole) the ECG encoder, the normalisation statistics,
the preprocessing parameters used at ingest, and the probe weights per target (one
file per seed; predictions are averaged over seeds).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputError
from ..phenotypes import OUTCOMES, PHENOTYPES

FORMAT_VERSION = 1
MANIFEST = Path("inference", "manifest.json")


def _relative(path: str | Path, run_dir: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), run_dir.resolve())).as_posix()


def run_dir_of(manifest: str | Path) -> Path:
    """The run directory a manifest belongs to: predict looks for it at
    ``run_dir / MANIFEST`` only, so the path must end that way."""
    manifest = Path(manifest)
    n = len(MANIFEST.parts)
    if manifest.parts[-n:] != MANIFEST.parts:
        raise ValueError(f"{manifest}: an inference manifest must be written to <run dir>/{MANIFEST.as_posix()}")
    return manifest.parents[n - 1]


def write_manifest(out: str | Path, representation: str, encoder: str | Path,
                   norm_stats: str | Path, ecg_params: dict, probe_weights: list[str | Path],
                   training_ranges: str | Path | None = None, cohort: dict | None = None) -> dict:
    """Write ``out`` (``<run dir>/inference/manifest.json``), naming files relative to
    the run directory. Probe weight files are
    ``probes/{representation}/{target}/seed{seed}.pt``: the target is read from the
    folder name. ``training_ranges`` (:mod:`.signal_ranges`) and ``cohort`` (what the
    run trained on: ``synthetic``, ``n_train`` ...) let predict say what its numbers
    rest on; runs written before them have neither, and predict says so."""
    run_dir = run_dir_of(out)
    probes: dict[str, list[str]] = {}
    for w in sorted(probe_weights, key=str):
        probes.setdefault(Path(w).parent.name, []).append(_relative(w, run_dir))
    unknown = set(probes) - set(PHENOTYPES) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"probe weights for targets that predict does not report: {sorted(unknown)}")
    manifest = {
        "format": FORMAT_VERSION,
        "representation": representation,
        "encoder": _relative(encoder, run_dir),
        "norm_stats": _relative(norm_stats, run_dir),
        "ecg": dict(ecg_params),
        "probes": {t: probes[t] for t in [*PHENOTYPES, *OUTCOMES] if t in probes},
    }
    if training_ranges is not None:
        manifest["training_ranges"] = _relative(training_ranges, run_dir)
    if cohort is not None:
        manifest["cohort"] = dict(cohort)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(run_dir: str | Path) -> tuple[dict, Path]:
    """(manifest with absolute paths, run_dir); InputError if the run is incomplete."""
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST
    if not path.is_file():
        raise InputError(path, "missing_manifest",
                         "not a finished run directory (run the pipeline's inference_manifest rule first)")
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, "bad_manifest", str(e)) from None
    if m.get("format") != FORMAT_VERSION:
        raise InputError(path, "bad_manifest", f"format {m.get('format')!r}, expected {FORMAT_VERSION}")
    absolute = dict(m)
    absolute["encoder"] = run_dir / m["encoder"]
    absolute["norm_stats"] = run_dir / m["norm_stats"]
    absolute["probes"] = {t: [run_dir / w for w in ws] for t, ws in m["probes"].items()}
    extra = []
    if m.get("training_ranges"):
        absolute["training_ranges"] = run_dir / m["training_ranges"]
        extra.append(absolute["training_ranges"])
    for f in [absolute["encoder"], absolute["norm_stats"], *extra,
              *(w for ws in absolute["probes"].values() for w in ws)]:
        if not Path(f).is_file():
            raise InputError(f, "missing_run_file", f"named in {path} but absent")
    return absolute, run_dir


def cohort_summary(splits: str | Path, synthetic: bool, run_name: str) -> dict:
    """What the run trained on, as predict and the model card name it (split sizes;
    the pipeline replaces ``n_ecg_train`` by the ECGs actually cached)."""
    import pandas as pd

    s = pd.read_parquet(splits, columns=["pretrain", "paired_split"])
    return {"source": "synthetic demo cohort (ecgcmr synth)" if synthetic else "UK Biobank",
            "synthetic": bool(synthetic), "run_name": run_name,
            "n_ecg_train": int((s["pretrain"] == "train").sum()),
            "n_paired_train": int((s["paired_split"] == "train").sum()),
            "n_paired_test": int((s["paired_split"] == "test").sum())}

"""ECG-only inference: the 12 CMR phenotypes and 6 outcome probabilities of each ECG.

Input: CardioSoft or GE MUSE XML files, WFDB records (path without extension, or its ``.hea``),
or folders of either. Each record is read and filtered with the very functions ingest
uses (``ecgcmr.io`` readers, ``ecgcmr.ecg.preprocess.preprocess_batch``, the cache's
storage dtype), normalised with the run's training-split statistics, embedded by the
run's encoder and passed to every seed's probe; seeds are averaged. Everything comes
from the run directory's ``inference/manifest.json`` (no Snakefile, no config).

A record that cannot be read gives an error row (status ``error``, reason, detail);
the command fails (exit 1) only when no record could be predicted. A record whose
amplitude, heart rate or noise lies outside what the encoder was trained on (the run's
``training_ranges``, :mod:`.signal_ranges`) is still predicted but marked: status
``out_of_range``, the summaries outside their range in ``detail``. Every row names the
run's training cohort (``training_cohort``), printed on stderr too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..ecg.ingest import reader_kwargs
from ..ecg.norm import NormStats
from ..ecg.preprocess import preprocess_batch
from ..errors import InputError
from ..evaluate.probe import apply_probe, load_probe
from ..io.ecg_formats import accepted, find_records, read_ecg
from ..io.record import EcgRecord
from ..phenotypes import OUTCOMES, PHENOTYPES
from .manifest import read_manifest
from .signal_ranges import FEATURES, out_of_range, signal_features

log = logging.getLogger(__name__)
ID_COLUMNS = ["input", "eid", "status", "reason", "detail"]
# what each prediction rests on: the run's cohort and the record's signal summaries
CONTEXT_COLUMNS = ["training_cohort", *FEATURES]


def phenotype_column(name: str) -> str:
    return f"{name} [{PHENOTYPES[name][1]}]"


def outcome_column(name: str) -> str:
    return f"{name} probability"


def discover_inputs(paths: list[str | Path]) -> list[tuple[str, str]]:
    """(kind, path) per record (``ecgcmr.io.ecg_formats.find_records``): a folder gives
    its record files; a path that is no record is a ``missing`` or ``unsupported`` item,
    reported per record rather than stopping the others."""
    return find_records(paths)


class Predictor:
    """The encoder, normalisation and probes of one finished run."""

    def __init__(self, run_dir: str | Path, device: str = "cpu"):
        from ..models import load_ecg_encoder

        self.manifest, self.run_dir = read_manifest(run_dir)
        self.params = self.manifest["ecg"]
        self.norm = NormStats.load(self.manifest["norm_stats"])
        self.device = torch.device(device)
        self.encoder = load_ecg_encoder(self.manifest["encoder"]).to(self.device).eval()
        self.probes = {t: [p for p in map(load_probe, ws) if p is not None]
                       for t, ws in self.manifest["probes"].items()}
        self.ranges = (json.loads(Path(self.manifest["training_ranges"]).read_text())["features"]
                       if "training_ranges" in self.manifest else None)
        self.cohort = self.manifest.get("cohort")

    def cohort_text(self) -> str:
        """e.g. ``synthetic demo cohort (ecgcmr synth), run demo: 420 training ECGs, 180 paired``."""
        c = self.cohort
        if not c:
            return "unknown (run written before ecgcmr recorded its training cohort)"
        return (f"{c['source']}, run {c['run_name']}: {c['n_ecg_train']} training ECGs, "
                f"{c['n_paired_train']} paired training subjects")

    def read(self, kind: str, path: str) -> EcgRecord:
        # ingest's reader arguments: same rate, length, flat-lead check
        return read_ecg(path, kind=kind, **reader_kwargs(self.params))

    def filtered(self, records: list[EcgRecord]) -> np.ndarray:
        """Filtered exactly as ingest and stored at the cache's dtype (mV)."""
        x = preprocess_batch(np.stack([r.signal for r in records]), self.params)
        return x.astype(self.params.get("cache_dtype", "float16")).astype(np.float32)

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """Lead-wise, with the training split's statistics, as the cache is read."""
        return self.norm.apply(np.array(x, np.float32))

    def normalised(self, records: list[EcgRecord]) -> np.ndarray:
        return self.normalise(self.filtered(records))

    @torch.no_grad()
    def embed(self, x: np.ndarray) -> np.ndarray:
        return self.encoder.embed(torch.as_tensor(x, device=self.device)).float().cpu().numpy()

    def predict_embeddings(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """Seed-averaged prediction per target (NaN when the run has no usable probe)."""
        out = {}
        for t, probes in self.probes.items():
            out[t] = (np.mean([apply_probe(p, z) for p in probes], axis=0) if probes
                      else np.full(len(z), np.nan))
        return out

    def embed_items(self, items: list[tuple[str, str]], batch_size: int = 32):
        """Read, filter, normalise and embed ``items`` ((kind, path) pairs) in batches.
        Returns one row per input (``status`` ok, out_of_range once flagged against the
        run's training ranges, or error with its reason) and the batches as (row indices,
        embeddings): ``predict`` and ``embed`` differ only in what they do with those."""
        rows: list[dict] = []
        ok: list[tuple[int, EcgRecord]] = []
        for kind, path in items:
            row = {"input": path, "eid": Path(path).stem, "status": "ok", "reason": "", "detail": ""}
            try:
                rec = self.read(kind, path)
                row["eid"] = rec.eid
                ok.append((len(rows), rec))
            except InputError as e:
                row.update(status="error", reason=e.reason, detail=str(e))
                log.error("%s", e)
            rows.append(row)
        batches = []
        for start in range(0, len(ok), batch_size):
            chunk = ok[start:start + batch_size]
            x = self.filtered([r for _, r in chunk])
            batches.append(([i for i, _ in chunk], self.embed(self.normalise(x))))
            self.flag([rows[i] for i, _ in chunk], x)
        return rows, batches

    def predict(self, items: list[tuple[str, str]], batch_size: int = 32) -> pd.DataFrame:
        rows, batches = self.embed_items(items, batch_size)
        for idx, z in batches:
            preds = self.predict_embeddings(z)
            for j, i in enumerate(idx):
                for t, v in preds.items():
                    rows[i][t] = float(v[j])
        df = pd.DataFrame(rows)
        df.insert(len(ID_COLUMNS), "training_cohort", self.cohort_text())
        for f in FEATURES:
            if f not in df:
                df[f] = np.nan
        names = {**{t: phenotype_column(t) for t in PHENOTYPES}, **{t: outcome_column(t) for t in OUTCOMES}}
        for t in [*PHENOTYPES, *OUTCOMES]:
            if t not in df:
                df[t] = np.nan   # a target the run did not train: column present, empty
        return df[ID_COLUMNS + CONTEXT_COLUMNS + [*PHENOTYPES, *OUTCOMES]].rename(columns=names)

    def flag(self, rows: list[dict], x: np.ndarray) -> None:
        """Signal summaries into ``rows``; status ``out_of_range`` where one lies
        outside the training ranges."""
        feats = signal_features(x, self.params.get("sample_rate", 500))
        for j, row in enumerate(rows):
            values = {f: float(v[j]) for f, v in feats.items()}
            row.update(values)
            flags = out_of_range(values, self.ranges) if self.ranges else []
            if flags:
                row.update(status="out_of_range", reason="outside_training_range",
                           detail="; ".join(flags) + " (predictions unreliable)")
                log.warning("%s: outside the training ranges: %s", row["input"], "; ".join(flags))


def to_json(df: pd.DataFrame) -> str:
    """One object per record: phenotypes with units, outcome probabilities."""
    out = []
    for _, r in df.iterrows():
        obj = {c: r[c] for c in ID_COLUMNS}
        obj["training_cohort"] = r["training_cohort"]
        obj["signal"] = {f: _num(r[f]) for f in FEATURES}
        if r["status"] != "error":
            obj["phenotypes"] = {t: {"value": _num(r[phenotype_column(t)]), "unit": PHENOTYPES[t][1],
                                     "description": PHENOTYPES[t][0]} for t in PHENOTYPES}
            obj["outcome_probabilities"] = {t: _num(r[outcome_column(t)]) for t in OUTCOMES}
        out.append(obj)
    return json.dumps(out, indent=2) + "\n"


def _num(v) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


def predict_files(inputs: list[str | Path], run_dir: str | Path, device: str = "cpu") -> pd.DataFrame:
    return Predictor(run_dir, device).predict(discover_inputs(inputs))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help=f"ECG records ({accepted()}; a record of several files also by its "
                   "path without extension), or folders of them")
    p.add_argument("--run", required=True, help="finished run directory (e.g. results/demo)")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--output", "-o", default="-", help="output file (default: stdout)")
    p.add_argument("--device", default="cpu", help="torch device for the encoder (cpu, cuda)")


def cli(args) -> int:
    from ..logs import setup

    setup(level=logging.WARNING)
    try:
        df = predict_files(args.inputs, args.run, args.device)
    except InputError as e:   # the run directory itself is unusable
        print(f"ecgcmr predict: {e}", file=sys.stderr)
        return 2
    text = df.to_csv(index=False) if args.format == "csv" else to_json(df)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    n_ok = int((df["status"] != "error").sum())
    print(f"ecgcmr predict: trained on {df['training_cohort'].iloc[0]}", file=sys.stderr)
    n_flagged = int((df["status"] == "out_of_range").sum())
    if n_flagged:
        print(f"ecgcmr predict: {n_flagged} of {len(df)} records lie outside the training ranges of "
              "amplitude, heart rate or noise (status=out_of_range rows): do not trust their numbers",
              file=sys.stderr)
    if n_ok < len(df):
        print(f"ecgcmr predict: {len(df) - n_ok} of {len(df)} records could not be predicted "
              "(status=error rows)", file=sys.stderr)
    return 0 if n_ok else 1

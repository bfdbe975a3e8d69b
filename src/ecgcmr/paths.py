"""Every path the pipeline writes, built in one place.

The Snakefile (workflow/rules/common.smk), the CLI and the tests all use this class,
so a stage finds another stage's outputs only through its declared paths.
Patterns with ``{...}`` are Snakemake wildcards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    results: str

    def _p(self, *parts: str) -> str:
        return str(Path(self.results, *parts))

    # --- logs and benchmarks (per rule, per wildcard) ---
    def log(self, rule: str, suffix: str = "") -> str:
        return self._p("logs", f"{rule}{suffix}.log")

    def benchmark(self, rule: str, suffix: str = "") -> str:
        return self._p("benchmarks", f"{rule}{suffix}.tsv")

    # --- synthetic cohort ---
    @property
    def synth_done(self) -> str:
        return self._p("raw", "synth.done")

    # --- ingest ---
    @property
    def bulk_ecg(self) -> str:
        return self._p("bulk", "ecg.parquet")

    @property
    def bulk_cmr(self) -> str:
        return self._p("bulk", "cmr.parquet")

    @property
    def bulk_exclusions(self) -> str:
        return self._p("bulk", "exclusions.csv")

    @property
    def ecg_shard(self) -> str:
        return self._p("ecg", "shards", "shard_{shard}.parquet")

    @property
    def ecg_shard_exclusions(self) -> str:
        return self._p("ecg", "shards", "shard_{shard}.exclusions.csv")

    @property
    def ecg_index(self) -> str:
        return self._p("ecg", "index.parquet")

    @property
    def ecg_index_exclusions(self) -> str:
        return self._p("ecg", "index.exclusions.csv")

    @property
    def ecg_norm_stats(self) -> str:
        return self._p("ecg", "norm_stats.json")

    @property
    def cmr_shard_index(self) -> str:
        return self._p("cmr", "nifti", "shard_{shard}.parquet")

    @property
    def cmr_shard_exclusions(self) -> str:
        return self._p("cmr", "nifti", "shard_{shard}.exclusions.csv")

    @property
    def cmr_index(self) -> str:
        return self._p("cmr", "index.parquet")

    @property
    def targets(self) -> str:
        return self._p("tables", "targets.parquet")

    @property
    def targets_provenance(self) -> str:
        return self._p("tables", "targets.provenance.csv")

    @property
    def targets_exclusions(self) -> str:
        return self._p("tables", "targets.exclusions.csv")

    @property
    def splits(self) -> str:
        return self._p("splits.parquet")

    @property
    def exclusions(self) -> str:
        return self._p("exclusions.csv")

    # --- CMR volumes (segmentation, phases, crops) ---
    @property
    def segmenter(self) -> str:
        return self._p("cmr", "segmenter", "model.pt")

    @property
    def segmenter_metrics(self) -> str:
        return self._p("cmr", "segmenter", "metrics.json")

    @property
    def seg_shard(self) -> str:
        return self._p("cmr", "seg", "shard_{shard}.parquet")

    @property
    def seg_shard_exclusions(self) -> str:
        return self._p("cmr", "seg", "shard_{shard}.exclusions.csv")

    @property
    def seg_mask_dir(self) -> str:
        return self._p("cmr", "seg", "masks")

    @property
    def crop_shard(self) -> str:
        return self._p("cmr", "crops", "shard_{shard}.parquet")

    @property
    def crop_shard_exclusions(self) -> str:
        return self._p("cmr", "crops", "shard_{shard}.exclusions.csv")

    @property
    def crop_qc(self) -> str:
        return self._p("cmr", "qc", "shard_{shard}.png")

    @property
    def crop_index(self) -> str:
        return self._p("cmr", "crops.parquet")

    def seg_agreement(self, ext: str) -> str:
        """The segment stage's volumes vs UKB's (or the synthetic truth): csv, json, png,
        exclusions.csv."""
        return self._p("cmr", "seg", f"agreement.{ext}")

    # --- encoders ---
    def model_dir(self, name: str) -> str:
        return self._p("models", name)

    @property
    def ecg_mae(self) -> str:
        return self._p("models", "ecg_mae_{size}", "encoder.pt")

    @property
    def cmr_encoder(self) -> str:
        return self._p("models", "cmr_{view}", "encoder.pt")

    @property
    def aligned(self) -> str:
        return self._p("models", "align_{variant}", "ecg_encoder.pt")

    # --- evaluation ---
    @property
    def embeddings(self) -> str:
        return self._p("embeddings", "{representation}.parquet")

    @property
    def probe(self) -> str:
        return self._p("probes", "{representation}", "{target}", "seed{seed}.json")

    @property
    def probe_weights(self) -> str:
        return self._p("probes", "{representation}", "{target}", "seed{seed}.pt")

    @property
    def probe_predictions(self) -> str:
        """Per-subject test predictions of every target of one probe job (eid, target,
        seed, y_true, y_pred), so two representations can be compared subject by subject."""
        return self._p("probes", "{representation}", "predictions_seed{seed}.parquet")

    @property
    def inference_manifest(self) -> str:
        return self._p("inference", "manifest.json")

    def tables_dir(self) -> str:
        return self._p("tables")

    def deltas(self, ext: str = "csv") -> str:
        """Each alignment variant vs the baseline: paired-bootstrap Δ, interval and
        verdict per Table 1 target and block (csv, md)."""
        return self._p("tables", f"deltas.{ext}")

    def gates(self, ext: str = "csv") -> str:
        """The four gates of each variant and what its comparison may conclude (csv, md)."""
        return self._p("tables", f"gates.{ext}")

    # --- what a report and a prediction rest on (issue 13) ---
    @property
    def training_ranges(self) -> str:
        return self._p("inference", "training_ranges.json")

    @property
    def pseudonym_key(self) -> str:
        return self._p("pseudonyms", "key.txt")

    @property
    def pseudonyms(self) -> str:
        return self._p("pseudonyms", "pseudonyms.csv")

"""Changing one hyperparameter in the config reruns exactly the rules that depend on
it (Snakemake's `params` rerun trigger), checked by dry runs on the finished tiny run."""

from __future__ import annotations

import pytest
import yaml

from ecgcmr.config import load_config
from conftest_workflow import TINY, TINY_RESULTS, planned_jobs, snakemake, tiny_run  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]

# Rules that read neither the ECG cache nor anything built on it must not rerun when
# ECG preprocessing changes: the raw cohort, CMR ingest, the tables, the splits (built
# from the raw cohort) and the whole CMR branch (segmentation, crops, CMR encoders).
NOT_ECG_DOWNSTREAM = {"synth_cohort", "ingest_cmr", "cmr_index", "ingest_tables", "splits",
                      "train_segmenter", "segment", "crop", "crop_index", "pretrain_cmr"}
# ... and a probe's hyperparameter touches no encoder or embedding.
UPSTREAM_OF_PROBES = {"synth_cohort", "ingest_ecg", "ingest_cmr", "ingest_tables", "splits",
                      "ecg_norm_stats", "train_segmenter", "segment", "crop", "pretrain_ecg",
                      "pretrain_cmr", "align", "embed"}


def dry_run(workdir, *extra_configs, args=()):
    proc = snakemake(workdir, "-n", "--quiet", "rules", *args, "all",
                     configfiles=(TINY, *extra_configs))
    return planned_jobs(proc.stdout)


def override(tmp_path, name: str, values: dict):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_changed_hyperparameter_reruns_exactly_its_downstream(tiny_run, tmp_path):  # noqa: F811
    assert dry_run(tiny_run) == {}, "the finished tiny run still has jobs to do"

    tiny = yaml.safe_load(TINY.read_text())
    savgol = override(tmp_path, "savgol", {"ecg": {"savgol_window": 17}})
    ecg_rerun = dry_run(tiny_run, savgol)
    assert ecg_rerun["ingest_ecg"] == tiny["ingest"]["n_shards"]  # every shard
    assert not NOT_ECG_DOWNSTREAM & set(ecg_rerun), ecg_rerun
    # exactly ingest_ecg's downstream: what forcing ingest_ecg to rerun would run
    assert ecg_rerun == dry_run(tiny_run, args=("--forcerun", "ingest_ecg"))

    probe_lr = override(tmp_path, "probe_lr", {"evaluate": {"probe": {"lr": 0.002}}})
    probe_rerun = dry_run(tiny_run, probe_lr)
    assert probe_rerun["probe"] > 0, probe_rerun
    assert not UPSTREAM_OF_PROBES & set(probe_rerun), probe_rerun
    assert probe_rerun == dry_run(tiny_run, args=("--forcerun", "probe", "probe_vit"))
    # the comparison reads the probes' predictions; the gates read only the models
    assert probe_rerun["compare_deltas"] == 1 and "compare_gates" not in probe_rerun, probe_rerun

    n_boot = override(tmp_path, "n_boot", {"compare": {"n_boot": 500}})
    boot_rerun = dry_run(tiny_run, n_boot)
    # the bootstrap is behind the deltas and the tables' intervals and marks, nothing else
    assert boot_rerun["compare_deltas"] == boot_rerun["table1"] == boot_rerun["table2"] == 1, boot_rerun
    assert boot_rerun == dry_run(tiny_run, args=("--forcerun", "compare_deltas", "table1", "table2"))


def test_runtime_settings_and_labels_rerun_no_model(tiny_run, tmp_path):  # noqa: F811
    # workers, the progress bar and the devices change no result: they are no params
    runtime = override(tmp_path, "runtime", {"train": {"num_workers": 1, "progress": True},
                                             "evaluate": {"device": "cpu"}, "segmentation": {"device": "cpu"}})
    assert dry_run(tiny_run, runtime) == {}

    # a display label reruns what shows it, never an alignment, embedding or probe
    label = override(tmp_path, "label", {"align": {"variants": {"dual_phase": {"label": "ECG dual-phase"}}}})
    label_rerun = dry_run(tiny_run, label)
    assert label_rerun["table1"] == 1 and label_rerun["probe_plots_table1"] == 1, label_rerun
    assert not (UPSTREAM_OF_PROBES | {"probe", "probe_vit"}) & set(label_rerun), label_rerun


def test_the_mae_loss_reruns_pretrain_ecg_and_its_downstream(tiny_run, tmp_path):  # noqa: F811
    authors = override(tmp_path, "mae_loss", {"pretrain_ecg": {"loss": "authors"}})
    rerun = dry_run(tiny_run, authors)
    assert rerun["pretrain_ecg"] >= 1, rerun
    assert not (NOT_ECG_DOWNSTREAM | {"ingest_ecg", "ecg_norm_stats"}) & set(rerun), rerun
    assert rerun == dry_run(tiny_run, args=("--forcerun", "pretrain_ecg"))
    # the NCC weight is no param under the default (masked) loss
    assert dry_run(tiny_run, override(tmp_path, "ncc", {"pretrain_ecg": {"ncc_weight": 0.5}})) == {}


def test_more_training_runs_add_runs_and_retrain_none_already_there(tiny_run, tmp_path):  # noqa: F811
    # run 0 keeps its folders and params: a second run is planned beside it, and only
    # what gathers every run (tables, comparison) reruns; run 1 of dual_phase starts
    # from MAE run 1
    tiny = load_config(TINY)   # as the workflow sees it: over the embedded config, defaults filled in
    two = override(tmp_path, "train_seeds", {"evaluate": {"train_seeds": 2}})
    rerun = dry_run(tiny_run, two)
    assert rerun["pretrain_ecg"] == len(tiny["pretrain_ecg"]["sizes"]), rerun
    assert rerun["align"] == len(tiny["align"]["run"]), rerun
    n_reps = len(tiny["evaluate"]["representations"]) + len(tiny["evaluate"]["vit_sizes"])
    assert rerun["embed"] == n_reps, rerun
    assert rerun["probe"] == len(tiny["evaluate"]["representations"]) * len(tiny["evaluate"]["seeds"]), rerun
    assert rerun["table1"] == rerun["compare_deltas"] == rerun["compare_gates"] == 1, rerun
    assert not {"pretrain_cmr", "ingest_ecg", "splits", "inference_manifest"} & set(rerun), rerun
    proc = snakemake(tiny_run, "-n", "--", f"{TINY_RESULTS}/models/align_dual_phase_trainseed1/ecg_encoder.pt",
                     configfiles=(TINY, two))
    assert "size=tiny_trainseed1" in proc.stdout, proc.stdout[-3000:]


def test_fewer_mae_runs_give_more_alignment_runs_from_the_same_mae(tiny_run, tmp_path):  # noqa: F811
    # evaluate.mae_train_seeds 1 with train_seeds 3: no MAE is trained again, two more
    # alignment runs start from MAE run 0, and the baseline keeps its one run
    tiny = load_config(TINY)
    runs = override(tmp_path, "mae_runs", {"evaluate": {"train_seeds": 3, "mae_train_seeds": 1}})
    rerun = dry_run(tiny_run, runs)
    assert "pretrain_ecg" not in rerun, rerun
    assert rerun["align"] == 2 * len(tiny["align"]["run"]), rerun
    assert rerun["embed"] == 2 * len(tiny["align"]["run"]), rerun   # no new baseline or ViT run
    proc = snakemake(tiny_run, "-n", "--", f"{TINY_RESULTS}/models/align_dual_phase_trainseed2/ecg_encoder.pt",
                     configfiles=(TINY, runs))
    assert "trainseed" not in proc.stdout.split("rule align")[1].split("input:")[1].split("output:")[0]
    bad = override(tmp_path, "too_many", {"evaluate": {"train_seeds": 2, "mae_train_seeds": 3}})
    proc = snakemake(tiny_run, "-n", "all", configfiles=(TINY, bad), check=False)
    assert proc.returncode != 0 and "mae_train_seeds (3) exceeds evaluate.train_seeds (2)" in proc.stdout + proc.stderr

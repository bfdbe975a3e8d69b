"""Settings that change how a job runs, not what it computes: DataLoader workers, the
progress bar, the device. A rule's script reads them from the run's config when the job
runs (``snakemake.config``); they are never rule ``params``, because params are
Snakemake's rerun trigger, and turning on a progress bar must not retrain a model."""

from __future__ import annotations

TRAINER_RUNTIME_KEYS = ("num_workers", "progress")


def trainer_runtime(config: dict, section: str) -> dict:
    """``num_workers`` and ``progress`` of a training stage: the shared ``train:``
    values overridden by the stage's own, as common.smk merges the hyperparameters."""
    merged = {k: v for k, v in config["train"].items() if k in TRAINER_RUNTIME_KEYS}
    merged.update({k: v for k, v in config[section].items() if k in TRAINER_RUNTIME_KEYS})
    return merged


def device(config: dict, section: str) -> str:
    """The device setting (auto, cpu, cuda) of a config section."""
    return config[section]["device"]

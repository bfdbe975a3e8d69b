"""Settings that change how a job runs, not what it computes: DataLoader workers, the
progress bar, the device. A rule's script reads them from the run's config when the job
runs (``snakemake.config``); they are never rule ``params``, because params are
Snakemake's rerun trigger, and turning on a progress bar must not retrain a model."""

from __future__ import annotations

from .config import TRAINER_RUNTIME_KEYS, stage_train


def trainer_runtime(config: dict, section: str) -> dict:
    """``num_workers`` and ``progress`` of a training stage, merged as its
    hyperparameters are (:func:`ecgcmr.config.stage_train`)."""
    return stage_train(config, section, TRAINER_RUNTIME_KEYS)


def device(config: dict, section: str) -> str:
    """The device setting (auto, cpu, cuda) of a config section."""
    return config[section]["device"]

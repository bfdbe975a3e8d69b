# Shared by every stage: paths (built in one place: ecgcmr.paths), wildcard
# constraints, and the list of final targets each stage appends to.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # run from a checkout without install

from ecgcmr.core.gpus import visible_gpus
from ecgcmr.config import (TRAINER_KEYS, check_mae_loss, check_models, check_variants, clip_variants,
                            compare_pairs, label_targets, label_variants, mae_run_of, mae_runs, stage_train)
from ecgcmr import specs
from ecgcmr.paths import Paths

# what the schema cannot say: representations name configured alignment variants, and
# sizes, views and modalities name rows of the model tables (ecgcmr.specs); the
# authors' MAE loss needs the raw patches
check_variants(config)
check_models(config)
check_mae_loss(config)
mae_runs(config)   # evaluate.mae_train_seeds <= train_seeds
P = Paths(config["results_dir"])
SHARDS = list(range(config["ingest"]["n_shards"]))
ALL_TARGETS = []
EXCLUSION_TABLES = []  # every stage appends its exclusions CSVs; gathered last
# A GPU rule (trainers, embeddings) holds the local profile's one `gpu` token only on a
# host with a GPU, so two of them never share its memory; on a CPU-only host (the demo)
# they run side by side, limited by --cores alone (before, the demo's trainers, segment
# and embed jobs ran one at a time on 2 cores). The SLURM profile gives each its GPU.
GPU = min(1, visible_gpus())


wildcard_constraints:
    shard=r"\d+",
    seed=r"\d+",
    eid=r"[A-Za-z0-9]+",


def raw_ready(wildcards=None):
    """The synthetic cohort must exist before ingest; real UKB folders just are."""
    return [P.synth_done] if cfg("cohort", "synthetic") else []


def table_inputs(wildcards=None):
    """The main table file(s) and whichever outcome tables the cohort names."""
    c = config["cohort"]
    main = c["main_table"]
    named = {"main_table": [main] if isinstance(main, str) else list(main)}
    return named | {k: c[k] for k in ("diagnoses_table", "hesin_diag", "hesin") if c[k]}


def size(name):
    """A rule's mem_mb, runtime (minutes) and cpus_per_task: config `resources.<name>`,
    the one home of sizes (schema defaults: the demo's; config/ukb.yaml: UK Biobank's).
    Sizes follow the data, so the SLURM profile sets none (docs/slurm.md)."""
    if name not in config["resources"]:
        raise ValueError(f"no size for {name!r}; add its demo size under `resources` in "
                         "workflow/schemas/config.schema.yaml (and its UKB size to config/ukb.yaml)")
    return dict(config["resources"][name])


def cpus(name):
    """A rule's threads: its cpus_per_task, so the CPUs SLURM grants are the threads the
    job uses (loader workers, BLAS); a local run caps them at --cores."""
    return size(name)["cpus_per_task"]


def cfg(*keys):
    """A nested config value, e.g. cfg("ecg", "notch_hz")."""
    node = config
    for k in keys:
        node = node[k]
    return node


# --- training helpers ---
def trainer_params(section):
    """Every trainer hyperparameter of a stage (ecgcmr.config.TRAINER_KEYS): shared
    `train:` values overridden by the stage's own, so a change of either reruns exactly
    that stage's jobs. num_workers and progress are read by the scripts at run time
    (ecgcmr.runtime), so they rerun nothing."""
    return stage_train(config, section, TRAINER_KEYS)


def trainer_retries():
    """A training rule's `retries:`: train.retries, or None when unset. None leaves
    the rule without retries of its own, so --retries (the profile's) decides; any
    number, even 0, would override the profile."""
    return config["train"]["retries"]


def align_view(modality):
    """The CMR view behind a non-ECG modality of an alignment variant: ed/es are the
    phase encoders of kind align.phase_encoder (ecgcmr.specs.phase_view)."""
    return specs.align_view(modality, cfg("align", "phase_encoder"))


def mae_encoder(run):
    """The MAE encoder.pt alignment or label-control run ``run`` starts from."""
    return P.ecg_mae.format(size=specs.run_name(cfg("align", "ecg_size"), mae_run_of(config, run)))


def align_variant(wildcards):
    """The config entry of the variant behind an align job (any of its training runs)."""
    return cfg("align", "variants")[specs.split_run(wildcards.variant)[0]]


def align_inputs(wildcards):
    """The align job's inputs: the MAE encoder, the ECG cache, crops, splits and the
    frozen CMR encoder behind each modality of the variant's pairs. Training run k of
    a variant starts from MAE run k (the baseline's run k), so the two pair up; with
    fewer MAE runs (evaluate.mae_train_seeds), from MAE run k mod their number."""
    pairs = align_variant(wildcards)["pairs"]
    run = specs.split_run(wildcards.variant)[1]
    modalities = sorted({m for pair in pairs for m in pair} - {"ecg"})
    return {
        "ecg_encoder": mae_encoder(run),
        "ecg_index": P.ecg_index,
        "norm_stats": P.ecg_norm_stats,
        "crop_index": P.crop_index,
        "splits": P.splits,
        **{f"cmr_{m}": P.cmr_encoder.format(view=align_view(m)) for m in modalities},
    }

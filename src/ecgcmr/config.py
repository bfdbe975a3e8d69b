"""The pipeline config for ``ecgcmr`` subcommands: read and validated with the same
schema (and the same Snakemake validator, which fills the schema's defaults) as the
workflow, so a command run by hand filters, reads and bounds exactly as the rule would.

A config path that does not exist, does not parse or breaks the schema is one
:class:`ConfigError` naming the file; there are no built-in fallbacks (the schema is
the one source of defaults).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
# the Snakefile's embedded default: a --configfile is merged over it key by key
EMBEDDED = ROOT / "config" / "config.yaml"


class ConfigError(Exception):
    """A config file a command cannot use (the message is the whole explanation)."""


def load_config(path: str | Path | None) -> dict:
    """The validated config of ``path`` as the workflow would see it given
    ``--configfile path``: merged key by key over the embedded config/config.yaml, then
    validated (defaults of the schema filled in)."""
    import yaml

    if path is None:
        raise ConfigError("no --config given: pass the pipeline config (e.g. --config config/config.yaml)")
    p = Path(path)
    if not p.is_file():
        where = "" if p.is_absolute() else f" (relative to the current directory {Path.cwd()})"
        raise ConfigError(f"config file {path} does not exist{where}")
    try:
        cfg = yaml.safe_load(p.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {path} holds no mapping of settings")
    if EMBEDDED.is_file() and p.resolve() != EMBEDDED:
        cfg = merged(yaml.safe_load(EMBEDDED.read_text()), cfg)
    validate(cfg, str(path))
    return cfg


def merged(base: dict, over: dict) -> dict:
    """``over`` merged into ``base`` recursively (as Snakemake's update_config)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def validate(cfg: dict, name: str = "config") -> dict:
    """Validate ``cfg`` in place against the workflow's schema (filling defaults)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate as snakemake_validate

    if not SCHEMA.is_file():
        raise ConfigError(f"the config schema {SCHEMA} is missing: install ecgcmr from a checkout (pip install -e .)")
    try:
        snakemake_validate(cfg, str(SCHEMA))
    except WorkflowError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        reason = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("ValidationError")), lines[-1])
        where = next((ln.split("instance", 1)[1].rstrip(":") for ln in lines if ln.startswith("On instance")), "")
        raise ConfigError(f"config file {name} does not match {SCHEMA.name}: {reason}"
                          + (f" (at {where})" if where else "")) from e
    try:
        check_variants(cfg)
        check_models(cfg)
        check_mae_loss(cfg)
    except ConfigError as e:
        raise ConfigError(f"config file {name}: {e}") from None
    return cfg


# A representation name becomes a wildcard value, a folder and a regex alternative;
# "vit_*" names are Table 2's MAE sizes.
_REPRESENTATION_NAME = re.compile(r"[A-Za-z0-9_]+")
BASELINE = "baseline"


def representation_labels(cfg: dict) -> dict[str, str]:
    """Representation -> display label: the baseline's from ``evaluate.baseline_label``,
    each alignment variant's from its ``label`` (Table 1 rows, plots, the held-out figures)."""
    check_variants(cfg)
    return {BASELINE: cfg["evaluate"]["baseline_label"],
            **{v: spec["label"] for v, spec in cfg["align"]["variants"].items()}}


CLIP, LABELS = "clip", "labels"   # align.variants[*].objective


def objective(spec: dict) -> str:
    """A variant's objective: clip (CLIP terms, rule align) or labels (the label
    control, rule label_control); the schema's default, clip, when unset."""
    return spec.get("objective") or CLIP


def clip_variants(cfg: dict) -> list[str]:
    return [v for v, spec in cfg["align"]["variants"].items() if objective(spec) == CLIP]


def label_variants(cfg: dict) -> list[str]:
    return [v for v, spec in cfg["align"]["variants"].items() if objective(spec) == LABELS]


def label_targets(cfg: dict, variant: str) -> list[str]:
    """What a label control regresses: its own ``targets``, else ``pretrain_cmr.targets``
    (the labels the CMR encoders it stands in for learn from)."""
    return list(cfg["align"]["variants"][variant].get("targets") or cfg["pretrain_cmr"]["targets"])


def mae_runs(cfg: dict) -> int:
    """How many MAE training runs there are: ``evaluate.mae_train_seeds``, else
    ``evaluate.train_seeds`` (one MAE run per alignment run)."""
    ev = cfg["evaluate"]
    n = ev.get("mae_train_seeds") or ev["train_seeds"]
    if n > ev["train_seeds"]:
        raise ConfigError(f"evaluate.mae_train_seeds ({n}) exceeds evaluate.train_seeds ({ev['train_seeds']}): "
                          "an MAE run without an alignment run starting from it")
    return n


def mae_run_of(cfg: dict, run: int) -> int:
    """The MAE run alignment (or label-control) run ``run`` starts from."""
    return run % mae_runs(cfg)


def compare_pairs(cfg: dict) -> list[list[str]]:
    """The ``compare.pairs`` both of whose sides are Table 1 rows (a config that tables
    fewer representations keeps the others' pairs without computing them)."""
    rows = cfg["evaluate"]["representations"]
    return [list(p) for p in cfg.get("compare", {}).get("pairs", []) if all(n in rows for n in p)]


def check_variants(cfg: dict) -> None:
    """The alignment variants and the representations naming them, checked once at
    load time (the schema cannot say "a key of align.variants"): one ConfigError
    naming the key and the offending name."""
    variants = cfg["align"]["variants"]
    for name, spec in variants.items():
        if not _REPRESENTATION_NAME.fullmatch(name) or name == BASELINE or name.startswith("vit_"):
            raise ConfigError(f"align.variants: variant name {name!r} is not usable: letters, digits and _ "
                              f"only, and not {BASELINE!r} or vit_* (Table 2's representations)")
        if objective(spec) == LABELS:
            stray = [k for k in ("pairs", "weights") if k in spec]
            if stray:
                raise ConfigError(f"align.variants.{name}: objective labels takes no {' or '.join(stray)} "
                                  "(those are CLIP terms); it regresses `targets`")
            known = list(cfg["phenotype_fields"])
            unknown = [t for t in label_targets(cfg, name) if t not in known]
            if unknown:
                raise ConfigError(f"align.variants.{name}.targets: {unknown} not in phenotype_fields {known}")
            continue
        if "pairs" not in spec or "weights" not in spec:
            raise ConfigError(f"align.variants.{name}: a CLIP variant needs pairs and weights "
                              "(or objective: labels for a label control)")
        if len(spec["weights"]) != len(spec["pairs"]):
            raise ConfigError(f"align.variants.{name}: {len(spec['pairs'])} pairs but "
                              f"{len(spec['weights'])} weights (one weight per pair)")
    labels = [cfg["evaluate"]["baseline_label"]] + [spec["label"] for spec in variants.values()]
    if len(set(labels)) < len(labels):
        raise ConfigError(f"align.variants[*].label and evaluate.baseline_label: display labels repeat {labels}")
    ev = cfg["evaluate"]
    for key, names, allowed in [
            ("align.run", cfg["align"]["run"], list(variants)),
            ("evaluate.representations", ev["representations"], [BASELINE, *variants]),
            ("evaluate.inference_representation", [ev["inference_representation"]], [BASELINE, *variants]),
            ("evaluate.projection_variant", [ev["projection_variant"]], clip_variants(cfg)),
            ("compare.pairs", [n for pair in cfg.get("compare", {}).get("pairs", []) for n in pair],
             [BASELINE, *variants])]:
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise ConfigError(f"{key}: unknown representation {unknown[0]!r}; known: {allowed} "
                              f"({'baseline and ' if BASELINE in allowed else ''}the keys of align.variants)")


def check_models(cfg: dict) -> None:
    """ViT sizes and CMR views named in the config, checked once at load time against
    the tables of ``ecgcmr.specs`` (the one list of each; the schema names none):
    one ConfigError naming the key, the unknown name and the known ones."""
    from ecgcmr.specs import PHASE_LAYOUTS, PHASE_MODALITIES, VIEWS, VIT_SIZES

    sizes, views = list(VIT_SIZES), list(VIEWS)
    modalities = ["ecg", *PHASE_MODALITIES, *views]
    named = [("pretrain_ecg.sizes", cfg["pretrain_ecg"]["sizes"], sizes, "ViT size",
              "ecgcmr.specs.VIT_SIZES, Table 3"),
             ("align.ecg_size", [cfg["align"]["ecg_size"]], sizes, "ViT size",
              "ecgcmr.specs.VIT_SIZES, Table 3"),
             ("evaluate.vit_sizes", cfg["evaluate"]["vit_sizes"], sizes, "ViT size",
              "ecgcmr.specs.VIT_SIZES, Table 3"),
             ("pretrain_cmr.views", cfg["pretrain_cmr"]["views"], views, "CMR view",
              "ecgcmr.specs.VIEWS"),
             ("align.phase_encoder", [cfg["align"]["phase_encoder"]], list(PHASE_LAYOUTS), "phase encoder",
              "ecgcmr.specs.PHASE_LAYOUTS")]
    named += [(f"align.variants.{v}.pairs", [m for pair in spec["pairs"] for m in pair], modalities,
               "modality", "ecg, ed, es or a view of ecgcmr.specs.VIEWS")
              for v, spec in cfg["align"]["variants"].items() if "pairs" in spec]
    for key, names, known, what, where in named:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(f"{key}: unknown {what} {unknown[0]!r}; known: {known} ({where})")


def check_mae_loss(cfg: dict) -> None:
    """``pretrain_ecg.loss: authors`` compares the reconstruction with the input ECG,
    which ``norm_pix_loss`` would have replaced by normalised patches: refused at load
    time rather than when the training job starts."""
    ecg = cfg["pretrain_ecg"]
    if ecg.get("loss") == "authors" and ecg.get("model", {}).get("norm_pix_loss"):
        raise ConfigError("pretrain_ecg.loss 'authors' cannot be combined with "
                          "pretrain_ecg.model.norm_pix_loss: true")


# --- trainer settings of a stage ----------------------------------------------------------
# The keys of ecgcmr.train.loop.TrainConfig a stage section may set over the shared
# `train:` section, in two kinds: hyperparameters (rule params: a change reruns exactly
# that stage's jobs) and runtime settings (read by the job when it runs, ecgcmr.runtime:
# they change no result, so they rerun nothing). drop_last is no setting: each trainer fixes it.
TRAINER_KEYS = ("epochs", "warmup_epochs", "patience", "batch_size", "lr", "min_lr_factor",
                "weight_decay", "betas", "grad_clip", "amp", "seed")
TRAINER_RUNTIME_KEYS = ("num_workers", "progress")


def stage_train(cfg: dict, section: str, keys) -> dict:
    """``keys`` of a training stage: the shared ``train:`` values overridden by the
    stage section's own (``section`` dotted where it is nested: ``segmentation.train``)."""
    own = cfg
    for part in section.split("."):
        own = own[part]
    merged = {k: v for k, v in cfg["train"].items() if k in keys}
    merged.update({k: v for k, v in own.items() if k in keys})
    return merged

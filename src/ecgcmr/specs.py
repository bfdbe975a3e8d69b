"""The model tables every other part derives from: Table 3's ViT sizes and the CMR
views. They live here, free of torch, because the workflow reads them when it parses
(wildcard patterns, the load-time config check): importing torch and MONAI there would
cost every `snakemake` call, and every SLURM job's re-parse, several seconds.

``ecgcmr.models.vit_mae`` and ``ecgcmr.models.cmr_encoders`` build their networks from
these rows; the schema, the rules' wildcard patterns, the representation names and
Tables 2-3 take the names from them. A new size or view is one row here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Table 3: every size has 12 layers; width and heads grow together (64-dim heads
# except Tiny/Small, as in DeiT).
VIT_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"embed_dim": 192, "depth": 12, "num_heads": 3},
    "small": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "medium": {"embed_dim": 576, "depth": 12, "num_heads": 8},
    "base": {"embed_dim": 768, "depth": 12, "num_heads": 12},
}
TABLE3_PARAMS_M = {"tiny": 5, "small": 21, "medium": 48, "base": 85}


@dataclass(frozen=True)
class ViewSpec:
    """How one CMR representation reads its crop.

    ``crop``: the crop kind it reads (``ecgcmr.cmr.crop.CROP_KINDS``); ``layout``:
    ``volume3d`` (true 3D conv), ``slices_as_channels`` (2.5D), ``image`` (2D) or
    ``frames`` (2D per frame + LSTM).
    """

    crop: str
    layout: str


VIEWS: dict[str, ViewSpec] = {
    "ed3d": ViewSpec("ED", "volume3d"),
    "es3d": ViewSpec("ES", "volume3d"),
    "ed25d": ViewSpec("ED", "slices_as_channels"),
    "es25d": ViewSpec("ES", "slices_as_channels"),
    "mid2d": ViewSpec("2D", "image"),
    "mid2dt": ViewSpec("2DT", "frames"),
}

# align.phase_encoder -> the layout of the encoders behind the ed/es modalities
PHASE_LAYOUTS = {"3d": "volume3d", "2.5d": "slices_as_channels"}
PHASE_MODALITIES = ("ed", "es")


def pattern(names) -> str:
    """A wildcard constraint accepting exactly ``names`` (e.g. ``size``, ``view``)."""
    return "|".join(re.escape(n) for n in names)


def phase_view(modality: str, phase_encoder: str) -> str:
    """The view behind the ed/es modality of an alignment variant: the one row of
    :data:`VIEWS` reading that phase's crop in the layout of ``align.phase_encoder``."""
    layout = PHASE_LAYOUTS[phase_encoder]
    found = [v for v, s in VIEWS.items() if s.crop == modality.upper() and s.layout == layout]
    if len(found) != 1:
        raise ValueError(f"modality {modality!r} with phase_encoder {phase_encoder!r}: need exactly one "
                         f"view of crop {modality.upper()} and layout {layout} in VIEWS, found {found}")
    return found[0]


def align_view(modality: str, phase_encoder: str) -> str:
    """The CMR view behind a non-ECG modality: ed/es via :func:`phase_view`, any other
    modality names a view itself."""
    return phase_view(modality, phase_encoder) if modality in PHASE_MODALITIES else modality


# --- training runs (evaluate.train_seeds) ------------------------------------------------
# A representation is trained evaluate.train_seeds times; run k trains with its stage's
# seed + k and, for an alignment, starts from MAE run k, so arm and baseline pair run by
# run. Run 0 keeps the plain name (models/align_dual_phase, embeddings/dual_phase...):
# a results folder made before training runs existed stays valid and reruns nothing.
RUN_SUFFIX = "_trainseed"
_RUN = re.compile(rf"^(?P<base>.+?)(?:{RUN_SUFFIX}(?P<run>[1-9][0-9]*))?$")


def run_name(base: str, run: int) -> str:
    """The name of training run ``run`` of ``base`` (a ViT size, variant or representation)."""
    if run < 0:
        raise ValueError(f"a training run is 0 or more, got {run}")
    return base if run == 0 else f"{base}{RUN_SUFFIX}{run}"


def split_run(name: str) -> tuple[str, int]:
    """``run_name``'s inverse: ('dual_phase', 1) from 'dual_phase_trainseed1'."""
    m = _RUN.match(name)
    return m["base"], int(m["run"] or 0)


def run_names(bases, n_runs: int) -> list[str]:
    """Every training run of every base, base by base."""
    return [run_name(b, k) for b in bases for k in range(n_runs)]


def run_pattern(bases) -> str:
    """A wildcard constraint accepting every training run of exactly ``bases``."""
    return f"(?:{pattern(bases)})(?:{re.escape(RUN_SUFFIX)}[1-9][0-9]*)?"


def seeded(train: dict, run: int) -> dict:
    """A stage's trainer settings for training run ``run``: its seed moved by ``run``
    (run 0 is the settings unchanged, so its params, and its model, are today's)."""
    return train if run == 0 else {**train, "seed": train["seed"] + run}

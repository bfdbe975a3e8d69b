"""The science run's four gates, fixed before the run (issue 14). Each checks that a
stage learnt something at all; only a run that passes all four can say whether
alignment helps. A failed gate makes the comparison *not informative*, never "no
effect": an untrained MAE or an alignment that retrieves at chance cannot show a gain
that is there.

1. MAE: validation masked MSE ≤ 0.7 (standardised leads: predicting zero gives ~1).
2. CMR encoders: ridge R² of LVEF from the concatenated ED and ES embeddings ≥ 0.8 on
   the paired validation split (sklearn ``RidgeCV`` fit on the paired training split).
3. Alignment: validation top-1 retrieval ECG → each CMR modality ≥ 5 × chance (1/N).
4. Alignment: best validation CLIP loss ≤ 0.8 · ln(batch) (ln(batch) is the loss of
   embeddings that carry no pairing; the pair terms' weights sum to 1).

A label control (``align.variants[*].objective: labels``) uses no CMR encoder and
no CLIP loss, so gates 2–4 say nothing of it; its own gate replaces them:

5. Label control: mean validation R² over its standardised targets ≥ 0.05 (0 is the
   training mean; a fine-tune that cannot beat it learnt nothing to compare with).

The values come from what the trainers already write: ``history.csv`` of the MAE
(``models/ecg_mae_{size}/``) and ``metrics.json`` of an alignment
(``models/align_{variant}/``); the LVEF ridge from the frozen CMR embeddings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import LABELS   # metrics.json "objective" of a label control (ecgcmr.train.label_control)
from ..splits import eids_of, subjects

MAE_MSE_MAX = 0.7
LVEF_R2_MIN = 0.8
RETRIEVAL_TIMES_CHANCE = 5.0
CLIP_LOSS_FRACTION_OF_CHANCE = 0.8
LABEL_R2_MIN = 0.05
RIDGE_ALPHAS = tuple(np.logspace(-3, 4, 15))

INFORMATIVE = "informative"
NOT_INFORMATIVE = "not informative"


@dataclass(frozen=True)
class Gate:
    gate: str
    value: float
    threshold: float
    direction: str   # "<=" or ">=": how value must compare with threshold
    passed: bool
    source: str = ""


def _gate(name: str, value: float, threshold: float, direction: str, source: str = "") -> Gate:
    value = float(value)
    ok = math.isfinite(value) and (value <= threshold if direction == "<=" else value >= threshold)
    return Gate(name, value, float(threshold), direction, bool(ok), source)


def mae_gate(val_masked_mse: float, source: str = "") -> Gate:
    return _gate("MAE validation masked MSE", val_masked_mse, MAE_MSE_MAX, "<=", source)


LVEF_GATE = "ridge LVEF R² from ED+ES CMR embeddings (validation)"


def lvef_gate(r2: float, source: str = "") -> Gate:
    return _gate(LVEF_GATE, r2, LVEF_R2_MIN, ">=", source)


def retrieval_gate(top1: float, chance: float, modality: str, source: str = "") -> Gate:
    if not 0 < chance <= 1:
        raise ValueError(f"retrieval chance must be in (0, 1], got {chance}" + (f" ({source})" if source else ""))
    return _gate(f"alignment top-1 retrieval ECG→{modality} (validation)", top1,
                 RETRIEVAL_TIMES_CHANCE * chance, ">=", source)


def clip_loss_gate(val_loss: float, batch_size: int, source: str = "") -> Gate:
    if batch_size < 2:
        raise ValueError(f"a CLIP batch needs at least 2 pairs, got batch_size {batch_size}")
    return _gate("alignment validation CLIP loss", val_loss,
                 CLIP_LOSS_FRACTION_OF_CHANCE * math.log(batch_size), "<=", source)


def label_gate(val_r2: dict, source: str = "") -> Gate:
    values = [float(v) for v in val_r2.values() if v is not None and math.isfinite(float(v))]
    mean = float(np.mean(values)) if values else float("nan")
    return _gate("label control mean validation R²", mean, LABEL_R2_MIN, ">=", source)


def gate_table(gates: Iterable[Gate]) -> pd.DataFrame:
    """One row per gate: gate, value, threshold, direction, passed, source."""
    return pd.DataFrame([asdict(g) for g in gates],
                        columns=["gate", "value", "threshold", "direction", "passed", "source"])


def run_status(gates: pd.DataFrame) -> str:
    """"informative" when every gate passed (and there is at least one), else "not
    informative" naming the failed gates."""
    if gates.empty:
        return f"{NOT_INFORMATIVE} (no gate was evaluated)"
    # a gate shared by both sides of a comparison (the MAE's) is named once
    failed = list(dict.fromkeys(gates.loc[~gates["passed"].astype(bool), "gate"]))
    return INFORMATIVE if not failed else f"{NOT_INFORMATIVE} (failed: {'; '.join(failed)})"


def conclusion(gates: pd.DataFrame, verdict: str) -> str:
    """What a comparison's bootstrap verdict (:func:`ecgcmr.evaluate.stats.verdict`)
    may say given the gates: the verdict itself only when the run is informative."""
    status = run_status(gates)
    return verdict if status == INFORMATIVE else status


# --- reading what the trainers wrote ---------------------------------------------------

def mae_val_masked_mse(model_dir: str | Path) -> float:
    """The validation masked MSE of an MAE run's best epoch (lowest val_loss: the one
    whose weights ``encoder.pt`` holds), from its ``history.csv``. Under
    ``pretrain_ecg.loss: authors`` val_loss is that loss, and the masked MSE is its
    own column, val_masked_mse."""
    path = Path(model_dir) / "history.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no MAE training history (has pretrain_ecg run?)")
    hist = pd.read_csv(path)
    if "val_loss" not in hist.columns:
        raise ValueError(f"{path}: no val_loss column (columns: {list(hist.columns)})")
    loss = pd.to_numeric(hist["val_loss"], errors="coerce").dropna()
    if loss.empty:
        raise ValueError(f"{path}: no finite validation loss")
    if "val_masked_mse" in hist.columns:
        return float(hist.loc[loss.idxmin(), "val_masked_mse"])
    return float(loss.min())


def _metrics(model_dir: str | Path) -> dict:
    path = Path(model_dir) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no alignment metrics (has align run?)")
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: not JSON ({err})") from None


def alignment_metrics(model_dir: str | Path, metrics: dict | None = None) -> dict:
    """An alignment's ``metrics.json`` (validation retrieval, best validation loss);
    ``metrics``: the file's content when the caller has read it already."""
    path = Path(model_dir) / "metrics.json"
    metrics = _metrics(model_dir) if metrics is None else metrics
    missing = {"chance", "best_val_loss"} - set(metrics)
    if missing or not any(k.startswith("top1_ecg_to_") for k in metrics):
        raise ValueError(f"{path}: missing {sorted(missing) or 'top1_ecg_to_* retrieval'}")
    return metrics


def alignment_gates(model_dir: str | Path, batch_size: int, metrics: dict | None = None) -> list[Gate]:
    """Gates 3 (one per CMR modality the variant pairs the ECG with) and 4; for a
    label control, gate 5 instead. ``metrics``: the folder's metrics.json, if read."""
    source = str(Path(model_dir) / "metrics.json")
    m = _metrics(model_dir) if metrics is None else metrics
    if m.get("objective") == LABELS:
        if not isinstance(m.get("val_r2"), dict) or not m["val_r2"]:
            raise ValueError(f"{source}: a label control's metrics without val_r2")
        return [label_gate(m["val_r2"], source)]
    m = alignment_metrics(model_dir, m)
    gates = [retrieval_gate(v, m["chance"], k.removeprefix("top1_ecg_to_"), source)
             for k, v in m.items() if k.startswith("top1_ecg_to_")]
    return gates + [clip_loss_gate(m["best_val_loss"], batch_size, source)]


def ridge_lvef_r2(z_train: np.ndarray, y_train: np.ndarray, z_val: np.ndarray, y_val: np.ndarray,
                  alphas: Iterable[float] = RIDGE_ALPHAS) -> float:
    """Validation R² of a ridge regression (penalty chosen by RidgeCV's efficient
    leave-one-out on the training rows) on standardised embeddings."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z_train, z_val = np.asarray(z_train, float), np.asarray(z_val, float)
    y_train, y_val = np.asarray(y_train, float), np.asarray(y_val, float)
    if len(z_train) < 3 or len(z_val) < 2:
        raise ValueError(f"too few subjects for the LVEF ridge: {len(z_train)} train, {len(z_val)} val")
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=tuple(alphas)))
    model.fit(z_train, y_train)
    return float(r2_score(y_val, model.predict(z_val)))


def cmr_lvef_r2(ed_encoder: str | Path, es_encoder: str | Path, crop_index: str | Path,
                targets: str | Path, splits: str | Path, batch_size: int = 16,
                device: str = "cpu") -> float:
    """Gate 2's value from the files: the frozen ED and ES encoders (``cmr_{view}/
    encoder.pt``) embed the paired training and validation subjects that have crops and
    an LVEF; :func:`ridge_lvef_r2` on the two embeddings side by side. ``device``: cpu,
    cuda or auto (the GPU if there is one), as the config's ``evaluate.device``."""
    from ecgcmr.core.device import resolve_device
    from ecgcmr.models import load_cmr_encoder
    from ecgcmr.models.cmr_encoders import cmr_embeddings, crop_of

    lvef = pd.read_parquet(targets, columns=["eid", "LVEF"]).astype({"eid": str}).set_index("eid")["LVEF"].dropna()
    have = eids_of(crop_index) & set(lvef.index)
    eids = {s: subjects(splits, s, of="paired", having=have) for s in ("train", "val")}
    encoders = [load_cmr_encoder(p) for p in (ed_encoder, es_encoder)]
    phases = [crop_of(e) for e in encoders]
    if phases != ["ED", "ES"]:
        raise ValueError(f"{ed_encoder}, {es_encoder}: need an ED and an ES encoder, got {phases}")
    z = {s: np.hstack([cmr_embeddings(e, str(crop_index), eids[s], batch_size, resolve_device(device)).numpy()
                       for e in encoders])
         for s in ("train", "val")}
    return ridge_lvef_r2(z["train"], lvef[eids["train"]].to_numpy(), z["val"], lvef[eids["val"]].to_numpy())


def science_gates(mae_dir: str | Path, align_dir: str | Path, align_batch_size: int,
                  lvef_r2: float, lvef_source: str = "") -> pd.DataFrame:
    """The four gates of one science run, as a table (a label control: the MAE gate
    and its own; it uses no CMR encoder, so the LVEF gate is not its)."""
    mae_source = str(Path(mae_dir) / "history.csv")
    metrics = _metrics(align_dir)
    cmr = [] if metrics.get("objective") == LABELS else [lvef_gate(lvef_r2, lvef_source)]
    return gate_table([mae_gate(mae_val_masked_mse(mae_dir), mae_source), *cmr,
                       *alignment_gates(align_dir, align_batch_size, metrics)])

"""Frozen ECG embeddings of a cohort: one row per subject, ``eid`` + ``embedding``.

Each representation of Table 1/2 is an ECG encoder (``load_ecg_encoder``): the MAE
encoder alone (baseline, ``vit_{size}``) or after alignment (``align_{variant}``).
Embeddings are computed once per representation; every probe reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..core.device import resolve_device

log = logging.getLogger(__name__)

# Which subjects a representation is embedded for, and which split column its probes use.
SUBJECT_SETS = {
    "paired": "paired_split",   # Table 1: ECG-CMR pairs, split as in alignment
    "ecg": "pretrain",          # Table 2: every ECG subject, split as in MAE pretraining
}


def select_subjects(splits: pd.DataFrame, subjects: str) -> list[str]:
    """eids of the subject set, in a stable order."""
    if subjects not in SUBJECT_SETS:
        raise ValueError(f"subjects must be one of {sorted(SUBJECT_SETS)}, got {subjects!r}")
    col = SUBJECT_SETS[subjects]
    split = splits[col].fillna("").astype(str)
    keep = split.isin(["train", "val", "test"])
    if subjects == "ecg" and "has_ecg" in splits:
        keep &= splits["has_ecg"].astype(bool)
    return sorted(splits.loc[keep, "eid"].astype(str))


@torch.no_grad()
def embed_eids(encoder: torch.nn.Module, eids: Sequence[str], fetch: Callable[[list[str]], np.ndarray],
               batch_size: int = 64, device: str | torch.device = "cpu") -> np.ndarray:
    """(N, D) float32 embeddings; ``fetch(eids)`` returns normalised (B, 12, n) ECGs."""
    device = torch.device(device)
    encoder = encoder.to(device).eval()
    out = []
    for start in range(0, len(eids), batch_size):
        batch = list(eids[start:start + batch_size])
        x = torch.as_tensor(fetch(batch), dtype=torch.float32, device=device)
        out.append(encoder.embed(x).float().cpu().numpy())
        log.debug("embedded %d/%d", start + len(batch), len(eids))
    if not out:
        raise ValueError("no subjects to embed")
    return np.concatenate(out).astype(np.float32)


def write_embeddings(eids: Sequence[str], x: np.ndarray, path: str | Path) -> None:
    if len(eids) != len(x):
        raise ValueError(f"{len(eids)} eids for {len(x)} embeddings")
    table = pa.table({
        "eid": pa.array([str(e) for e in eids], pa.string()),
        "embedding": pa.array(list(np.asarray(x, np.float32)), pa.list_(pa.float32())),
    })
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def read_embeddings(path: str | Path) -> tuple[list[str], np.ndarray]:
    """(eids, (N, D) float32)."""
    table = pq.read_table(path)
    eids = [str(e) for e in table.column("eid").to_pylist()]
    emb = table.column("embedding").combine_chunks()
    dim = len(emb[0]) if len(emb) else 0
    x = emb.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(eids), dim)
    return eids, x


def embed_cohort(encoder_path: str | Path, ecg_index: str | Path, norm_stats: str | Path,
                 splits: str | Path, out: str | Path, subjects: str = "paired",
                 batch_size: int = 64, device: str = "auto") -> int:
    """Embed every subject of ``subjects`` (``paired`` or ``ecg``) that is in the ECG
    cache with ``encoder_path``; write ``out``. Returns the number embedded."""
    from ..ecg.cache import EcgCache
    from ..models import load_ecg_encoder

    cache = EcgCache(ecg_index, norm_stats)
    wanted = select_subjects(pd.read_parquet(splits), subjects)
    cached = set(pd.read_parquet(ecg_index, columns=["eid"])["eid"].astype(str))
    eids = [e for e in wanted if e in cached]
    if len(eids) < len(wanted):
        # splits come from the raw cohort: these failed ECG ingest (see the exclusions table)
        log.info("%d of %d %s subjects have no cached ECG; not embedded",
                    len(wanted) - len(eids), len(wanted), subjects)
    encoder = load_ecg_encoder(encoder_path)
    x = embed_eids(encoder, eids, cache.get, batch_size, resolve_device(device))
    write_embeddings(eids, x, out)
    log.info("embedded %d %s subjects with %s -> %s (dim %d)", len(eids), subjects, encoder_path, out, x.shape[1])
    return len(eids)

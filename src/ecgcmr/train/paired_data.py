"""Paired ECG + CMR data for the alignment stage.

The CMR encoders are frozen during alignment (paper 2.2) and we feed them unaugmented
crops, so a subject's CMR embedding is the same in every epoch: it is computed once,
before training (``ecgcmr.models.cmr_encoders.cmr_embeddings``), and the dataset
serves it from memory next to the subject's ECG. This turns each alignment step from
"3D ResNet-50 forward + ViT forward/backward" into "ViT forward/backward" only.
Deviation, on purpose: the authors' ``train_cl.py`` also applies its random horizontal
flip to the CMR input during alignment; with a frozen encoder that only jitters the
targets the ECG is pulled towards, and it would force a CMR forward pass per step.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


def ecg_signal(item) -> torch.Tensor:
    """The ``(12, n)`` normalised signal of one ECG dataset item (a tensor, or a dict
    with ``signal``/``ecg``)."""
    if isinstance(item, dict):
        item = item["signal"] if "signal" in item else item["ecg"]
    return torch.as_tensor(item, dtype=torch.float32)


class PairedDataset(Dataset):
    """Item ``i``: ``{"ecg": (12, n) tensor, "cmr": {modality: (D,) embedding}}``.

    ``ecg_dataset[i]`` and ``embeddings[m][i]`` must belong to the same subject.
    """

    def __init__(self, ecg_dataset, embeddings: dict[str, torch.Tensor]):
        n = len(ecg_dataset)
        bad = {m: len(e) for m, e in embeddings.items() if len(e) != n}
        if bad:
            raise ValueError(f"{n} ECGs but embeddings of other lengths: {bad}")
        self.ecg = ecg_dataset
        self.embeddings = embeddings

    def __len__(self) -> int:
        return len(self.ecg)

    def __getitem__(self, i: int) -> dict:
        return {"ecg": ecg_signal(self.ecg[i]),
                "cmr": {m: e[i] for m, e in self.embeddings.items()}}

    def __getitems__(self, indices: list[int]) -> list[dict]:
        """Batch fetch (the DataLoader prefers it): the ECG cache reads a batch at once."""
        fetch = getattr(self.ecg, "__getitems__", None)
        ecgs = fetch(indices) if fetch else [self.ecg[i] for i in indices]
        return [{"ecg": ecg_signal(x), "cmr": {m: e[i] for m, e in self.embeddings.items()}}
                for i, x in zip(indices, ecgs)]

"""``segmentation.weights`` from elsewhere: this project's ``model.pt``, a plain
PyTorch state dict of the configured U-Net, or a MONAI bundle of a 2D network.

* ``model.pt`` (``segmenter.save_segmenter``): state dict + constructor config.
* A plain state dict (``{name: tensor}``, e.g. another run's ``model.state_dict()``):
  the network is ``segmentation.model`` and its preprocessing the configured
  ``intensity_percentiles``/``spacing_mm``/``train.patch`` (``fallback``).
* A MONAI bundle folder (``configs/inference.json`` with a ``network_def``,
  ``configs/metadata.json``, ``models/model.pt``): the network is built by MONAI's
  ``ConfigParser``, the weights loaded with ``weights_only=True``. The bundle's
  metadata declares what the net expects, under
  ``network_data_format.inputs.image``: ``spacing_mm`` (in-plane mm; null for the
  cine's own), ``intensity_percentiles`` (percentile scaling to [0, 1]) and
  optionally ``divisor`` (the net's total stride, default 16); and under
  ``network_data_format.outputs.pred``: ``label_map``, the project label (0 bg,
  1 LV, 2 myocardium, 3 RV) of each output channel (an ACDC-trained net: ``[0, 3, 2, 1]``).
  A bundle without these is refused with the missing key named: guessing a lab's
  normalisation or label order would silently give wrong volumes.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .segmenter import build_unet, load_segmenter

N_CLASSES = 4


class LabelMapped(torch.nn.Module):
    """A net's logits reordered into the project's classes: project class k gets the
    largest logit of the channels ``label_map`` sends to k (-inf when none does)."""

    def __init__(self, net: torch.nn.Module, label_map: list[int]):
        super().__init__()
        self.net, self.label_map = net, [int(v) for v in label_map]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        if logits.shape[1] != len(self.label_map):
            raise ValueError(f"network gives {logits.shape[1]} channels, label_map has {len(self.label_map)}")
        out = torch.full((logits.shape[0], N_CLASSES, *logits.shape[2:]), float("-inf"),
                         dtype=logits.dtype, device=logits.device)
        for c, k in enumerate(self.label_map):
            out[:, k] = torch.maximum(out[:, k], logits[:, c])
        return out


def _bundle_meta(meta: dict, path: Path) -> dict:
    fmt = meta.get("network_data_format", {})
    image = fmt.get("inputs", {}).get("image", {})
    pred = fmt.get("outputs", {}).get("pred", {})
    missing = [k for k, d in (("inputs.image.intensity_percentiles", image.get("intensity_percentiles")),
                              ("outputs.pred.label_map", pred.get("label_map"))) if d is None]
    if "spacing_mm" not in image:
        missing.append("inputs.image.spacing_mm")
    if missing:
        raise ValueError(f"{path}: MONAI bundle metadata lacks network_data_format.{', '.join(missing)} "
                         "(what the net expects must be declared, see ecgcmr.cmr.weights)")
    return {"spacing_mm": image["spacing_mm"], "intensity_percentiles": list(image["intensity_percentiles"]),
            "label_map": list(pred["label_map"]), "divisor": int(image.get("divisor", 16))}


def load_bundle(folder: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    from monai.bundle import ConfigParser

    folder = Path(folder)
    meta = json.loads((folder / "configs" / "metadata.json").read_text())
    declared = _bundle_meta(meta, folder)
    parser = ConfigParser()
    parser.read_config(str(folder / "configs" / "inference.json"))
    net = parser.get_parsed_content("network_def")
    state = torch.load(folder / "models" / "model.pt", map_location=device, weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):  # {"model": state_dict, ...}
        state = state["model"]
    net.load_state_dict(state)
    arch = {"intensity_percentiles": declared["intensity_percentiles"], "spacing_mm": declared["spacing_mm"],
            "strides": [declared["divisor"]], "patch": 0, "label_map": declared["label_map"],
            "source": f"MONAI bundle {meta.get('name', folder.name)} {meta.get('version', '')}".strip()}
    return LabelMapped(net, declared["label_map"]).to(device).eval(), arch


def load_weights(path: str | Path, device: str = "cpu", fallback: dict | None = None
                 ) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, its preprocessing config) from any of the three forms."""
    path = Path(path)
    if path.is_dir():
        return load_bundle(path, device)
    blob = torch.load(path, map_location=device, weights_only=True)
    if isinstance(blob, dict) and "state_dict" in blob and "config" in blob:
        return load_segmenter(path, device)
    if not (isinstance(blob, dict) and blob and all(isinstance(v, torch.Tensor) for v in blob.values())):
        raise ValueError(f"{path}: neither this project's model.pt, a state dict nor a MONAI bundle folder")
    if not fallback:
        raise ValueError(f"{path}: a plain state dict needs segmentation.model for its network")
    model = build_unet(**fallback).to(device)
    model.load_state_dict(blob)
    return model.eval(), {**fallback, "source": "state dict"}

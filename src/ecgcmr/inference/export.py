"""``ecgcmr export``: a finished run's ECG encoder for use outside ecgcmr.

Formats: ``torchscript`` (``torch.jit.load``, no ecgcmr needed), ``onnx`` (ONNX
Runtime and friends; needs the ``export`` extra: onnx, onnxscript) and
``safetensors`` (weights only, plus ``model_card.json``; see :mod:`.card`).

The exported graph is :class:`EcgEmbedder`: it takes *filtered* ECGs in mV
(B, 12, n_samples) — filtered as ingest does, ``ecgcmr.ecg.preprocess.preprocess_batch``
with the run's ``ecg`` settings, listed in the model card — applies the run's lead-wise
normalisation and returns the (B, D) embedding ``ecgcmr embed`` writes. The batch size
is free.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from ..ecg.norm import STD_FLOOR, NormStats
from ..errors import InputError
from .manifest import read_manifest

FORMATS = {"torchscript": "ecg_encoder.torchscript.pt", "onnx": "ecg_encoder.onnx",
           "safetensors": "ecg_encoder.safetensors"}


class EcgEmbedder(nn.Module):
    """Normalisation + encoder: filtered mV ECG (B, 12, T) → embedding (B, D)."""

    def __init__(self, encoder: nn.Module, norm: NormStats):
        super().__init__()
        self.encoder = encoder.eval()
        self.register_buffer("mean", torch.as_tensor(norm.mean.reshape(1, -1, 1)))
        self.register_buffer("std", torch.as_tensor(norm.std.reshape(1, -1, 1)))  # floored as the cache's
        self.per_record = norm.mode == "record"   # a Python bool: traced/exported as a constant

    def forward(self, ecg: torch.Tensor) -> torch.Tensor:
        if self.per_record:   # ecgcmr.ecg.norm "record": each record over all leads and samples
            mean = ecg.mean(dim=(1, 2), keepdim=True)
            std = ecg.std(dim=(1, 2), keepdim=True, correction=0).clamp_min(STD_FLOOR)
            return self.encoder.embed((ecg - mean) / std)
        return self.encoder.embed((ecg - self.mean) / self.std)


def load_embedder(run_dir: str | Path) -> tuple[EcgEmbedder, dict]:
    """The run's :class:`EcgEmbedder` (eval mode) and its manifest."""
    from ..models import load_ecg_encoder

    manifest, _ = read_manifest(run_dir)
    module = EcgEmbedder(load_ecg_encoder(manifest["encoder"]), NormStats.load(manifest["norm_stats"]))
    return module.eval(), manifest


def example_input(module: EcgEmbedder, batch: int = 2) -> torch.Tensor:
    cfg = module.encoder.config
    return torch.randn(batch, cfg["n_leads"], cfg["n_samples"], generator=torch.Generator().manual_seed(0))


def export_torchscript(module: EcgEmbedder, out: str | Path) -> Path:
    # traced, not scripted: scripting compiles every method of the MAE (its masking and
    # decoder too), while the trace holds just embed's graph; the batch size stays free
    # (the graph reads it from the input's shape)
    with warnings.catch_warnings():   # patchify's shape check is a Python bool: fixed for any batch
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        scripted = torch.jit.trace(module, example_input(module), check_inputs=[example_input(module, 3)])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(out))
    return Path(out)


def export_onnx(module: EcgEmbedder, out: str | Path) -> Path:
    try:
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError as e:
        raise RuntimeError("ONNX export needs the 'export' extra: pip install 'ecgcmr[export]'") from e
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.onnx.export(module, (example_input(module),), dynamo=True, input_names=["ecg"],
                                output_names=["embedding"], dynamic_shapes={"ecg": {0: batch}},
                                verbose=False)
    program.save(str(out))
    return Path(out)


def export(run_dir: str | Path, fmt: str, out: str | Path | None = None) -> Path:
    """Write the run's encoder in ``fmt``; default path ``<run>/inference/<file>``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "inference" / FORMATS[fmt]
    if fmt == "safetensors":
        from .card import write_safetensors_and_card

        metrics = run_dir / "tables" / "probe_results.csv"   # the pipeline's (table1 rule)
        return write_safetensors_and_card(run_dir, out, metrics if metrics.is_file() else None)
    module, _ = load_embedder(run_dir)
    with torch.no_grad():
        return export_torchscript(module, out) if fmt == "torchscript" else export_onnx(module, out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, help="finished run directory (e.g. results/demo)")
    p.add_argument("--format", required=True, choices=sorted(FORMATS))
    p.add_argument("--out", "-o", help="output file (default: <run>/inference/ecg_encoder.<format>)")


def cli(args) -> int:
    try:
        path = export(args.run, args.format, args.out)
    except (InputError, RuntimeError) as e:
        print(f"ecgcmr export: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0

"""CMR encoders (paper 2.2, "CMR Encoder Training"; Table 1's CMR representations).

One class, :class:`CmrEncoder`, covers every view; the views differ only by the
:data:`~ecgcmr.specs.VIEWS` table (which crop they read, how the crop is fed to the backbone), so a
new representation is a row of data, not a copy of the network:

=========  =====  ===========================================================
view       crop   backbone input
=========  =====  ===========================================================
``ed3d``   ED     true 3D ResNet-50 on the (1, H, W, 6) six-slice volume
``es3d``   ES     idem, end-systole
``ed25d``  ED     2D ResNet-50 with the six slices as six input channels
``es25d``  ES     idem, end-systole
``mid2d``  2D     2D ResNet-50 on the mid-ventricular ED slice (1, H, W)
``mid2dt`` 2DT    2D ResNet-50 per frame of the mid slice + LSTM over the frames
=========  =====  ===========================================================

Input batches are exactly what ``ecgcmr.cmr.dataset.CmrCropDataset`` yields, stacked:
ED/ES ``(B, 1, H, W, 6)``, 2D ``(B, 1, H, W)``, 2DT ``(B, T, 1, H, W)``; the encoder
rearranges them itself, so every caller (pretraining, alignment, evaluation) feeds
crops the same way whatever the view.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from monai.networks import nets
from torch import nn
from torch.utils.data import DataLoader

from ecgcmr.core import distributed as D
from ecgcmr.core.files import atomic_save
from ecgcmr.errors import InputError
# the view table is torch-free (the workflow reads it when it parses); re-exported here
from ecgcmr.specs import VIEWS, ViewSpec  # noqa: F401

# MONAI's ResNet constructors by name; the paper uses resnet50 everywhere. Smaller
# depths are offered only so the laptop demo can trade accuracy for minutes.
BACKBONES = {"resnet10": nets.resnet10, "resnet18": nets.resnet18,
             "resnet34": nets.resnet34, "resnet50": nets.resnet50}
# Width of the pooled features: Bottleneck nets expand by 4 (ResNet-50: 2048).
BACKBONE_DIM = {"resnet10": 512, "resnet18": 512, "resnet34": 512, "resnet50": 2048}


# The in-plane axis flipped by the horizontal-flip augmentation, per batch layout
# ((B,1,H,W,S), (B,1,H,W), (B,T,1,H,W)): the W axis of each.
FLIP_DIM = {"volume3d": 3, "slices_as_channels": 3, "image": 3, "frames": 4}


@dataclass
class CmrEncoderConfig:
    """Everything needed to rebuild an encoder (stored in ``encoder.pt``)."""

    view: str
    n_targets: int = 12
    backbone: str = "resnet50"
    n_slices: int = 6
    lstm_hidden: int = 768
    time_stride: int = 1
    target_columns: list[str] = field(default_factory=list)


class CmrEncoder(nn.Module):
    """A CMR encoder with a linear regression head to the standardised phenotypes.

    ``embed(x)`` gives the representation used by alignment and probes; ``forward(x)``
    the phenotype predictions used in pretraining.

    Embedding width: the pooled ResNet-50 features, 2048 (paper 2.2), for every view
    but ``mid2dt``. There it is the last LSTM hidden state, ``lstm_hidden`` wide
    (default 768): the authors' code projects each frame's 2048 features to their
    ``latent_dim`` (768) and runs a 768-wide LSTM; a 2048-wide LSTM would add ~34 M
    parameters (more than the ResNet itself) for a 2D+time baseline.

    Thin-depth 3D (``ed3d``/``es3d``): the six slices are 10 mm apart against ~1.8 mm
    in plane, so the first convolution is (7, 7, 3) with stride (2, 2, 1): it halves
    the in-plane size only and keeps all six slices. MONAI's max-pool and the stride-2
    stages are isotropic, so the depth then goes 6 → 3 → 2 → 1 → 1 (padding keeps it
    at least 1), which still lets layer1-2 see through-plane structure.

    2.5D (``ed25d``/``es25d``): a 2D ResNet-50 whose first convolution takes the six
    slices as six channels, an extra comparison to the true 3D views. It is not the
    authors' model: their dual-phase encoders are 3D ResNet-50s (pytorchvideo
    ``slow_r50``) whose remaining depth a learned linear layer collapses, embedded
    2048 → 768.

    Input intensities are z-scored per subject inside the encoder: MR signal has no
    absolute scale (UKB DICOM scaling differs between subjects), and doing it here
    means every user of a saved encoder feeds raw crops the same way.
    """

    def __init__(self, config: CmrEncoderConfig):
        super().__init__()
        if config.view not in VIEWS:
            raise ValueError(f"unknown CMR view {config.view!r}; expected one of {sorted(VIEWS)}")
        if config.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {config.backbone!r}; expected one of {sorted(BACKBONES)}")
        self.config = config
        self.spec = VIEWS[config.view]
        make = BACKBONES[config.backbone]
        layout = self.spec.layout
        if layout == "volume3d":
            self.backbone = make(spatial_dims=3, n_input_channels=1, feed_forward=False,
                                 conv1_t_size=(7, 7, 3), conv1_t_stride=(2, 2, 1))
        else:
            channels = config.n_slices if layout == "slices_as_channels" else 1
            # conv1 stride 2, as a standard (torchvision) 2D ResNet.
            self.backbone = make(spatial_dims=2, n_input_channels=channels,
                                 feed_forward=False, conv1_t_stride=2)
        width = BACKBONE_DIM[config.backbone]
        if layout == "frames":
            self.frame_proj = nn.Linear(width, config.lstm_hidden)
            self.lstm = nn.LSTM(config.lstm_hidden, config.lstm_hidden, batch_first=True)
            width = config.lstm_hidden
        self.embed_dim = width
        self.head = nn.Linear(width, config.n_targets)

    @staticmethod
    def _zscore(x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        mean = flat.mean(1).view(-1, *([1] * (x.dim() - 1)))
        std = flat.std(1).clamp_min(1e-6).view(-1, *([1] * (x.dim() - 1)))
        return (x - mean) / std

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Crops (batch layout of the view, see module docstring) → ``(B, embed_dim)``."""
        x = self._zscore(x.float())
        layout = self.spec.layout
        if layout == "slices_as_channels":
            # (B, 1, H, W, S) -> (B, S, H, W)
            return self.backbone(x.squeeze(1).permute(0, 3, 1, 2).contiguous())
        if layout == "frames":
            x = x[:, :: self.config.time_stride]
            b, t = x.shape[:2]
            per_frame = self.backbone(x.flatten(0, 1)).view(b, t, -1)
            out, _ = self.lstm(self.frame_proj(per_frame))
            return out[:, -1]
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def build_cmr_encoder(view: str, n_targets: int = 12, **options) -> CmrEncoder:
    """The encoder of one view; ``options`` are :class:`CmrEncoderConfig` fields."""
    return CmrEncoder(CmrEncoderConfig(view=view, n_targets=n_targets, **options))


def encoder_state(model: CmrEncoder, meta: dict | None = None) -> dict:
    """What ``encoder.pt`` holds (the format of ``ecgcmr.models``: kind, constructor
    config, weights, meta), no training state."""
    return {"kind": "cmr_encoder", "config": asdict(model.config),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "meta": meta or {}}


def save_cmr_encoder(model: CmrEncoder, path: str | Path, meta: dict | None = None) -> None:
    """Write ``encoder.pt`` (atomic: a job killed mid-write leaves no truncated encoder)."""
    atomic_save(encoder_state(model, meta), Path(path))


def load_cmr_encoder(path, map_location="cpu") -> CmrEncoder:
    """Rebuild a CMR encoder from ``{results}/models/cmr_{view}/encoder.pt`` (eval mode)."""
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise InputError(str(path), "unreadable_encoder", str(e)) from e
    if not isinstance(blob, dict) or blob.get("kind") != "cmr_encoder":
        kind = blob.get("kind") if isinstance(blob, dict) else type(blob).__name__
        raise InputError(str(path), "not_cmr_encoder", f"kind={kind!r}")
    model = CmrEncoder(CmrEncoderConfig(**blob["config"]))
    model.load_state_dict(blob["state_dict"])
    return model.eval()


def crop_of(encoder: CmrEncoder) -> str:
    """The crop kind an encoder reads: its view's (``VIEWS``)."""
    return VIEWS[encoder.config.view].crop


@torch.no_grad()
def cmr_embeddings(encoder: CmrEncoder, crop_index: str, eids: Sequence[str], batch_size: int,
                   device: torch.device | str = "cpu", num_workers: int = 0) -> torch.Tensor:
    """``(len(eids), D)`` float32 embeddings of a frozen encoder, in ``eids`` order, from
    the crops of its view (:func:`crop_of`).

    Under DDP each rank embeds every ``world``-th subject and the pieces are exchanged,
    so the one-off cost is shared instead of repeated on every GPU.
    """
    from ecgcmr.cmr.dataset import CmrCropDataset

    encoder = encoder.to(device).eval()
    rank, world = D.rank(), D.world_size()
    mine = list(eids)[rank::world]
    out = torch.zeros(0, encoder.embed_dim)
    if mine:
        loader = DataLoader(CmrCropDataset(crop_index, mine, crop_of(encoder)), batch_size=batch_size,
                            num_workers=num_workers)
        out = torch.cat([encoder.embed(b["image"].to(device)).float().cpu() for b in loader])
    full = torch.empty(len(eids), encoder.embed_dim)
    for r, piece in enumerate(D.all_gather_object(out)):
        full[r::world] = piece
    return full

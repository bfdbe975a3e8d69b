"""ECG masked autoencoder with a ViT encoder (paper section 2.2, Tables 2-3, Figure 2).

One class, its methods the steps of the method, as in the MAE reference
(facebookresearch/mae ``models_mae.py``): ``patchify`` → ``random_masking`` →
``forward_encoder`` → ``forward_decoder`` → ``forward_loss``. Sizes are rows of
:data:`~ecgcmr.specs.VIT_SIZES` (Table 3), not subclasses.

Tokens: a 12-lead ECG (B, 12, 5000) is cut into patches of 1 lead × ``patch_size``
samples (default 100 → 12 × 50 = 600 tokens), ordered lead-major. Positions: the
first half of each token's embedding gets a fixed 1-D sin-cos code of the time patch
index, the second half a learned per-lead embedding, so lead and time are told apart
(the authors' lineage, Turgut et al. 2025, splits the dimensions the same way: sin-cos
along time, learned along leads). A cls token is kept for MAE parity but unused by
:meth:`EcgMAE.embed`.

Transformer blocks: ``torch.nn.TransformerEncoderLayer`` (pre-norm, GELU), whose
attention goes through ``F.scaled_dot_product_attention`` (fused kernels on GPU).
MONAI's ``TransformerBlock`` was the first choice but does not fit here: it always
creates a ``norm_cross_attn`` LayerNorm even without cross-attention (parameters that
never get a gradient, which DDP rejects), needs ``einops``, and its fused path applies
dropout in eval mode.

Parameter counts (encoder: patch embedding, positions, cls token, blocks, final norm):
Tiny 5.4 M, Small 21.3 M, Medium 47.9 M, Base 85.1 M — Table 3's 5/21/48/85 M. The
paper's text says the Medium model (576 wide, 8 heads, 12 layers) has "approximately
24 million parameters"; 12 layers of width 576 cannot have fewer than 12·12·576² ≈
47.8 M, agreeing with Table 3. The 24 M appears to come from a comment in the authors'
code ("nb_params: 24.68M encoder") copied from a 640-wide, 5-layer model.
"""

from __future__ import annotations

import torch
from torch import nn

# the size table is torch-free (the workflow reads it when it parses); re-exported here
from ecgcmr.specs import TABLE3_PARAMS_M, VIT_SIZES  # noqa: F401


def sincos_1d(dim: int, n: int) -> torch.Tensor:
    """(n, dim) fixed sin-cos position code of positions 0..n-1 (MAE reference)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = torch.arange(n, dtype=torch.float64)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.ModuleList:
    return nn.ModuleList(
        nn.TransformerEncoderLayer(dim, heads, int(dim * mlp_ratio), dropout=0.0,
                                   activation="gelu", batch_first=True, norm_first=True,
                                   layer_norm_eps=1e-6)
        for _ in range(depth))


class EcgMAE(nn.Module):
    """Masked autoencoder on 12-lead ECGs.

    Args:
        n_leads, n_samples: input shape (12, 5000 for 10 s at 500 Hz).
        patch_size: samples per token (one lead each); must divide ``n_samples``.
        embed_dim, depth, num_heads: encoder (see :data:`VIT_SIZES`).
        decoder_embed_dim, decoder_depth, decoder_num_heads: the light decoder used
            only for pretraining (authors' default: 256 wide, 2 blocks, 8 heads).
        mlp_ratio: MLP width / embedding width.
        mask_ratio: share of tokens hidden from the encoder during pretraining.
        norm_pix_loss: normalise each target patch (MAE option; off for ECGs, which are
            already normalised per lead and whose patch amplitude is informative).
        decoder: build the decoder. ``False`` gives the encoder alone (what
            ``load_ecg_encoder`` returns): no parameters that :meth:`embed` leaves
            without gradient, which DDP would reject downstream.
    """

    def __init__(self, n_leads: int = 12, n_samples: int = 5000, patch_size: int = 100,
                 embed_dim: int = 192, depth: int = 12, num_heads: int = 3,
                 decoder_embed_dim: int = 256, decoder_depth: int = 2,
                 decoder_num_heads: int = 8, mlp_ratio: float = 4.0,
                 mask_ratio: float = 0.75, norm_pix_loss: bool = False, decoder: bool = True):
        super().__init__()
        if n_samples % patch_size:
            raise ValueError(f"patch_size {patch_size} does not divide n_samples {n_samples}")
        if embed_dim % 2 or decoder_embed_dim % 2:
            raise ValueError("embedding widths must be even (half time code, half lead code)")
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.n_leads, self.patch_size, self.mask_ratio = n_leads, patch_size, mask_ratio
        self.n_time = n_samples // patch_size
        self.norm_pix_loss = norm_pix_loss

        # encoder
        self.patch_embed = nn.Linear(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.lead_embed = nn.Parameter(torch.zeros(n_leads, embed_dim // 2))
        self.register_buffer("time_embed", sincos_1d(embed_dim // 2, self.n_time), persistent=False)
        self.blocks = _blocks(embed_dim, depth, num_heads, mlp_ratio)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

        self.has_decoder = decoder
        if decoder:
            self._build_decoder(embed_dim, decoder_embed_dim, decoder_depth, decoder_num_heads,
                                mlp_ratio, n_leads, patch_size)
        self.initialize_weights()

    def _build_decoder(self, embed_dim, decoder_embed_dim, decoder_depth, decoder_num_heads,
                       mlp_ratio, n_leads, patch_size) -> None:
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_lead_embed = nn.Parameter(torch.zeros(n_leads, decoder_embed_dim // 2))
        self.register_buffer("decoder_time_embed", sincos_1d(decoder_embed_dim // 2, self.n_time),
                             persistent=False)
        self.decoder_blocks = _blocks(decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio)
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size)

    @classmethod
    def from_size(cls, size: str, **kwargs) -> "EcgMAE":
        """A Table-3 size (tiny/small/medium/base); ``kwargs`` set or override arguments."""
        if size not in VIT_SIZES:
            raise ValueError(f"unknown ViT size {size!r}; choose one of {sorted(VIT_SIZES)}")
        return cls(**{**VIT_SIZES[size], **kwargs})

    def initialize_weights(self) -> None:
        # MAE reference: xavier-uniform linears, N(0, .02) tokens and learned positions
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for block in [*self.blocks, *getattr(self, "decoder_blocks", [])]:
            # the fused q/k/v projection is one (3D, D) matrix: initialise it as three
            for w in block.self_attn.in_proj_weight.view(3, -1, block.self_attn.embed_dim):
                nn.init.xavier_uniform_(w)
        for name in ("cls_token", "mask_token", "lead_embed", "decoder_lead_embed"):
            if hasattr(self, name):
                nn.init.normal_(getattr(self, name), std=0.02)

    def no_weight_decay(self) -> set[str]:
        return {"cls_token", "mask_token", "lead_embed", "decoder_lead_embed"}

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights :meth:`embed` uses (decoder and mask token left out)."""
        return {k: v for k, v in self.state_dict().items()
                if not k.startswith(("decoder_", "mask_token"))}

    def encoder_parameters(self) -> int:
        """Parameters used by :meth:`embed` (Table 3 counts the encoder only)."""
        return sum(p.numel() for n, p in self.named_parameters()
                   if not n.startswith(("decoder_", "mask_token")))

    # --- the method's steps ---------------------------------------------------------

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, leads, samples) → (B, leads·n_time, patch_size), lead-major."""
        b = x.shape[0]
        if tuple(x.shape[1:]) != (self.n_leads, self.n_time * self.patch_size):
            raise ValueError(f"expected ECGs of shape (B, {self.n_leads}, "
                             f"{self.n_time * self.patch_size}), got {tuple(x.shape)}")
        return x.reshape(b, self.n_leads * self.n_time, self.patch_size)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, leads·n_time, patch_size) → (B, leads, samples)."""
        return patches.reshape(patches.shape[0], self.n_leads, self.n_time * self.patch_size)

    @staticmethod
    def _positions(lead: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """(leads·n_time, D): [time code | lead code] for every token, lead-major."""
        n_leads, n_time = lead.shape[0], time.shape[0]
        return torch.cat([time.expand(n_leads, -1, -1),
                          lead[:, None].expand(-1, n_time, -1)], dim=-1).flatten(0, 1)

    def random_masking(self, x: torch.Tensor, mask_ratio: float):
        """Keep a random ``1 - mask_ratio`` share of each sample's tokens.

        Returns the kept tokens (B, L_keep, D), the mask (B, L) with 1 = hidden, and
        ``ids_restore`` (B, L) that puts shuffled tokens back in order.
        """
        b, n, d = x.shape
        n_keep = int(round(n * (1 - mask_ratio)))
        if n_keep == n:  # no masking: keep the order, so embed() is deterministic
            ids = torch.arange(n, device=x.device).expand(b, n)
            return x, torch.zeros(b, n, device=x.device), ids
        noise = torch.rand(b, n, device=x.device)
        ids_shuffle = torch.argsort(noise, dim=1)  # small noise: keep
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :n_keep]
        kept = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, d))
        mask = torch.ones(b, n, device=x.device)
        mask[:, :n_keep] = 0
        return kept, torch.gather(mask, 1, ids_restore), ids_restore

    def forward_encoder(self, x: torch.Tensor, mask_ratio: float):
        """(B, leads, samples) → tokens (B, 1 + L_keep, D) (cls first), mask, ids_restore."""
        tokens = self._tokens(x)
        tokens, mask, ids_restore = self.random_masking(tokens, mask_ratio)
        return self._encode(tokens), mask, ids_restore

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(self.patchify(x)) + self._positions(self.lead_embed, self.time_embed)

    def _encode(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Encoded visible tokens + mask tokens → predicted patches (B, L, patch_size)."""
        x = self.decoder_embed(latent)
        b, n_vis, d = x.shape
        n = ids_restore.shape[1]
        x_ = torch.cat([x[:, 1:], self.mask_token.expand(b, n + 1 - n_vis, -1)], dim=1)
        x_ = torch.gather(x_, 1, ids_restore[..., None].expand(-1, -1, d))  # unshuffle
        x_ = x_ + self._positions(self.decoder_lead_embed, self.decoder_time_embed)
        x = torch.cat([x[:, :1], x_], dim=1)
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    def forward_loss(self, x: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """MSE between predicted and original samples, over the hidden patches only."""
        target = self.patchify(x)
        if self.norm_pix_loss:
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        per_patch = ((pred.float() - target) ** 2).mean(-1)
        if mask.sum() == 0:  # mask_ratio 0: plain autoencoding over all patches
            return per_patch.mean()
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, x: torch.Tensor, mask_ratio: float | None = None):
        """Returns ``(loss, pred (B, L, patch_size), mask (B, L))``."""
        if not self.has_decoder:
            raise RuntimeError("this EcgMAE was built without its decoder: use embed()")
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        latent, mask, ids_restore = self.forward_encoder(x, ratio)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(x, pred, mask), pred, mask

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, leads, samples) normalised ECG → (B, D): mean of the unmasked encoder's
        patch tokens, cls token excluded. MAE's loss never reads the cls token, so after
        pretraining it is an untrained summary; the token mean is what the loss shaped.

        All tokens are kept without going through :meth:`random_masking` (whose
        ``round`` on a Python float neither TorchScript nor ONNX export can trace), so
        this is the graph ``ecgcmr export`` writes; same result as ``forward_encoder(x, 0)``."""
        return self._encode(self._tokens(x))[:, 1:].mean(dim=1)


def flops_per_sample(model: EcgMAE) -> float:
    """Analytical forward FLOPs per ECG (2·MACs of matmuls incl. attention); used to
    sanity-check the counted FLOPs in ``bench/train.py``."""
    cfg = model.config
    n_tok = model.n_leads * model.n_time
    n_enc = 1 + int(round(n_tok * (1 - cfg["mask_ratio"])))

    def stack(n, d, depth):
        return depth * (2 * n * 12 * d * d + 4 * n * n * d)

    return (stack(n_enc, cfg["embed_dim"], cfg["depth"])
            + stack(n_tok + 1, cfg["decoder_embed_dim"], cfg["decoder_depth"])
            + 2 * n_tok * model.patch_size * cfg["embed_dim"]
            + 2 * n_enc * cfg["embed_dim"] * cfg["decoder_embed_dim"]
            + 2 * n_tok * cfg["decoder_embed_dim"] * model.patch_size)

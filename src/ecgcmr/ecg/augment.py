"""ECG augmentation for MAE pretraining: FT surrogate, jitter, rescaling (optional).

The paper's text describes no ECG augmentation and that is the default. The authors'
public code augments pretraining ECGs with a Fourier-transform surrogate, Gaussian
jitter and amplitude rescaling; ``pretrain_ecg.augment`` turns these on.

Applied to a batch of normalised ECGs inside the training step (``model.training``),
with the global torch RNG of the batch's device: the training loop seeds that RNG and
checkpoints it, so runs are reproducible and resume exactly, and the result does not
depend on ``num_workers`` (worker RNGs would). Validation, test, Figure 2, embed and
predict never call the training step, so they never see an augmented ECG.
A transform with ``p == 0`` draws nothing: with everything off the RNG stream, and so
every result, is the same as without this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EcgAugment:
    """Per-record transforms; each fires for a record with its own probability.

    ``phase_noise``: FT surrogate phase perturbation as a fraction of 2π (braindecode's
    ``phase_noise_magnitude``); ``jitter_sigma``: SD of the additive Gaussian noise in
    units of the normalised signal; ``rescale_sigma``: SD of the amplitude factor drawn
    from N(1, sigma²), one per record (all leads alike, so the leads' relations hold).
    """

    ft_p: float = 0.0
    phase_noise: float = 0.0
    jitter_p: float = 0.0
    jitter_sigma: float = 0.0
    rescale_p: float = 0.0
    rescale_sigma: float = 0.0

    @classmethod
    def from_config(cls, cfg: dict | None) -> EcgAugment:
        """``pretrain_ecg.augment``: ``{ft_surrogate: {p, phase_noise}, jitter: {p, sigma},
        rescale: {p, sigma}}``; a missing transform is off."""
        cfg = cfg or {}
        unknown = set(cfg) - {"ft_surrogate", "jitter", "rescale"}
        if unknown:
            raise ValueError(f"pretrain_ecg.augment: unknown transform(s) {sorted(unknown)}")
        # a transform given names all its numbers (the schema requires them): no
        # second set of defaults here
        ft = cfg.get("ft_surrogate") or {"p": 0.0, "phase_noise": 0.0}
        jit = cfg.get("jitter") or {"p": 0.0, "sigma": 0.0}
        res = cfg.get("rescale") or {"p": 0.0, "sigma": 0.0}
        out = cls(ft_p=float(ft["p"]), phase_noise=float(ft["phase_noise"]),
                  jitter_p=float(jit["p"]), jitter_sigma=float(jit["sigma"]),
                  rescale_p=float(res["p"]), rescale_sigma=float(res["sigma"]))
        for name in ("ft_p", "jitter_p", "rescale_p"):
            if not 0.0 <= getattr(out, name) <= 1.0:
                raise ValueError(f"pretrain_ecg.augment: probability {name} must be in [0, 1]")
        return out

    @property
    def enabled(self) -> bool:
        return self.ft_p > 0 or self.jitter_p > 0 or self.rescale_p > 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, leads, T) -> augmented copy (the input is left as it was)."""
        if not self.enabled:
            return x
        # float32 throughout: under bf16 autocast the FFT's phases would lose precision
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = x.float()
            if self.ft_p > 0:
                y = torch.where(_fires(y, self.ft_p), ft_surrogate(y, self.phase_noise), y)
            if self.jitter_p > 0:
                y = torch.where(_fires(y, self.jitter_p), y + self.jitter_sigma * torch.randn_like(y), y)
            if self.rescale_p > 0:
                factor = 1.0 + self.rescale_sigma * torch.randn(y.shape[0], 1, 1, device=y.device)
                y = torch.where(_fires(y, self.rescale_p), y * factor, y)
        return y.to(x.dtype)


def ft_surrogate(x: torch.Tensor, phase_noise: float) -> torch.Tensor:
    """Fourier-transform surrogate of (B, leads, T): every frequency's phase shifted by
    U(0, 2π·phase_noise), the same shift for all leads of a record (braindecode's
    ``FTSurrogate`` with ``channel_indep=False``), amplitude spectrum unchanged.

    Our few lines instead of braindecode's: braindecode is not a dependency and would
    pull in MNE for one function. rfft/irfft rather than its full fft and real part: a
    real signal's spectrum is Hermitian, so shifting the half spectrum keeps every
    amplitude exactly (taking the real part of a shifted full spectrum does not); DC
    and (even T) the Nyquist bin keep phase 0, as they must stay real.
    """
    n = x.shape[-1]
    spec = torch.fft.rfft(x, dim=-1)
    phase = 2 * math.pi * phase_noise * torch.rand(x.shape[0], 1, spec.shape[-1], device=x.device)
    phase[..., 0] = 0
    if n % 2 == 0:
        phase[..., -1] = 0
    return torch.fft.irfft(spec * torch.polar(torch.ones_like(phase), phase), n=n, dim=-1)


def _fires(x: torch.Tensor, p: float) -> torch.Tensor:
    """(B, 1, 1) bool: which records get the transform."""
    return torch.rand(x.shape[0], 1, 1, device=x.device) < p

"""Learning-rate schedule: linear warm-up, then a half-cycle cosine decay.

The schedule of the paper (section 2.2) and of the MAE reference code
(``util/lr_sched.py``), stepped per optimiser step rather than per epoch so short
demo runs and 200-epoch UK Biobank runs follow the same curve.
"""

from __future__ import annotations

import math

import torch


class WarmupCosine:
    """LR multiplier at optimiser step ``step`` (a plain object, so ``LambdaLR``
    checkpoints its fields with the scheduler state).

    ``0 → 1`` linearly over ``warmup_steps``, then ``1 → min_factor`` along half a
    cosine until ``total_steps``; constant ``min_factor`` afterwards.
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_factor: float = 0.0):
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        self.warmup_steps = max(0, min(int(warmup_steps), int(total_steps)))
        self.total_steps = int(total_steps)
        self.min_factor = float(min_factor)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            # (step + 1): the first step already trains, with a small but non-zero lr
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_factor + (1.0 - self.min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                  min_factor: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` scaling every param group's base lr by :class:`WarmupCosine`."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(warmup_steps, total_steps, min_factor))

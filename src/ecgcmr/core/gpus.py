"""How many GPUs this host can give a job, without importing torch.

The Snakefile asks at every parse (a ``snakemake`` call, each dry run), where importing
torch would cost ~2 s. NVIDIA's driver lists one folder per GPU under
``/proc/driver/nvidia/gpus`` (also inside a container started with GPUs);
``CUDA_VISIBLE_DEVICES``, when set, is what CUDA itself will show. Other GPU kinds
(ROCm) are not counted: there the GPU rules run side by side, as on a CPU-only host.
"""

from __future__ import annotations

import os
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def visible_gpus(driver_dir: str | Path = NVIDIA_GPUS, env: dict | None = None) -> int:
    """GPUs the driver lists, capped by ``CUDA_VISIBLE_DEVICES`` when that is set
    (empty or ``-1``: none)."""
    env = os.environ if env is None else env
    d = Path(driver_dir)
    found = sum(1 for p in d.iterdir() if p.is_dir()) if d.is_dir() else 0
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return found
    ids = [v for v in visible.split(",") if v.strip()]
    if not ids or ids[0].strip() == "-1":
        return 0
    return min(found, len(ids))

"""CPU threads of a training job, from its allocation, set before torch starts.

On a shared node the default setup multiplies step time: torch starts one OpenMP thread
per visible core (not per core allocated to the job), and OpenMP threads spin while they
wait for work, so two jobs on two cores each burn the other's time (issue 15 measured a
ViT-MAE step at 2.0-2.3 CPU-s with 1 thread and 6.7-7.4 with 2 on a loaded 2-core node).
Here the count is the job's (``threads`` given by Snakemake, capped by
``SLURM_CPUS_PER_TASK`` and the CPU affinity mask), OpenMP waits passively (sleeps
instead of spinning) and torch's inter-op pool is one thread. bench/threads.py measures
a step alone and beside a CPU hog.

Import this module before torch (``OMP_WAIT_POLICY`` is read when the OpenMP runtime
loads); settings already in the environment win.
"""

from __future__ import annotations

import logging
import os

# read once, when torch loads libgomp / libiomp: must precede `import torch`
WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
for _key, _value in WAIT_ENV.items():
    os.environ.setdefault(_key, _value)

log = logging.getLogger(__name__)


def allocated_cpus(requested: int | None = None) -> int:
    """The CPUs this job may use: ``requested`` (Snakemake's ``threads``), capped by
    ``SLURM_CPUS_PER_TASK`` and by the affinity mask (cgroup/taskset), at least 1."""
    limits = [len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)]
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        limits.append(int(slurm))
    if requested:
        limits.append(int(requested))
    return max(1, min(limits))


def configure_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads to ``allocated_cpus(requested)`` and its inter-op
    pool to 1; returns the thread count."""
    import torch

    n = allocated_cpus(requested)
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:   # only settable before the first inter-op work of the process
        pass
    log.info("torch threads: %d intra-op, %d inter-op (OMP_WAIT_POLICY=%s)", torch.get_num_threads(),
             torch.get_num_interop_threads(), os.environ.get("OMP_WAIT_POLICY"))
    return n

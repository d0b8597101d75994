"""How many CPU threads PyTorch trains with.

PyTorch's default, one per core, collapses when anything else wants a core: on a busy 2-core
machine an epoch took 12x longer than with one thread. Leaving one core free (the GUI's, or the
rest of the machine's) keeps a run fast under load and costs little when idle.
"""

from __future__ import annotations

import os

RESERVED_CORES = 1  # left to the GUI thread, or to whatever else runs on the machine


def default_threads(cores: int | None = None) -> int:
    """All cores but RESERVED_CORES, at least one."""
    return max(1, (cores or usable_cores()) - RESERVED_CORES)


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def set_threads(threads: int | None = None) -> int:
    """Set PyTorch's intra-op threads (None = default_threads()); returns the count set."""
    import torch

    count = threads or default_threads()
    torch.set_num_threads(count)
    return count

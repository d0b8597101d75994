"""Pay once, early and off the critical path, what a process's first training step costs.

Building the first torch.optim optimizer imports torch._dynamo (its methods are wrapped in
torch._disable_dynamo): ~850 modules, 1-2 s of pure Python on 2 cores, parts of which hold the
GIL for 100-200 ms at a time. Paid during a run, that stalls the window; paid while the data
loads (decompression releases the GIL), it overlaps work that has to happen anyway.
"""

from __future__ import annotations

import sys
import threading
import time

_lock = threading.Lock()
_thread: threading.Thread | None = None


def warm_up() -> float:
    """Import the optimizer machinery and the run's log writers, and take one tiny step; returns seconds."""
    started = time.perf_counter()
    import torch

    import trainer.reporting  # noqa: F401  the run's log writers: imported now, not mid-run

    weight = torch.zeros(4, requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=1e-3)
    (weight * 2).sum().backward()
    optimizer.step()
    return time.perf_counter() - started


def warm_up_in_background() -> None:
    """Start warm_up() on a thread unless it ran or is running; errors are left to the real first step.

    Not a daemon thread: a process exiting in the middle of an import is not safe.
    """
    global _thread
    with _lock:
        if _thread is not None or "torch._dynamo" in sys.modules:
            return
        _thread = threading.Thread(target=_quiet_warm_up, name="digitpad-warm-up")
        _thread.start()


def _quiet_warm_up() -> None:
    try:
        warm_up()
    except Exception:  # noqa: BLE001 - the optimizer's own first use reports it
        return

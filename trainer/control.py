"""Pause, resume or cancel a training run from another thread or a signal handler."""

from __future__ import annotations

import threading


class TrainControl:
    """Pause, resume or cancel a running `train()` from another thread (or a signal handler).

    Training looks at it between batches: cancel makes `train()` return what it has so far,
    pause blocks the loop until `resume()` or `cancel()`.
    """

    def __init__(self) -> None:
        # reentrant: a SIGINT handler may call cancel() while the main thread holds the lock
        self._cond = threading.Condition(threading.RLock())
        self._paused = False
        self._cancelled = False

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = not self._cancelled
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def paused(self) -> bool:
        return self._paused and not self._cancelled

    def wait_if_paused(self) -> bool:
        """Block while paused; return True when training should stop (cancelled)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._paused or self._cancelled)
            return self._cancelled

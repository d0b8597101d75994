"""The one way digitpad runs a QObject worker on a QThread, and ends it safely.

Two kinds of worker use it:
- a *job* (`run` slot and `done` signal): the thread starts `run`, and quits once the worker
  says `done`; `TaskWorker` wraps any function this way;
- a *service* (no `run`): it lives on its thread's event loop and takes requests through
  queued signals until `stop_all`/`stop` ends the loop (the Draw tab's recognition worker).

Every thread and its worker stay referenced by one keeper on the GUI thread until the thread
has ended, whoever started them: a QThread destroyed while it runs aborts the process
("QThread: Destroyed while thread ... is still running"). So `stop_all` runs when the
QApplication is about to quit and again when the interpreter exits (a script that never closes
its window); a job started with `cancel` is asked to stop first, since a job's thread ends only
when the job returns. The
worker is destroyed on the GUI thread too: a job moves itself back there as its last act
(`end_on_gui_thread`), and a service is moved back as its loop ends. A worker destroyed
on its own thread (`finished -> deleteLater`) can deadlock: ~QObject there may hold one of Qt's
shared signal-slot mutexes while waiting for Python's lock, while the GUI thread holds Python's
lock and waits for that mutex.
"""

from __future__ import annotations

import atexit
import traceback
from typing import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from trainer.errors import DigitpadError, describe_error

STOP_WAIT_MS = 5000  # how long closing the app waits for a worker's current step to finish
EXIT_WAIT_MS = 30_000  # at interpreter exit, a thread still running aborts the process: wait longer


class _ThreadKeeper(QObject):
    """Holds every started thread with its worker until the thread has ended (lives on the GUI thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._live: list[tuple[QThread, QObject, Callable[[], None] | None]] = []

    def keep(self, thread: QThread, worker: QObject, cancel: Callable[[], None] | None = None) -> None:
        self._live.append((thread, worker, cancel))
        thread.finished.connect(self._release)  # queued to this (GUI) thread

    def live(self) -> list[tuple[QThread, QObject, Callable[[], None] | None]]:
        return list(self._live)

    @Slot()
    def _release(self) -> None:
        for entry in list(self._live):
            thread = entry[0]
            if thread.isFinished():
                thread.wait()  # it emitted finished: returns at once
                self._live.remove(entry)


_keeper: _ThreadKeeper | None = None


def _the_keeper() -> _ThreadKeeper:
    global _keeper
    if _keeper is None:
        _keeper = _ThreadKeeper()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(stop_all)
        atexit.register(stop_all, EXIT_WAIT_MS)
    return _keeper


def start_job(worker: QObject, name: str = "digitpad-job", cancel: Callable[[], None] | None = None) -> QThread:
    """Move a job (`run` slot, `done` signal) to a new thread and start it; the thread quits after `done`.

    `cancel` (thread-safe, e.g. a training run's stop flag) is called by `stop_all` to end the job early.
    """
    thread = _new_thread(worker, name, cancel)
    thread.started.connect(worker.run)
    worker.done.connect(thread.quit)
    thread.start()
    return thread


def start_service(worker: QObject, name: str) -> QThread:
    """Move a long-lived worker to a new thread running an event loop; it serves queued signals."""
    thread = _new_thread(worker, name)
    # `finished` is emitted on the ending thread itself: the last moment the worker can be moved
    thread.finished.connect(lambda: _move_to_gui_thread(worker), Qt.ConnectionType.DirectConnection)
    thread.start()
    return thread


def _new_thread(worker: QObject, name: str, cancel: Callable[[], None] | None = None) -> QThread:
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    _the_keeper().keep(thread, worker, cancel)
    return thread


def stop(thread: QThread, timeout_ms: int = STOP_WAIT_MS) -> bool:
    """Ask a thread's event loop to end and wait for its current step; True if it has ended."""
    if not shiboken6.isValid(thread):  # already ended and released (e.g. by stop_all at exit)
        return True
    if thread.isRunning():
        thread.quit()
        thread.wait(timeout_ms)
    return not thread.isRunning()


def stop_all(timeout_ms: int = STOP_WAIT_MS) -> bool:
    """End every worker thread (app quitting, interpreter exiting); True if all of them ended.

    Jobs started with `cancel` are cancelled first; a thread running a job ends when the job returns.
    """
    if _keeper is None:
        return True
    for thread, _worker, cancel in _keeper.live():
        if cancel is not None and thread.isRunning():
            cancel()
    ended = True
    for thread, _worker, _cancel in _keeper.live():
        ended = stop(thread, timeout_ms) and ended
    _keeper._release()
    return ended


def running_threads() -> list[QThread]:
    """Threads started here that have not ended yet (for tests and shutdown)."""
    return [] if _keeper is None else [t for t, _w, _c in _keeper.live() if not t.isFinished()]


def end_on_gui_thread(worker: QObject) -> None:
    """A job's last act, on its own thread: move back to the GUI thread, then say `done`."""
    _move_to_gui_thread(worker)
    worker.done.emit()


def _move_to_gui_thread(worker: QObject) -> None:
    """Called on the worker's own thread (Qt moves an object only from the thread it lives on)."""
    app = QCoreApplication.instance()
    if app is not None:
        worker.moveToThread(app.thread())


class TaskWorker(QObject):
    """Runs one function off the GUI thread and reports its return value or error."""

    # the function's return value
    finished = Signal(object)
    # a message for the user
    failed = Signal(str)
    # always last: the thread may quit
    done = Signal()

    def __init__(self, fn: Callable[[], object]) -> None:
        super().__init__()
        self.fn = fn

    @Slot()
    def run(self) -> None:
        try:
            self.finished.emit(self.fn())
        except Exception as exc:  # every failure becomes a message; the app keeps running
            if not isinstance(exc, DigitpadError):
                traceback.print_exc()
            self.failed.emit(describe_error(exc))
        finally:
            end_on_gui_thread(self)

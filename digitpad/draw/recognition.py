"""Recognition and model loading off the GUI thread.

`RecognitionWorker` lives on its own QThread. The GUI hands it requests with `submit()`
(thread-safe); only the newest request waiting is kept, so a burst of live updates while
drawing costs one inference, never a queue. Results come back by signal as plain objects
(`Prediction`, `NumberReading`, strings); the worker never touches a widget.

`load_recognizer()` is the launch policy (device fallback, bad file -> bundled model) as a plain
function, usable and testable without Qt.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from digitpad.draw.shown_number import read_image, read_strokes
from digitpad.workers import start_service, stop
from trainer.errors import CheckpointError, ConfigError, DataError, NothingDrawnError

if TYPE_CHECKING:
    from digitpad.recognizer import Recognizer

THREAD_NAME = "digitpad-recognition"
SHUTDOWN_WAIT_MS = 30_000  # closing waits this long at most for a load (torch import) or inference to end
# The canvas asks for one small image at a time: a second torch thread buys nothing and fights the GUI
# and a training run for the cores (predict_strokes p50 1.3 ms on one thread, 6-140 ms on two, busy CPU).
INFERENCE_THREADS = 1
_threads_configured = False


@dataclass
class LoadOutcome:
    """A loaded recognizer and what the user should be told about how it was chosen."""

    recognizer: Recognizer
    notes: list[str] = field(default_factory=list)  # e.g. "CUDA is not available: using the CPU instead"


def _configure_threads() -> None:
    """Once per process, at the app's first model load (a training run sets its own count)."""
    global _threads_configured
    if not _threads_configured:
        import torch

        torch.set_num_threads(INFERENCE_THREADS)
        _threads_configured = True


def load_recognizer(path: str | Path | None, device: str = "auto", fallback: bool = True) -> LoadOutcome:
    """Load a model for the app.

    `device` "cuda" without CUDA falls back to the CPU with a note. A `path` that cannot be
    loaded raises CheckpointError, or with `fallback` loads the bundled model with a note.
    """
    from digitpad.recognizer import Recognizer  # imports torch: slow, so only here
    from trainer.devices import choose_device

    _configure_threads()
    try:
        choice = choose_device(device, fallback=True)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from exc
    notes = [f"{choice.note[:1].upper()}{choice.note[1:]}."] if choice.note else []
    device = choice.device
    try:
        recognizer = Recognizer.load(path, device=device)
        return LoadOutcome(recognizer, notes + _checkpoint_notes(recognizer))
    except (CheckpointError, ValueError) as exc:
        if path is None or not fallback:
            raise CheckpointError(str(exc)) from exc
        failure = f"Could not load the model {path}:\n{exc}"
    try:
        recognizer = Recognizer.load(None, device=device)
    except (CheckpointError, ValueError) as exc:
        raise CheckpointError(f"{failure}\n\nThe bundled model could not be loaded either:\n{exc}") from exc
    notes.append(f"{failure}\n\nStarting with the bundled model instead.")
    return LoadOutcome(recognizer, notes + _checkpoint_notes(recognizer))


def _checkpoint_notes(recognizer: Recognizer) -> list[str]:
    """What loading the model file dropped or fixed (trainer.checkpoint's notes), as sentences."""
    notes = getattr(recognizer.checkpoint, "notes", None) or []
    return [f"{recognizer.name}: {note}{'' if note.endswith('.') else '.'}" for note in notes]


class Kind(Enum):
    STROKES = "strokes"   # payload: a list of (n, 2) arrays in paper units
    IMAGE = "image"       # payload: a file path or an (H, W, 4) uint8 RGBA array
    EXPLAIN = "explain"   # payload: a digitpad.network.query.Query (the Network tab); answers `explained`


@dataclass(frozen=True)
class Request:
    """One thing to recognize: strokes (paper units) or an image source, with the model to use."""

    seq: int
    recognizer: Recognizer
    kind: Kind
    payload: list[np.ndarray] | str | np.ndarray


class RecognitionWorker(QObject):
    """Runs recognitions and model loads on its own thread; answers by signal."""

    # (seq, Prediction) for a recognized request that holds one digit.
    predicted = Signal(int, object)
    # (seq, NumberReading) for a recognized request that holds two digits or more.
    numberRead = Signal(int, object)
    # (seq, message): the request held nothing to recognize (empty drawing, blank image).
    nothingDrawn = Signal(int, str)
    # (seq, message): recognition failed (unreadable image, unexpected error).
    failed = Signal(int, str)
    # (seq, NetworkReading) for an EXPLAIN request (its seq is the Network tab's own count).
    explained = Signal(int, object)
    # (seq, message): an EXPLAIN request failed.
    explainFailed = Signal(int, str)
    # (ticket, LoadOutcome): a model finished loading.
    loaded = Signal(int, object)
    # (ticket, message): a model could not be loaded.
    loadFailed = Signal(int, str)

    _wake = Signal()                              # a new request is waiting
    _loadRequested = Signal(int, object, str, bool)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: Request | None = None
        self._explain: Request | None = None     # explanations wait apart: they never replace a recognition
        self._wake.connect(self._process)
        self._loadRequested.connect(self._load)

    def submit(self, request: Request) -> None:
        """Queue `request`, replacing any request of its kind still waiting (thread-safe)."""
        with self._lock:
            if request.kind is Kind.EXPLAIN:
                self._explain = request
            else:
                self._pending = request
        self._wake.emit()

    def request_load(self, ticket: int, path: str | Path | None, device: str, fallback: bool) -> None:
        """Load a model on the worker thread; answers `loaded` or `loadFailed` with `ticket`."""
        self._loadRequested.emit(ticket, path, device, fallback)

    @Slot()
    def _process(self) -> None:
        with self._lock:
            request, self._pending = self._pending, None
            if request is None:  # recognitions first: a waiting explanation goes after them
                request, self._explain = self._explain, None
        if request is None:  # an earlier wake already took it
            return
        if request.kind is Kind.EXPLAIN:
            self._run_explain(request)
            return
        from digitpad.numbers.reading import NumberReading  # torch is in by now: a recognizer exists

        try:
            if request.kind is Kind.STROKES:
                prediction = read_strokes(request.recognizer, request.payload)
            else:
                prediction = read_image(request.recognizer, request.payload)
        except NothingDrawnError as exc:
            self.nothingDrawn.emit(request.seq, str(exc))
        except DataError as exc:
            self.failed.emit(request.seq, str(exc))
        except Exception as exc:  # never let an exception kill the thread silently
            traceback.print_exc()
            self.failed.emit(request.seq, f"Recognition failed: {type(exc).__name__}: {exc}")
        else:
            (self.numberRead if isinstance(prediction, NumberReading) else self.predicted).emit(request.seq, prediction)

    def _run_explain(self, request: Request) -> None:
        try:
            reading = request.payload.run(request.recognizer)
        except Exception as exc:  # never let an exception kill the thread silently
            traceback.print_exc()
            self.explainFailed.emit(request.seq, f"Could not look inside the model: {type(exc).__name__}: {exc}")
        else:
            self.explained.emit(request.seq, reading)

    @Slot(int, object, str, bool)
    def _load(self, ticket: int, path: object, device: str, fallback: bool) -> None:
        try:
            outcome = load_recognizer(path, device, fallback)
        except CheckpointError as exc:
            self.loadFailed.emit(ticket, str(exc))
        except Exception as exc:
            traceback.print_exc()
            self.loadFailed.emit(ticket, f"{path or 'bundled model'}: {type(exc).__name__}: {exc}")
        else:
            self.loaded.emit(ticket, outcome)


def start_worker() -> tuple[RecognitionWorker, QThread]:
    """A RecognitionWorker serving requests on its own thread (stop it with `stop_worker`)."""
    worker = RecognitionWorker()
    return worker, start_service(worker, THREAD_NAME)


def stop_worker(thread: QThread) -> None:
    """Ask the thread's event loop to end and wait for the current job to finish."""
    stop(thread, SHUTDOWN_WAIT_MS)

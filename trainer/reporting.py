"""Where a training run's events go: the terminal, a JSON-lines file, TensorBoard.

Every sink implements the same small `Sink` protocol, so the CLI and the Train tab treat them
alike (no `hasattr`): call it with each event, give it the result at the end, close it (or use it
as a context manager). `Sinks` fans one stream of events out to several.

    with Sinks([ProgressPrinter(sys.stderr), JsonLinesLog(path)]) as sinks:
        result = train(config, on_event=sinks)
        sinks.write_result(result, saved_path)

Also here: the text tables `digitpad-train evaluate` prints (format_per_class, format_confusion).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO, runtime_checkable

import numpy as np

from trainer.durations import format_duration
from trainer.errors import DigitpadError
from trainer.events import BatchEvent, EpochEvent, Event, StartEvent, event_to_dict

if TYPE_CHECKING:
    from trainer.evaluate import EvalResult
    from trainer.train import TrainResult

BAR_WIDTH = 24  # characters of the tty progress bar
TTY_REFRESH_SECONDS = 0.1  # redraw the \r progress line at most this often
TENSORBOARD_HINT = "pip install tensorboard (from a checkout: pip install -e \".[tensorboard]\")"


@runtime_checkable
class Sink(Protocol):
    """A consumer of training events."""

    def __call__(self, event: Event) -> None: ...

    def write_result(self, result: TrainResult, saved: Path | None) -> None:
        """The run ended (done or cancelled); `saved` is where its checkpoint went, if anywhere."""

    def close(self) -> None:
        """Flush and release what the sink holds; safe to call twice."""


class BaseSink:
    """A Sink's do-nothing write_result and close, and the context manager that closes it."""

    def write_result(self, result: TrainResult, saved: Path | None) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Sinks(BaseSink):
    """Several sinks as one: each event, the result and close go to all of them, in order."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks: list[Sink] = list(sinks)

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)

    def write_result(self, result: TrainResult, saved: Path | None) -> None:
        for sink in self.sinks:
            sink.write_result(result, saved)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


class ProgressPrinter(BaseSink):
    """Progress on a stream: a \\r-updated bar on a terminal, one line per epoch otherwise."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.last_draw = 0.0
        self.last_test_accuracy: float | None = None
        self.line_open = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, StartEvent):
            self._write_line(
                f"training {event.config.arch} ({event.n_params:,} parameters) on {event.device}: "
                f"{event.n_train:,} training / {event.n_test:,} test images, {event.steps_per_epoch} steps per epoch"
            )
        elif isinstance(event, BatchEvent) and self.tty:
            now = time.monotonic()
            if now - self.last_draw >= TTY_REFRESH_SECONDS or event.step == event.steps_per_epoch:
                self.last_draw = now
                self.stream.write("\r" + self._bar(event) + "\x1b[K")
                self.stream.flush()
                self.line_open = True
        elif isinstance(event, EpochEvent):
            self.last_test_accuracy = event.test_accuracy
            self._write_line(format_epoch(event))

    def close(self) -> None:
        """End an open progress line (also when an error message follows); the stream stays open."""
        if self.line_open:
            self.stream.write("\n")
            self.line_open = False
        self.stream.flush()

    def _bar(self, e: BatchEvent) -> str:
        done = e.step / e.steps_per_epoch
        filled = int(round(BAR_WIDTH * done))
        acc = "" if self.last_test_accuracy is None else f"  test acc {100 * self.last_test_accuracy:.2f}%"
        return (
            f"epoch {e.epoch}/{e.epochs} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {100 * done:3.0f}%  "
            f"loss {e.loss:.4f}{acc}  {e.samples_per_sec:,.0f} samples/s  ETA {format_duration(e.eta)}"
        )

    def _write_line(self, text: str) -> None:
        prefix = "\r\x1b[K" if self.tty and self.line_open else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()
        self.line_open = False


def format_epoch(e: EpochEvent) -> str:
    val = "" if e.val_accuracy is None else f"  val loss {e.val_loss:.4f} acc {100 * e.val_accuracy:.2f}%"
    return (
        f"epoch {e.epoch}/{e.epochs}  train loss {e.train_loss:.4f} acc {100 * e.train_accuracy:.2f}%  "
        f"test loss {e.test_loss:.4f} acc {100 * e.test_accuracy:.2f}%{val}  {format_duration(e.seconds)}"
    )


class JsonLinesLog(BaseSink):
    """Every event as one JSON object per line, flushed as it comes (a crash keeps what was logged)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.file: TextIO | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def __call__(self, event: Event) -> None:
        self._write({**event_to_dict(event), "wall_time": time.time()})

    def write_result(self, result: TrainResult, saved: Path | None) -> None:
        checkpoint = str(saved) if saved else None
        self._write({"event": "result", **result.metrics, "cancelled": result.cancelled, "checkpoint": checkpoint})

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def _write(self, record: dict) -> None:
        if self.file is None:
            raise ValueError(f"{self.path}: the log is closed")
        self.file.write(json.dumps(record, default=str) + "\n")
        self.file.flush()


class TensorBoardLog(BaseSink):
    """Scalars for TensorBoard: batch/* against the global step, train/test/val metrics against the epoch.

    A tag is only ever written against one kind of step: mixing steps and epochs in one tag
    would draw a zig-zag in TensorBoard.
    """

    def __init__(self, writer) -> None:
        self.writer = writer

    @classmethod
    def open(cls, directory: str | Path) -> TensorBoardLog:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise DigitpadError(f"--tensorboard needs the tensorboard package: {TENSORBOARD_HINT}") from None
        return cls(SummaryWriter(log_dir=str(directory)))

    def __call__(self, event: Event) -> None:
        if isinstance(event, BatchEvent):
            self.writer.add_scalar("batch/loss", event.loss, event.global_step)
            self.writer.add_scalar("batch/samples_per_sec", event.samples_per_sec, event.global_step)
        elif isinstance(event, EpochEvent):
            for name in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "val_loss", "val_accuracy"):
                value = getattr(event, name)
                if value is not None:
                    split, metric = name.split("_")
                    self.writer.add_scalar(f"{split}/{metric}", value, event.epoch)
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()


# ---------------------------------------------------------------- evaluation tables


def format_per_class(result: EvalResult) -> str:
    totals = result.confusion.sum(axis=1)
    lines = ["digit  accuracy  correct / total"]
    for digit in range(len(totals)):
        acc = result.per_class_accuracy[digit]
        acc_text = "     n/a" if np.isnan(acc) else f"{100 * acc:7.2f}%"
        lines.append(f"{digit:>5}  {acc_text}  {int(result.confusion[digit, digit]):>7,} / {int(totals[digit]):,}")
    return "\n".join(lines)


def format_confusion(confusion: np.ndarray) -> str:
    """The confusion matrix as an aligned table: rows = true digit, columns = predicted digit."""
    width = max(4, len(f"{int(confusion.max()):,}") + 1)
    header = "true\\pred" + "".join(f"{d:>{width}}" for d in range(confusion.shape[1]))
    lines = [header]
    for digit, row in enumerate(confusion):
        lines.append(f"{digit:>9}" + "".join(f"{int(v):>{width},}" for v in row))
    return "\n".join(lines)

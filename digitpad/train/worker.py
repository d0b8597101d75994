"""Background work for the Train tab: a training run, and one-off jobs (data samples, ONNX export).

Each worker is a QObject moved to its own QThread (wired started -> run, done -> quit), drives
the `trainer` package, and reports through signals that carry plain numbers, numpy arrays and
dataclasses. Workers never touch a widget; `digitpad.workers` starts their threads and ends them.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PySide6.QtCore import Signal

from digitpad.workers import TaskWorker
from trainer.sizes import IMAGE_SIZE
from trainer.threads import default_threads
from trainer.train import BatchEvent, EpochEvent, StartEvent, TrainConfig, TrainControl, TrainResult

MAX_GALLERY = 60  # misclassified test images sent to the gallery
SAMPLE_COUNT = 60  # training images shown by the data viewer
POINTS_PER_EPOCH = 25  # aim for about this many training-loss points per epoch ...
MAX_LOG_EVERY = 20  # ... but report at least every this many batches


def choose_log_every(n_train: int, batch_size: int) -> int:
    """Batches between progress events: ~POINTS_PER_EPOCH per epoch, at most MAX_LOG_EVERY apart."""
    steps = max(1, math.ceil(n_train / max(1, batch_size)))
    return int(min(MAX_LOG_EVERY, max(1, steps // POINTS_PER_EPOCH)))


@dataclass
class Gallery:
    """Some misclassified test images with their labels."""

    images: np.ndarray  # (K, 28, 28) uint8
    true_labels: np.ndarray  # (K,) int64
    predicted: np.ndarray  # (K,) int64
    indices: np.ndarray  # (K,) positions in the test split
    total_wrong: int  # misclassified in the whole test split (K may be fewer)


@dataclass
class RunOutcome:
    """A finished (or stopped) run: everything the tab shows and saves."""

    result: TrainResult
    checkpoint: Any  # trainer.checkpoint.Checkpoint
    accuracy: float
    loss: float
    confusion: np.ndarray  # (10, 10) [true, predicted]
    gallery: Gallery
    log_path: Path | None


def misclassified_gallery(result: TrainResult, test_images: torch.Tensor, limit: int = MAX_GALLERY) -> Gallery:
    """The first `limit` test images the final model got wrong."""
    evaluation = result.evaluation
    wrong = evaluation.misclassified()
    chosen = wrong[:limit]
    images = test_images.cpu().numpy()[chosen] if len(chosen) else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return Gallery(
        images=images.astype(np.uint8),
        true_labels=evaluation.labels[chosen],
        predicted=evaluation.predictions[chosen],
        indices=chosen,
        total_wrong=int(len(wrong)),
    )


def summarize(result: TrainResult, test_images: torch.Tensor, log_path: Path | None = None) -> RunOutcome:
    """Checkpoint, confusion matrix and gallery of a finished run (worker-thread work)."""
    evaluation = result.evaluation
    return RunOutcome(
        result=result,
        checkpoint=result.to_checkpoint(),
        accuracy=float(evaluation.accuracy),
        loss=float(evaluation.loss),
        confusion=np.asarray(evaluation.confusion),
        gallery=misclassified_gallery(result, test_images),
        log_path=log_path,
    )


def load_run_data(config: TrainConfig):
    """MNIST as `train()` would load it for `config` (kept here so the worker has the test images)."""
    from trainer.data import load_mnist

    return load_mnist(
        config.data_dir,
        subset=config.subset,
        test_subset=config.test_subset,
        val_size=config.val_size,
        seed=config.seed,
    )


class TrainWorker(TaskWorker):
    """Runs `trainer.train.train` once; lives in its own QThread.

    A TaskWorker of `_train`: `finished` carries the RunOutcome (trained to the end or stopped),
    `failed` a message (bad data, NaN loss, out of memory, ...), and `done` comes last.
    """

    # the StartEvent: device, data sizes, steps per epoch, parameter count
    started = Signal(object)
    # a BatchEvent every few batches: epoch, step, smoothed loss, samples/s, ETA
    progress = Signal(object)
    # an EpochEvent after each epoch's test evaluation
    epochEnded = Signal(object)

    def __init__(
        self,
        config: TrainConfig,
        control: TrainControl,
        *,
        log_path: Path | None = None,
        tensorboard_dir: Path | None = None,
    ) -> None:
        super().__init__(self._train)
        self.config = config
        self.control = control
        self.log_path = log_path
        self.tensorboard_dir = tensorboard_dir

    def _train(self) -> RunOutcome:
        from trainer.devices import resolve_device
        from trainer.train import train

        config = self.config
        config.validate()
        device = resolve_device(config.device)  # an unavailable device fails before loading data
        data = load_run_data(config)
        config = replace(config, log_every=choose_log_every(len(data.train), config.batch_size))
        with ExitStack() as stack:
            sinks = self._open_logs(stack)
            stack.enter_context(_cpu_threads(device.type == "cpu"))

            def on_event(event) -> None:
                for sink in sinks:
                    sink(event)
                self._emit_event(event)

            result = train(config, data=data, on_event=on_event, control=self.control)
            for sink in sinks:
                sink.write_result(result, None)
            return summarize(result, data.test.images, self.log_path)

    def _open_logs(self, stack: ExitStack) -> list[Callable[[object], None]]:
        # the CLI's own event consumers, so a run logged from the app reads like one from the CLI
        from trainer.reporting import JsonLinesLog, TensorBoardLog

        sinks: list[Callable[[object], None]] = []
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            sinks.append(stack.enter_context(JsonLinesLog(self.log_path)))
        if self.tensorboard_dir is not None:
            sinks.append(stack.enter_context(TensorBoardLog.open(str(self.tensorboard_dir))))
        return sinks

    def _emit_event(self, event: object) -> None:
        if isinstance(event, BatchEvent):
            self.progress.emit(event)
        elif isinstance(event, EpochEvent):
            self.epochEnded.emit(event)
        elif isinstance(event, StartEvent):
            self.started.emit(event)


class _cpu_threads:
    """Leave a core to the GUI thread while training on the CPU; restore the count afterwards."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.previous = torch.get_num_threads()

    def __enter__(self) -> None:
        if self.active:
            torch.set_num_threads(default_threads())  # all cores but the GUI's

    def __exit__(self, *exc) -> None:
        if self.active:
            torch.set_num_threads(self.previous)


@dataclass
class Samples:
    """Training images for the data viewer."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    source: str


def load_samples(data_dir: str | None, count: int = SAMPLE_COUNT) -> Samples:
    """A class-balanced handful of training images (never downloads: the viewer only looks)."""
    from trainer.data import load_mnist

    data = load_mnist(data_dir, download=False, subset=count, test_subset=1)
    order = np.argsort(data.train.labels.numpy(), kind="stable")  # 0s first, then 1s, ...
    return Samples(
        images=data.train.images.numpy()[order].astype(np.uint8),
        labels=data.train.labels.numpy()[order],
        source=str(data.source),
    )


def warm_up() -> float:
    """Do once, in the background, what a process's first training step costs; returns seconds.

    Building the first optimizer imports torch._dynamo (~850 modules, ~2 s on 2 cores), and
    parts of that import hold the GIL for 100-200 ms at a time. Paid during a run, that froze
    the window; paid here when the Train tab first shows, the run starts at once.
    """
    from trainer.warmup import warm_up as warm_up_trainer

    return warm_up_trainer()


def export_checkpoint(checkpoint, path: Path):
    """ONNX export of a run's checkpoint (with onnxruntime verification when installed)."""
    from trainer.export import export_onnx

    return export_onnx(checkpoint, path)

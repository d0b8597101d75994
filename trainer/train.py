"""The training loop: one code path for the CLI, the Train tab and the tests.

Progress goes out as a stream of small event dataclasses through `on_event`; a `TrainControl`
lets another thread pause, resume or cancel between batches. Speed comes from keeping the whole
dataset on the training device as uint8 and batching by indexing (trainer.data.iterate_batches),
channels_last convolutions on the CPU, and reading the loss back from the device only once every
`log_every` batches instead of after every batch.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import OPTIMIZERS, PEN_DIGIT_COPIES, SCHEDULES, TrainConfig
from trainer.data import MNIST_MEAN, MNIST_STD, MnistData, Split, concat_splits, iterate_batches, load_mnist
from trainer.devices import describe_device, resolve_device
from trainer.ema import WeightAverage
from trainer.errors import ConfigError, DataError, DigitpadError, TrainingError, is_out_of_memory
from trainer.evaluate import EvalResult, evaluate
from trainer.models import count_parameters, create_model

CHANNELS_LAST_DEVICES = ("cpu",)  # measured: ~1.3-1.8x faster `cnn` steps on a 2-core CPU
ONECYCLE_PCT_START = 0.25  # fraction of the run spent warming the learning rate up


# ---------------------------------------------------------------- events (plain numbers and strings)


@dataclass
class StartEvent:
    config: TrainConfig
    device: str
    n_train: int
    n_test: int
    steps_per_epoch: int
    n_params: int


@dataclass
class BatchEvent:
    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based step within the epoch
    steps_per_epoch: int
    global_step: int
    loss: float  # mean training loss over the batches since the previous BatchEvent
    samples_per_sec: float  # over the same window
    elapsed: float  # seconds since training started, pauses excluded
    eta: float  # estimated seconds left, including the remaining test evaluations


@dataclass
class EpochEvent:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    seconds: float  # this epoch, its evaluation included, pauses excluded
    val_loss: float | None = None  # only with val_size > 0
    val_accuracy: float | None = None


Event = StartEvent | BatchEvent | EpochEvent


def event_to_dict(event: Event) -> dict:
    """A JSON-ready dict of an event with its kind under "event" (used by the JSON-lines log)."""
    kind = {StartEvent: "start", BatchEvent: "batch", EpochEvent: "epoch"}[type(event)]
    return {"event": kind, **dataclasses.asdict(event)}


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


# ---------------------------------------------------------------- results


@dataclass
class TrainResult:
    model: nn.Module  # on the training device, eval mode
    config: TrainConfig
    history: list[EpochEvent]  # one per completed epoch
    metrics: dict  # test_accuracy, test_loss, per_class_accuracy, train_seconds, device, epochs_completed, ...
    cancelled: bool
    seconds: float
    device: str
    evaluation: EvalResult | None = None  # the final test evaluation (confusion matrix, predictions)

    def to_checkpoint(self):
        """A Checkpoint holding the model, the config as hparams and the final metrics."""
        from trainer.checkpoint import make_checkpoint
        from trainer.models import REGISTRY

        # the full constructor arguments, defaults included, so later default changes cannot alter the model
        model_args = {**REGISTRY[self.config.arch].default_args, **self.config.model_args}
        return make_checkpoint(
            self.model,
            self.config.arch,
            model_args,
            hparams=self.config.to_dict(),
            metrics=dict(self.metrics),
            normalization={"mean": MNIST_MEAN, "std": MNIST_STD},
        )

    def save(self, path):
        """Write the checkpoint atomically; returns the path written."""
        from trainer.checkpoint import save_checkpoint

        return save_checkpoint(self.to_checkpoint(), path)


# ---------------------------------------------------------------- devices, optimizers, schedules


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "momentum":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    raise ConfigError(f"unknown optimizer {config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int):
    """A per-batch learning-rate schedule, or None."""
    if config.schedule == "none":
        return None
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=max(total_steps, 2),
            pct_start=ONECYCLE_PCT_START,
            # cycling momentum would silently turn plain SGD into SGD with momentum
            cycle_momentum=config.optimizer != "sgd",
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    raise ConfigError(f"unknown schedule {config.schedule!r}; choose one of {', '.join(SCHEDULES)}")


# ---------------------------------------------------------------- data


def training_data(config: TrainConfig, data: MnistData | None = None) -> tuple[Split, Split, Split | None]:
    """(train, test, val) splits on the CPU: MNIST (loaded unless given), plus pen digits if asked."""
    if data is None:
        data = load_mnist(
            config.data_dir,
            subset=config.subset,
            test_subset=config.test_subset,
            val_size=config.val_size,
            seed=config.seed,
        )
    train_split = data.train
    if config.pen_digits:
        train_split = concat_splits(train_split, pen_digit_split(config.seed, config.pen_copies))
    return train_split, data.test, data.val


def pen_digit_split(seed: int, copies: int = PEN_DIGIT_COPIES) -> Split:
    """The training writers' pen digits rendered like canvas drawings, `copies` random placements each."""
    from trainer import pendigits

    path = pendigits.default_pendigits_path()
    if path is None:
        raise DataError(
            "pen digits were asked for but the UNIPEN file was not found: set DIGITPAD_PENDIGITS "
            "to the path of pendigits-orig.tra.gz (or put it at ../shared/pendigits/ beside the checkout)"
        )
    train_writers, _heldout = pendigits.split_by_writer(pendigits.load_pendigits(path))
    return pendigits.render_split(train_writers, np.random.default_rng(seed), copies=copies)


def _to_device(split: Split | None, device: torch.device) -> Split | None:
    if split is None:
        return None
    return Split(split.images.to(device), split.labels.to(device))


# ---------------------------------------------------------------- the loop


class _Clock:
    """Seconds since start, with paused time left out."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._excluded = 0.0

    def now(self) -> float:
        return time.perf_counter() - self._start - self._excluded

    def exclude(self, seconds: float) -> None:
        self._excluded += seconds


@dataclass
class _EpochStats:
    loss: float
    accuracy: float
    steps: int
    cancelled: bool


class _Run:
    """The state of one training run; `train()` is its public face."""

    def __init__(self, config, device, model, train_split, emit, control) -> None:
        self.config = config
        self.device = device
        self.model = model
        self.train_split = train_split
        self.emit = emit
        self.control = control
        self.clock = _Clock()
        self.steps_per_epoch = math.ceil(len(train_split) / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.global_step = 0
        self.eval_seconds = 0.0  # time spent in test evaluations so far (for the ETA)
        self.last_eval_seconds = 0.0
        self.channels_last = device.type in CHANNELS_LAST_DEVICES and _has_conv(model)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(config, model.parameters())
        self.scheduler = make_scheduler(config, self.optimizer, self.total_steps)
        self.average = WeightAverage(model, config.ema) if config.ema > 0 else None
        # one generator for shuffling and augmentation, on the data's device, so the same seed
        # gives the same batches and the same distortions
        self.generator = torch.Generator(device=device).manual_seed(config.seed)

    def train_epoch(self, epoch: int) -> _EpochStats:
        cfg = self.config
        self.model.train()
        window: list[torch.Tensor] = []  # per-batch mean losses, still on the device
        sizes: list[int] = []
        loss_sum, seen = 0.0, 0
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        window_start = self.clock.now()
        step = 0
        cancelled = False
        batches = iterate_batches(
            self.train_split, cfg.batch_size, shuffle=True, generator=self.generator, device=self.device, augment=cfg.augment
        )
        for images, labels in batches:
            if self._should_stop():
                cancelled = True
                break
            step += 1
            self.global_step += 1
            loss, correct_in_batch = self._step(images, labels)
            window.append(loss)
            sizes.append(len(labels))
            correct += correct_in_batch
            if step % cfg.log_every == 0 or step == self.steps_per_epoch:
                total, n = self._flush(window, sizes, epoch, step, window_start)
                loss_sum, seen = loss_sum + total, seen + n
                window, sizes, window_start = [], [], self.clock.now()
        if window:  # cancelled mid-window: report what was trained
            total, n = self._flush(window, sizes, epoch, step, window_start)
            loss_sum, seen = loss_sum + total, seen + n
        accuracy = int(correct.item()) / seen if seen else float("nan")
        return _EpochStats(loss_sum / seen if seen else float("nan"), accuracy, step, cancelled)

    def _should_stop(self) -> bool:
        start = time.perf_counter()
        stop = self.control.wait_if_paused()
        self.clock.exclude(time.perf_counter() - start)
        return stop

    def _step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        logits = self.model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None and self.global_step < self.total_steps:
            self.scheduler.step()
        if self.average is not None:
            self.average.update()
        return loss.detach(), (logits.detach().argmax(dim=1) == labels).sum()

    def _flush(self, window, sizes, epoch, step, window_start) -> tuple[float, int]:
        """Read the window's losses (one device sync), check them, emit a BatchEvent."""
        values = torch.stack(window).tolist()
        first_step = step - len(values) + 1
        for offset, value in enumerate(values):
            if not math.isfinite(value):
                self._raise_diverged(value, epoch, first_step + offset)
        total = sum(v * n for v, n in zip(values, sizes))
        n = sum(sizes)
        now = self.clock.now()
        per_step = max(now - self.eval_seconds, 1e-9) / self.global_step
        remaining_evals = self.config.epochs - epoch + 1
        self.emit(
            BatchEvent(
                epoch=epoch,
                epochs=self.config.epochs,
                step=step,
                steps_per_epoch=self.steps_per_epoch,
                global_step=self.global_step,
                loss=total / n,
                samples_per_sec=n / max(now - window_start, 1e-9),
                elapsed=now,
                eta=(self.total_steps - self.global_step) * per_step + remaining_evals * self.last_eval_seconds,
            )
        )
        return total, n

    def _raise_diverged(self, value: float, epoch: int, step: int) -> None:
        what = "NaN" if math.isnan(value) else "infinite"
        raise TrainingError(
            f"training stopped: the loss became {what} at epoch {epoch} step {step} "
            f"(optimizer {self.config.optimizer}, lr {self.config.lr:g}) — learning rate too high?"
        )

    def evaluate(self, split: Split) -> EvalResult:
        """Evaluate the model that will be returned: the weight average when there is one."""
        start = self.clock.now()
        model = self.average.model if self.average is not None else self.model
        result = evaluate(model, split, self.device)
        self.last_eval_seconds = self.clock.now() - start
        self.eval_seconds += self.last_eval_seconds
        return result


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def train(
    config: TrainConfig,
    *,
    data: MnistData | None = None,
    on_event: Callable[[Any], None] | None = None,
    control: TrainControl | None = None,
    model: nn.Module | None = None,
) -> TrainResult:
    """Train `config.arch` on MNIST (or `data`) and return the model with its metrics.

    `model`, when given, is trained in place instead of a fresh `config.arch` (to continue training,
    or to look at the model while it trains); `config.arch`/`model_args` must describe it.

    Events go to `on_event` in order: one StartEvent, BatchEvents every `log_every` batches and on
    each epoch's last batch, one EpochEvent after each epoch's test evaluation. Cancelling through
    `control` returns the model trained so far, evaluated on the test split, with cancelled=True.
    Raises ConfigError for bad settings, DataError for missing data, TrainingError when the loss
    diverges (NaN/inf) or the device runs out of memory.
    """
    config.validate()
    device = resolve_device(config.device)
    emit = on_event or (lambda event: None)
    control = control or TrainControl()
    torch.manual_seed(config.seed)  # model initialisation and dropout
    if model is None:
        model = _create_model(config)  # before loading data: a bad setting fails at once
    _import_optimizer_machinery_in_background()
    train_cpu, test_cpu, val_cpu = training_data(config, data)
    if len(train_cpu) == 0:
        raise DataError("the training set is empty")
    try:
        return _train_on_device(config, device, model, train_cpu, test_cpu, val_cpu, emit, control)
    except (RuntimeError, torch.OutOfMemoryError) as exc:
        if isinstance(exc, DigitpadError) or not is_out_of_memory(exc):
            raise
        raise TrainingError(
            f"the {describe_device(device)} ran out of memory training {config.arch} with batch size "
            f"{config.batch_size}; try a smaller batch size or the CPU"
        ) from None


def _import_optimizer_machinery_in_background() -> None:
    """Import torch._dynamo on a thread while the data loads.

    Every torch.optim optimizer imports it on first use (its methods are wrapped in
    torch._disable_dynamo): 1-1.5 s of pure Python that would otherwise follow the data loading
    (decompression, which releases the GIL) instead of overlapping it. The optimizer's own import
    then just waits for this one. Not a daemon thread: exiting mid-import is not safe.
    """
    if "torch._dynamo" in sys.modules:
        return

    def run() -> None:
        try:
            importlib.import_module("torch._dynamo")
        except Exception:  # noqa: BLE001 - the optimizer's own import will report it
            pass

    threading.Thread(target=run, name="digitpad-import-torch-dynamo").start()


def _create_model(config: TrainConfig) -> nn.Module:
    try:
        return create_model(config.arch, **config.model_args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot build {config.arch} with {config.model_args}: {exc}") from None


def _train_on_device(config, device, model, train_cpu, test_cpu, val_cpu, emit, control) -> TrainResult:
    train_split, test_split, val_split = (_to_device(s, device) for s in (train_cpu, test_cpu, val_cpu))
    model = model.to(device)
    run = _Run(config, device, model, train_split, emit, control)
    emit(
        StartEvent(
            config=config,
            device=str(device),
            n_train=len(train_split),
            n_test=len(test_split),
            steps_per_epoch=run.steps_per_epoch,
            n_params=count_parameters(model),
        )
    )
    history: list[EpochEvent] = []
    final: EvalResult | None = None
    cancelled = False
    for epoch in range(1, config.epochs + 1):
        epoch_start = run.clock.now()
        stats = run.train_epoch(epoch)
        cancelled = stats.cancelled
        if cancelled and stats.steps == 0 and final is not None:
            break  # cancelled at an epoch boundary: the last evaluation still holds
        final = run.evaluate(test_split)
        if cancelled:
            break
        val = run.evaluate(val_split) if val_split is not None and len(val_split) else None
        event = EpochEvent(
            epoch=epoch,
            epochs=config.epochs,
            train_loss=stats.loss,
            train_accuracy=stats.accuracy,
            test_loss=final.loss,
            test_accuracy=final.accuracy,
            seconds=run.clock.now() - epoch_start,
            val_loss=val.loss if val else None,
            val_accuracy=val.accuracy if val else None,
        )
        history.append(event)
        emit(event)
    seconds = run.clock.now()
    if run.average is not None:
        run.average.copy_back()  # before the layout change below, which gives the parameters new storage
    # back to the ordinary layout so the returned model and its checkpoint look like any other
    model.to(memory_format=torch.contiguous_format)
    model.eval()
    metrics = {
        "test_accuracy": final.accuracy,
        "test_loss": final.loss,
        "per_class_accuracy": [float(a) for a in final.per_class_accuracy],
        "train_seconds": seconds,
        "device": describe_device(device),
        "epochs_completed": len(history),
        "steps": run.global_step,
        "n_train": len(train_split),
        "n_test": len(test_split),
        "cancelled": cancelled,
    }
    return TrainResult(
        model=model,
        config=config,
        history=history,
        metrics=metrics,
        cancelled=cancelled,
        seconds=seconds,
        device=str(device),
        evaluation=final,
    )

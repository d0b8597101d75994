"""The training loop: one code path for the CLI, the Train tab and the tests.

    result = train(TrainConfig(arch="cnn", epochs=3), on_event=print)

A `_Run` owns the loop and reads like pytorch/examples' mnist: train one epoch, evaluate, repeat.
Progress goes out as small event dataclasses (trainer.events) through `on_event`; a `TrainControl`
lets another thread pause, resume or cancel between batches. Speed comes from keeping the whole
dataset on the training device as uint8 and batching by indexing (trainer.data.iterate_batches),
channels_last convolutions on the CPU, and reading the loss back from the device only once every
`log_every` batches instead of after every batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import OPTIMIZERS, PEN_DIGIT_COPIES, SCHEDULES, TrainConfig
from trainer.control import TrainControl
from trainer.data import MNIST_MEAN, MNIST_STD, MnistData, Split, concat_splits, iterate_batches, load_mnist
from trainer.devices import describe_device, resolve_device
from trainer.ema import WeightAverage
from trainer.errors import ConfigError, DataError, DigitpadError, TrainingError, is_out_of_memory
from trainer.evaluate import EvalResult, evaluate
from trainer.events import BatchEvent, EpochEvent, Event, OnEvent, StartEvent, event_to_dict
from trainer.models import count_parameters, create_model
from trainer.warmup import warm_up_in_background

# Old importers take these from here; trainer.config, trainer.control and trainer.events are their homes.
__all__ = [
    "OPTIMIZERS", "SCHEDULES", "PEN_DIGIT_COPIES", "BatchEvent", "ConfigError", "EpochEvent", "Event", "StartEvent",
    "TrainConfig", "TrainControl", "TrainResult", "event_to_dict", "make_optimizer", "make_scheduler",
    "pen_digit_split", "resolve_device", "train", "training_data",
]

CHANNELS_LAST_DEVICES = ("cpu",)  # measured: ~1.3-1.8x faster `cnn` steps on a 2-core CPU
ONECYCLE_PCT_START = 0.25  # fraction of the run spent warming the learning rate up


# ---------------------------------------------------------------- results


@dataclass
class TrainResult:
    """A finished (or cancelled) run: the model, what it scored, and how the run went."""

    model: nn.Module  # on the training device, eval mode
    config: TrainConfig
    history: list[EpochEvent]  # one per completed epoch
    evaluation: EvalResult  # the final test evaluation (confusion matrix, predictions)
    device: torch.device
    seconds: float  # training time, pauses excluded
    cancelled: bool
    steps: int
    n_train: int

    @property
    def device_name(self) -> str:
        return describe_device(self.device)

    @property
    def metrics(self) -> dict:
        """The final figures as plain values, as the checkpoint and the JSON-lines log store them."""
        return {
            "test_accuracy": self.evaluation.accuracy,
            "test_loss": self.evaluation.loss,
            "per_class_accuracy": [float(a) for a in self.evaluation.per_class_accuracy],
            "train_seconds": self.seconds,
            "device": self.device_name,
            "epochs_completed": len(self.history),
            "steps": self.steps,
            "n_train": self.n_train,
            "n_test": len(self.evaluation),
            "cancelled": self.cancelled,
        }

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
            metrics=self.metrics,
            normalization={"mean": MNIST_MEAN, "std": MNIST_STD},
        )

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint atomically; returns the path written."""
        from trainer.checkpoint import save_checkpoint

        return save_checkpoint(self.to_checkpoint(), path)


# ---------------------------------------------------------------- optimizers, schedules


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


@dataclass
class _Splits:
    train: Split
    test: Split
    val: Split | None

    def to(self, device: torch.device) -> _Splits:
        def move(split: Split) -> Split:
            return Split(split.images.to(device), split.labels.to(device))

        return _Splits(move(self.train), move(self.test), move(self.val) if self.val is not None else None)


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
        pen = pen_digit_split(config.seed, config.pen_copies, stroke_augment=config.stroke_augment, styles=config.styles)
        train_split = concat_splits(train_split, pen)
    if config.personal:
        train_split = concat_splits(train_split, personal_split(config.personal, config.seed, config.personal_copies))
    return train_split, data.test, data.val


def pen_digit_split(seed: int, copies: int = PEN_DIGIT_COPIES, *, stroke_augment: bool = False,
                    styles: str = "none") -> Split:
    """The training writers' pen digits rendered like canvas drawings, `copies` random placements each.

    With `stroke_augment` each copy is redrawn from the trajectory first (trainer.strokeaug); `styles`
    (trainer.styles names) adds, per copy, styled drawings of some digits. With neither, the images are
    those of earlier versions for the same seed.
    """
    from trainer import pendigits
    from trainer.strokeaug import augment_strokes
    from trainer.styles import parse_styles, styled_variants

    path = pendigits.default_pendigits_path()
    if path is None:
        raise DataError(
            "pen digits were asked for but the UNIPEN file was not found: set DIGITPAD_PENDIGITS "
            "to the path of pendigits-orig.tra.gz (or put it at ../shared/pendigits/ beside the checkout)"
        )
    train_writers, _heldout = pendigits.split_by_writer(pendigits.load_pendigits(path))
    rng = np.random.default_rng(seed)
    names = parse_styles(styles)
    transform = augment_strokes if stroke_augment else None
    parts = []
    for _ in range(copies):  # styled_variants draws nothing from rng without styles: the old images
        digits = train_writers + styled_variants(train_writers, names, rng)
        parts.append(pendigits.render_split(digits, rng, transform=transform))
    return concat_splits(*parts)


def personal_split(path: str, seed: int, copies: int) -> Split:
    """A person's exported digits rendered like the pen digits: `copies` random placements each."""
    from trainer import pendigits
    from trainer.personal_file import import_examples

    report = import_examples(path)
    if not report.examples:
        raise DataError(f"{path}: no personal digits to train on ({report.summary()})")
    digits = [pendigits.PenDigit(e.label, 0, [np.asarray(s, dtype=np.float64) for s in e.strokes]) for e in report.examples]
    return pendigits.render_split(digits, np.random.default_rng(seed + 1), copies=copies)


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


@dataclass
class _Window:
    """The batches since the last BatchEvent: their losses stay on the device until it is sent."""

    start: float
    losses: list[torch.Tensor] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


class _Run:
    """One training run: its model, optimizer, clock and counters; `fit()` is the epoch loop."""

    def __init__(
        self, config: TrainConfig, device: torch.device, model: nn.Module, splits: _Splits,
        emit: OnEvent, control: TrainControl,
    ) -> None:
        self.config, self.device, self.model, self.splits = config, device, model, splits
        self.emit, self.control = emit, control
        self.clock = _Clock()
        self.steps_per_epoch = math.ceil(len(splits.train) / config.batch_size)
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

    def fit(self) -> TrainResult:
        """Train epoch by epoch, evaluating after each; a cancel keeps the model trained so far."""
        self.emit(self._start_event())
        history: list[EpochEvent] = []
        final: EvalResult | None = None
        cancelled = False
        for epoch in range(1, self.config.epochs + 1):
            epoch_start = self.clock.now()
            stats = self.train_epoch(epoch)
            cancelled = stats.cancelled
            if cancelled and stats.steps == 0 and final is not None:
                break  # cancelled at an epoch boundary: the last evaluation still holds
            final = self.evaluate(self.splits.test)
            if cancelled:
                break
            history.append(self._epoch_event(epoch, stats, final, epoch_start))
            self.emit(history[-1])
        assert final is not None  # the first epoch always evaluates
        return self._result(history, final, cancelled)

    def train_epoch(self, epoch: int) -> _EpochStats:
        self.model.train()
        window = _Window(self.clock.now())
        loss_sum, seen, step = 0.0, 0, 0
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        batches = iterate_batches(
            self.splits.train, self.config.batch_size, shuffle=True, generator=self.generator,
            device=self.device, augment=self.config.augment,
        )
        cancelled = False
        for images, labels in batches:
            if self._should_stop():
                cancelled = True
                break
            step += 1
            self.global_step += 1
            loss, correct_in_batch = self._step(images, labels)
            window.losses.append(loss)
            window.sizes.append(len(labels))
            correct += correct_in_batch
            if step % self.config.log_every == 0 or step == self.steps_per_epoch:
                total, n = self._flush(window, epoch, step)
                loss_sum, seen, window = loss_sum + total, seen + n, _Window(self.clock.now())
        if window.losses:  # cancelled mid-window: report what was trained
            total, n = self._flush(window, epoch, step)
            loss_sum, seen = loss_sum + total, seen + n
        if not seen:
            return _EpochStats(float("nan"), float("nan"), step, cancelled)
        return _EpochStats(loss_sum / seen, int(correct.item()) / seen, step, cancelled)

    def evaluate(self, split: Split) -> EvalResult:
        """Evaluate the model that will be returned: the weight average when there is one."""
        start = self.clock.now()
        model = self.average.model if self.average is not None else self.model
        result = evaluate(model, split, self.device)
        self.last_eval_seconds = self.clock.now() - start
        self.eval_seconds += self.last_eval_seconds
        return result

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

    def _flush(self, window: _Window, epoch: int, step: int) -> tuple[float, int]:
        """Read the window's losses (one device sync), check them, emit a BatchEvent; (loss sum, samples)."""
        values = torch.stack(window.losses).tolist()
        first_step = step - len(values) + 1
        for offset, value in enumerate(values):
            if not math.isfinite(value):
                self._raise_diverged(value, epoch, first_step + offset)
        total = sum(v * n for v, n in zip(values, window.sizes, strict=True))
        n = sum(window.sizes)
        self.emit(self._batch_event(epoch, step, total / n, n / max(self.clock.now() - window.start, 1e-9)))
        return total, n

    def _raise_diverged(self, value: float, epoch: int, step: int) -> None:
        what = "NaN" if math.isnan(value) else "infinite"
        raise TrainingError(
            f"training stopped: the loss became {what} at epoch {epoch} step {step} "
            f"(optimizer {self.config.optimizer}, lr {self.config.lr:g}) — learning rate too high?"
        )

    # ------------------------------------------------------------ events and the result

    def _start_event(self) -> StartEvent:
        return StartEvent(
            config=self.config,
            device=str(self.device),
            n_train=len(self.splits.train),
            n_test=len(self.splits.test),
            steps_per_epoch=self.steps_per_epoch,
            n_params=count_parameters(self.model),
        )

    def _batch_event(self, epoch: int, step: int, loss: float, samples_per_sec: float) -> BatchEvent:
        now = self.clock.now()
        per_step = max(now - self.eval_seconds, 1e-9) / self.global_step
        remaining_evals = self.config.epochs - epoch + 1
        return BatchEvent(
            epoch=epoch,
            epochs=self.config.epochs,
            step=step,
            steps_per_epoch=self.steps_per_epoch,
            global_step=self.global_step,
            loss=loss,
            samples_per_sec=samples_per_sec,
            elapsed=now,
            eta=(self.total_steps - self.global_step) * per_step + remaining_evals * self.last_eval_seconds,
        )

    def _epoch_event(self, epoch: int, stats: _EpochStats, test: EvalResult, epoch_start: float) -> EpochEvent:
        val_split = self.splits.val
        val = self.evaluate(val_split) if val_split is not None and len(val_split) else None
        return EpochEvent(
            epoch=epoch,
            epochs=self.config.epochs,
            train_loss=stats.loss,
            train_accuracy=stats.accuracy,
            test_loss=test.loss,
            test_accuracy=test.accuracy,
            seconds=self.clock.now() - epoch_start,
            val_loss=val.loss if val else None,
            val_accuracy=val.accuracy if val else None,
        )

    def _result(self, history: list[EpochEvent], final: EvalResult, cancelled: bool) -> TrainResult:
        seconds = self.clock.now()
        if self.average is not None:
            self.average.copy_back()  # before the layout change below, which gives the parameters new storage
        # back to the ordinary layout so the returned model and its checkpoint look like any other
        self.model.to(memory_format=torch.contiguous_format)
        self.model.eval()
        return TrainResult(
            model=self.model,
            config=self.config,
            history=history,
            evaluation=final,
            device=self.device,
            seconds=seconds,
            cancelled=cancelled,
            steps=self.global_step,
            n_train=len(self.splits.train),
        )


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def train(
    config: TrainConfig,
    *,
    data: MnistData | None = None,
    on_event: OnEvent | None = None,
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
    torch.manual_seed(config.seed)  # model initialisation and dropout
    if model is None:
        model = _create_model(config)  # before loading data: a bad setting fails at once
    warm_up_in_background()  # the first optimizer's imports overlap the data loading
    splits = _Splits(*training_data(config, data))
    if len(splits.train) == 0:
        raise DataError("the training set is empty")
    try:
        run = _Run(config, device, model.to(device), splits.to(device), on_event or _ignore, control or TrainControl())
        return run.fit()
    except (RuntimeError, torch.OutOfMemoryError) as exc:
        if isinstance(exc, DigitpadError) or not is_out_of_memory(exc):
            raise
        raise TrainingError(
            f"the {describe_device(device)} ran out of memory training {config.arch} with batch size "
            f"{config.batch_size}; try a smaller batch size or the CPU"
        ) from None


def _ignore(event: Event) -> None:
    pass


def _create_model(config: TrainConfig) -> nn.Module:
    try:
        return create_model(config.arch, **config.model_args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot build {config.arch} with {config.model_args}: {exc}") from None

"""The Train tab's runs as plain state: a `Session` of `Run`s, each with a `RunStatus`, and the moves between them.

Qt-free. The session is the one source of truth for a run's status: pausing sets the status
and tells the trainer's `TrainControl` (which the training thread reads between batches);
nothing else asks the control whether a run is paused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from enum import Enum

from trainer.durations import format_duration
from trainer.train import BatchEvent, TrainConfig, TrainControl


class RunStatus(str, Enum):
    """Where a run is. A `str` enum: `run.status == "done"` reads as the word shown in the runs list."""

    STARTING = "starting"  # loading data, no StartEvent yet
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop; evaluating the model trained so far
    DONE = "done"
    STOPPED = "stopped"  # stopped early, the model trained so far kept
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    @property
    def active(self) -> bool:
        """The run still has a training thread."""
        return self in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.STOPPING)


@dataclass
class RunResult:
    """What the session needs to know of a finished run (the worker's RunOutcome satisfies it)."""

    accuracy: float
    seconds: float
    cancelled: bool


@dataclass
class Run:
    """One training run of this session."""

    id: int
    name: str  # "run 2"
    config: TrainConfig
    status: RunStatus = RunStatus.STARTING
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0  # training time (pauses excluded), once known
    outcome: object | None = None  # digitpad.train.worker.RunOutcome, once finished or stopped
    error: str | None = None
    steps_per_epoch: int = 0
    last_progress: BatchEvent | None = None
    accuracy: float | None = None  # test accuracy: the last epoch's, then the final one

    @property
    def display_name(self) -> str:
        """The run named for the Draw tab and the status bar, e.g. "run 2 · cnn · 98.0%"."""
        parts = [self.name, self.config.arch]
        if self.outcome is not None and self.accuracy is not None:
            parts.append(f"{100 * self.accuracy:.1f}%")
        return " · ".join(parts)

    @property
    def time_text(self) -> str:
        return format_duration(self.seconds) if self.seconds or self.outcome is not None else ""


def settings_text(config: TrainConfig) -> str:
    """The hyperparameters of a run in one line, e.g. "cnn · adam lr 0.0005 · batch 128 · 2 ep"."""
    parts = [config.arch, f"{config.optimizer} lr {config.lr:g}"]
    if config.optimizer == "momentum":
        parts[-1] += f" m {config.momentum:g}"
    if config.weight_decay:
        parts[-1] += f" wd {config.weight_decay:g}"
    if config.schedule != "none":
        parts.append(config.schedule)
    parts.append(f"batch {config.batch_size}")
    parts.append(f"{config.epochs} ep")
    if config.subset:
        parts.append(f"{config.subset:,} imgs")
    if config.augment:
        parts.append("aug")
    if config.label_smoothing:
        parts.append(f"ls {config.label_smoothing:g}")
    if config.ema:
        parts.append(f"ema {config.ema:g}")
    if config.pen_digits:
        parts.append("+pen" if config.pen_copies == TrainConfig.pen_copies else f"+pen ×{config.pen_copies}")
        if config.stroke_augment:
            parts.append("strokes")
        if config.styles != "none":
            parts.append(f"styles {config.styles}")
    if config.personal:
        parts.append("+my digits")
    return " · ".join(parts)


REMEMBERED_EXCLUDED = ("model_args", "log_every", "val_size", "data_dir", "personal")  # not in the form, or kept apart


def remembered_values(config: TrainConfig) -> dict:
    """The form's settings to store between sessions."""
    return {k: v for k, v in config.to_dict().items() if k not in REMEMBERED_EXCLUDED}


def config_from_stored(values: object, base: TrainConfig | None = None) -> TrainConfig:
    """`base` (the defaults) with each stored setting that is valid on its own; a bad one keeps the default."""
    config = base or TrainConfig()
    if not isinstance(values, dict):
        return config
    defaults = {f.name: getattr(config, f.name) for f in fields(TrainConfig) if f.name not in REMEMBERED_EXCLUDED}
    for name, default in defaults.items():
        value = _same_type(values.get(name), default, name)
        if value is None and default is not None:
            continue
        candidate = replace(config, **{name: value})
        try:
            candidate.validate()
        except ValueError:
            continue
        config = candidate
    return config


def _same_type(value: object, default: object, name: str) -> object:
    """`value` if it has the default's type (ints pass as floats; None only where the default allows it)."""
    if value is None:
        return None
    if isinstance(default, bool) or isinstance(value, bool):
        return value if isinstance(value, bool) and isinstance(default, bool) else None
    if isinstance(default, float):
        return float(value) if isinstance(value, (int, float)) else None
    if isinstance(default, int) or (default is None and name in ("subset", "test_subset")):
        return value if isinstance(value, int) else None
    return value if isinstance(value, type(default)) else None


def finished_text(run: Run) -> str:
    """The status line of a run that ended with a model (`run.outcome` is the worker's RunOutcome)."""
    result = run.outcome.result
    epochs = result.metrics.get("epochs_completed", len(result.history))
    how = "stopped early — kept the model trained so far" if result.cancelled else "finished"
    return (
        f"{run.name} {how}: test accuracy {100 * run.outcome.accuracy:.2f}% after {epochs} full epoch(s), "
        f"{result.metrics.get('steps', 0)} steps in {format_duration(result.seconds)} "
        f"on {result.metrics.get('device', result.device)}."
    )


def settings_tooltip(config: TrainConfig) -> str:
    """Every setting of a run, one per line."""
    return "\n".join(f"{k}: {v}" for k, v in config.to_dict().items() if k != "model_args")


class Session:
    """The runs of this session; at most one runs at a time. Every status change is a method here."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._by_id: dict[int, Run] = {}
        self.current: Run | None = None
        self.control: TrainControl | None = None  # the current run's, for its worker

    @property
    def is_running(self) -> bool:
        return self.current is not None

    def get(self, run_id: int) -> Run | None:
        return self._by_id.get(run_id)

    def start(self, config: TrainConfig) -> Run:
        """A new run, now current; `control` is what its worker obeys."""
        if self.current is not None:
            raise RuntimeError(f"{self.current.name} is still running")
        number = len(self.runs) + 1
        run = Run(id=number, name=f"run {number}", config=config)
        self.runs.append(run)
        self._by_id[run.id] = run
        self.current = run
        self.control = TrainControl()
        return run

    def started(self, steps_per_epoch: int) -> Run | None:
        """The worker began training (a pause asked for while loading data holds)."""
        run = self.current
        if run is not None:
            run.steps_per_epoch = steps_per_epoch
            if run.status is RunStatus.STARTING:
                run.status = RunStatus.RUNNING
        return run

    def progressed(self, event: BatchEvent) -> Run | None:
        run = self.current
        if run is not None:
            run.last_progress = event
            run.seconds = event.elapsed
        return run

    def epoch_ended(self, test_accuracy: float) -> Run | None:
        run = self.current
        if run is not None:
            run.accuracy = test_accuracy
        return run

    def toggle_pause(self) -> Run | None:
        """Pause a running run after its current batch, or resume a paused one; None if neither applies."""
        run, control = self.current, self.control
        if run is None or control is None or run.status is RunStatus.STOPPING:
            return None
        if run.status is RunStatus.PAUSED:
            control.resume()
            run.status = RunStatus.RUNNING if run.steps_per_epoch else RunStatus.STARTING
        else:
            control.pause()
            run.status = RunStatus.PAUSED
        return run

    def stop(self) -> Run | None:
        """Ask the current run to stop after its current batch (its model is kept)."""
        run, control = self.current, self.control
        if run is None or control is None or run.status is RunStatus.STOPPING:
            return None
        control.cancel()
        run.status = RunStatus.STOPPING
        return run

    def finished(self, outcome, result: RunResult) -> Run | None:
        """The current run ended with a model (`result.cancelled`: it was stopped early)."""
        run = self._end()
        if run is not None:
            run.outcome = outcome
            run.accuracy = result.accuracy
            run.seconds = result.seconds
            run.status = RunStatus.STOPPED if result.cancelled else RunStatus.DONE
        return run

    def failed(self, message: str) -> Run | None:
        run = self._end()
        if run is not None:
            run.status = RunStatus.FAILED
            run.error = message
        return run

    def _end(self) -> Run | None:
        run = self.current
        self.current = None
        self.control = None
        return run

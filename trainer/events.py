"""What a training run reports as it goes: plain numbers and strings, so any thread or process can take them.

`trainer.train.train` sends them, in order, to its `on_event` callback: one StartEvent, a
BatchEvent every `log_every` batches and on each epoch's last batch, one EpochEvent after each
epoch's test evaluation. The CLI prints and logs them (trainer.reporting); the Train tab turns
them into signals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from trainer.config import TrainConfig


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
OnEvent = Callable[[Event], None]

_KINDS = {StartEvent: "start", BatchEvent: "batch", EpochEvent: "epoch"}


def event_to_dict(event: Event) -> dict:
    """A JSON-ready dict of an event with its kind under "event" (used by the JSON-lines log)."""
    return {"event": _KINDS[type(event)], **dataclasses.asdict(event)}

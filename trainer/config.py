"""TrainConfig: every knob of a training run, each field carrying its own help, label and range.

The metadata on each field is the one home of that setting's rules: `TrainConfig.validate()`,
`digitpad-train train --help` and its argument checks (trainer.cli), and the Train tab's form
all read it. Adding a hyperparameter takes a field here and its use in the training loop.

API (used by trainer.cli and digitpad.train):

    from trainer.config import TrainConfig, Param, Group, params

    params() -> list[tuple[str, Param, dataclasses.Field]]   # every field, in declaration order
    value_type(field) -> type       # int, float, str, bool or dict (None stripped from `int | None`)
    is_optional(field) -> bool      # the field's type admits None ("none"/"all" = Param.none_text)
    Param.check_value(value) -> str | None  # why `value` is out of range or not a choice ("must be >= 1")
    Param.choice_values() -> tuple[str, ...] | None
    Param.range_text() -> str       # "a positive number", ">= 1", "in [0, 1)", "" when unbounded
    Param.flag(name) -> str         # the CLI option, e.g. "--batch-size"
    Param.noun -> str               # how messages name it, e.g. "learning rate"
    Param.tooltip -> str            # the form's tooltip (the help text unless `tip` is set)

A Param says nothing about widgets beyond hints (`form`, `form_high`, `step`, `none_text`,
`choice_labels`): the form decides how to show a field from its type and these.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainer.devices import DEVICE_HELP, device_arg, device_name_problem
from trainer.errors import ConfigError

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("none", "onecycle", "cosine")
PEN_DIGIT_COPIES = 3  # default renders of each training-writer pen digit, each at its own random size/place
DATA_DIR_HELP = (
    "directory of the four MNIST IDX files (default: $DIGITPAD_DATA, else the per-user cache; "
    "downloaded there when missing and online)"
)

__all__ = [
    "OPTIMIZERS", "SCHEDULES", "PEN_DIGIT_COPIES", "ConfigError", "Group", "Param", "TrainConfig",
    "is_optional", "param", "params", "value_type",
]


class Group(enum.Enum):
    """Where a setting belongs; the value is the title of its `--help` section."""

    MODEL = "model"
    OPTIMIZER = "optimization"
    DATA = "data and device"
    MORE = "more options"  # folded away in the Train form
    OUTPUT = "output"


@dataclass(frozen=True)
class Param:
    """What one TrainConfig field means and which values it takes (bounds inclusive unless *_open)."""

    help: str  # the --help text, without the default (added from the field)
    label: str  # the form's row label, e.g. "Learning rate"
    group: Group
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None  # callable: known only at run time
    check: Callable[[Any], str | None] | None = None  # a rule beyond bounds and choices (device names)
    parse: Callable[[str], Any] | None = None  # the CLI's text -> value when the type's own is not enough
    what: str = ""  # how messages name it when that is not the label, e.g. "EMA decay"
    tip: str = ""  # the form's tooltip when the help text (written for the CLI) does not fit
    cli_flag: str = ""  # override of the --option spelling
    metavar: str | None = None
    form: bool = True  # shown in the Train tab's form
    form_high: float | None = None  # the form's upper end where the valid range has none
    step: float | None = None  # the form's step for a number
    none_text: str = ""  # what None (or 0 for an "off" fraction) means: "all", "off"
    choice_labels: tuple[tuple[str, str], ...] = ()  # (value, what the form shows)

    @property
    def noun(self) -> str:
        return self.what or self.label.lower()

    @property
    def tooltip(self) -> str:
        return self.tip or self.help[:1].upper() + self.help[1:]

    def flag(self, name: str) -> str:
        return self.cli_flag or "--" + name.replace("_", "-")

    def choice_values(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices

    def choice_label(self, value: str) -> str:
        return dict(self.choice_labels).get(value, value)

    def range_text(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            return f"in {'(' if self.low_open else '['}{_num(low)}, {_num(high)}{')' if self.high_open else ']'}"
        if low is not None:
            if low == 0 and self.low_open:
                return "a positive number"
            return f"{'>' if self.low_open else '>='} {_num(low)}"
        if high is not None:
            return f"{'<' if self.high_open else '<='} {_num(high)}"
        return ""

    def check_value(self, value: Any) -> str | None:
        """Why `value` is not allowed (bounds, choices, `check`), or None; type checks are validate()'s."""
        choices = self.choice_values()
        if choices is not None:
            return None if value in choices else f"invalid choice: {value!r} (choose from {', '.join(choices)})"
        if self.check is not None:
            return self.check(value)
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if isinstance(value, (int, float)) and not self._in_range(value):
            return f"must be {self.range_text()}, got {value}"
        return None

    def _in_range(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))


def _num(x: float) -> str:
    if isinstance(x, int) or x.is_integer():
        return str(int(x))
    return f"{x:g}"


def param(help: str, label: str, group: Group, **rules: Any) -> dict[str, Param]:
    """Field metadata: `field(default=..., metadata=param("learning rate", "Learning rate", Group.OPTIMIZER, low=0))`."""
    return {"param": Param(help, label, group, **rules)}


def _model_names() -> tuple[str, ...]:
    from trainer.models import model_names  # torch: only when the choices are asked for

    return tuple(model_names())


def _styles_problem(value: str) -> str | None:
    from trainer.styles import styles_problem  # numpy: only when a value is checked

    return styles_problem(value)


def _styles_arg(text: str) -> str:
    """The CLI's --styles text, spaces and case tidied: "Flag-1, slashed-0" -> "flag-1,slashed-0"."""
    return ",".join(n.strip().lower() for n in text.split(",") if n.strip()) or "none"


def _setting(default: Any, *args: Any, **rules: Any) -> Any:
    factory = {"default_factory": default} if callable(default) else {"default": default}
    return field(**factory, metadata=param(*args, **rules))


OFF = dict(none_text="off")
PERSONAL_COPIES = 20  # a person gives a few examples: each is rendered this many times against 60,000 MNIST digits


@dataclass
class TrainConfig:
    """Every knob of a training run; stored in the checkpoint as `hparams`."""

    arch: str = _setting("cnn", "architecture", "Architecture", Group.MODEL, choices=_model_names)
    model_args: dict = _setting(
        dict, "constructor argument of the architecture, e.g. --model-arg width=32 (repeatable)", "Model arguments",
        Group.MODEL, cli_flag="--model-arg", metavar="KEY=VALUE", form=False,
    )
    optimizer: str = _setting(
        "adam", "optimizer (momentum = SGD with momentum)", "Optimizer", Group.OPTIMIZER, choices=OPTIMIZERS,
        choice_labels=(("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD"), ("momentum", "SGD + momentum")),
    )
    lr: float = _setting(
        5e-4, "learning rate (the peak rate with --schedule onecycle)", "Learning rate", Group.OPTIMIZER,
        low=0, low_open=True, tip="Learning rate, e.g. 5e-4 for Adam or 0.01 for SGD",
    )
    momentum: float = _setting(
        0.9, "momentum of --optimizer momentum (given with --optimizer sgd, it applies there too)", "Momentum",
        Group.OPTIMIZER, low=0, high=1, high_open=True, form_high=0.999, step=0.05, tip="Used by SGD + momentum only",
    )
    weight_decay: float = _setting(
        0.0, "weight decay", "Weight decay", Group.MORE, low=0,
        tip="Weight decay, e.g. 0.01 with AdamW or 5e-4 with SGD; 0 = none",
    )
    batch_size: int = _setting(128, "training batch size", "Batch size", Group.OPTIMIZER, low=1, form_high=8192)
    epochs: int = _setting(1, "passes over the training set", "Epochs", Group.OPTIMIZER, low=1, form_high=200)
    seed: int = _setting(
        1, "random seed (same seed, same device: same run)", "Seed", Group.OPTIMIZER,
        low=0, high=2**64 - 1, form_high=2**31 - 1,  # torch's generators take an unsigned 64-bit seed
    )
    label_smoothing: float = _setting(
        0.0, "label smoothing", "Label smoothing", Group.MORE, low=0, high=1, high_open=True,
        form_high=0.5, step=0.05, **OFF,
    )
    ema: float = _setting(
        0.0, "keep a moving average of the weights with this decay (e.g. 0.999) and evaluate and save it; 0 = off",
        "Weight average", Group.MORE, low=0, high=1, high_open=True, what="EMA decay", metavar="DECAY",
        form_high=0.9999, step=0.001, tip="Evaluate and save a moving average of the weights with this decay, e.g. 0.999",
        **OFF,
    )
    schedule: str = _setting(
        "none", "learning-rate schedule, stepped every batch", "LR schedule", Group.MORE, choices=SCHEDULES,
        choice_labels=(("none", "Constant"), ("onecycle", "One-cycle"), ("cosine", "Cosine")),
        tip="How the learning rate changes over the run, batch by batch",
    )
    augment: bool = _setting(
        False, "random small affine distortions of the training images", "Augment", Group.OPTIMIZER,
        tip="Random affine distortions",
    )
    device: str = _setting(
        "auto", DEVICE_HELP, "Device", Group.DATA, check=device_name_problem, parse=device_arg,
        choice_labels=(("auto", "Auto"), ("cpu", "CPU"), ("cuda", "CUDA"), ("mps", "Apple MPS")),
    )
    data_dir: str | None = _setting(
        None, DATA_DIR_HELP, "Data dir", Group.DATA, what="data directory", metavar="DIR",
        tip="Directory with the four MNIST IDX files (downloaded there when missing)",
    )
    subset: int | None = _setting(
        None, "train on N training images (a class-balanced draw fixed by --seed)", "Train subset", Group.DATA,
        low=1, form_high=60_000, step=1000, none_text="all", metavar="N",
        tip="Train on a class-balanced subset of this many images (for quick runs)",
    )
    test_subset: int | None = _setting(
        None, "evaluate on N test images (a class-balanced draw)", "Test subset", Group.DATA,
        low=1, form_high=10_000, step=1000, none_text="all", metavar="N", tip="Evaluate on this many test images",
    )
    val_size: int = _setting(
        0, "hold out N training images as a validation split, evaluated every epoch", "Validation images",
        Group.DATA, low=0, what="validation size", metavar="N", form=False,
    )
    pen_digits: bool = _setting(
        False, "add the training writers' UNIPEN pen digits, rendered like canvas drawings "
        "(the file from $DIGITPAD_PENDIGITS or ../shared/pendigits)", "Pen digits", Group.DATA,
        tip="Add the training writers' pen digits (UNIPEN), rendered like drawings on the canvas",
    )
    pen_copies: int = _setting(
        PEN_DIGIT_COPIES, "with --pen-digits: renders of each pen digit, at random sizes and places; "
        "more copies weigh drawn digits more against MNIST", "Pen copies", Group.MORE, low=1, form_high=20,
        what="pen digit copies", metavar="N",
        tip="With MNIST + pen digits: renders of each pen digit at random sizes and places; "
        "more weigh drawn digits more against MNIST",
    )
    personal: str | None = _setting(
        None, "add a person's own digits from a digitpad-digits export file (the window's My Digits → Export)",
        "My digits file", Group.DATA, what="personal digits file", metavar="FILE", form=False,
    )
    personal_copies: int = _setting(
        PERSONAL_COPIES, "with --personal: renders of each personal digit, at random sizes and places", "My digits copies",
        Group.MORE, low=1, high=1000, what="personal digit copies", metavar="N", form=False,
    )
    stroke_augment: bool = _setting(
        False, "with --pen-digits: redraw each pen digit's copies from its trajectory with random stroke changes "
        "(resampling, hooks and tails, gaps, per-stroke jitter, slant, elastic warp; trainer.strokeaug)",
        "Stroke augment", Group.MORE,
        tip="Redraw pen digits with stroke changes",  # also the checkbox's text: short, or the form overflows
    )
    styles: str = _setting(
        "none", "with --pen-digits: add pen digits redrawn in these writing styles, comma-separated from "
        "slashed-0, flag-1, crossed-7, curl-7, open-4, hook-6, g-9, or all (trainer.styles)",
        "Styles", Group.MORE, check=_styles_problem, parse=_styles_arg, metavar="NAMES", form=False,
    )
    log_every: int = _setting(20, "batches between progress updates", "Log every", Group.OUTPUT, low=1, form=False)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Rebuild a config from `to_dict()` output (e.g. a checkpoint's hparams); unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def validate(self) -> None:
        """Raise ConfigError naming the first bad setting."""
        for name, meta, f in params():
            value = getattr(self, name)
            problem = _type_problem(value, f) or (None if value is None else meta.check_value(value))
            if problem:
                named = meta.noun if meta.noun == name else f"{meta.noun} ({name})"
                raise ConfigError(f"{named}: {problem}")
        self._validate_model_args()

    def _validate_model_args(self) -> None:
        """A run must never make a model file that refuses to load: the loader's bounds apply here too."""
        from trainer.checkpoint import validate_model_args  # torch: only once there is a run to check
        from trainer.errors import CheckpointError

        try:
            validate_model_args(self.arch, self.model_args)
        except CheckpointError as exc:
            reason = str(exc).removeprefix(f"{self.arch} with these model arguments: ")
            raise ConfigError(f"cannot build {self.arch} with these model arguments: {reason}") from None


def _type_problem(value: Any, f: dataclasses.Field) -> str | None:
    if value is None:
        return None if is_optional(f) else "must be set, got None"
    kind = value_type(f)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return None  # an int is a fine float (lr=1)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        return f"must be {_KIND_NAMES[kind]}, got {type(value).__name__} {_short(value)}"
    return None


_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a dict"}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def params() -> list[tuple[str, Param, dataclasses.Field]]:
    """(name, Param, field) of every TrainConfig field, in declaration order."""
    return [(f.name, f.metadata["param"], f) for f in dataclasses.fields(TrainConfig)]


def value_type(f: dataclasses.Field) -> type:
    """The field's value type with None stripped: `int | None` -> int."""
    args = [a for a in typing.get_args(_hint(f)) if a is not type(None)]
    return args[0] if args else _hint(f)


def is_optional(f: dataclasses.Field) -> bool:
    hint = _hint(f)
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _hint(f: dataclasses.Field) -> Any:
    return _hints()[f.name]


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)  # the annotations are strings (postponed evaluation)

"""What digitpad remembers between sessions, read so that no stored value can break a launch.

Every remembered value has one `Key`: its name in the settings file, its default and a parser.
The parser turns what the file holds into a valid value (numbers are clamped into range) or
raises ValueError/TypeError; then `read` returns the default instead. A hand-edited or damaged
settings file (`pen_width=inf`, a string where a number belongs, a 10**400) therefore costs the
user that one value, never a crash on every launch.

    from digitpad import settings
    width = settings.read(store, settings.PEN_WIDTH)       # always a valid float
    settings.write(store, settings.PEN_WIDTH, 0.06)        # parsed the same way before it is stored

`store` is anything with QSettings' `value(name)` and `setValue(name, value)`; this module does
not import Qt. To remember a new field, add a `Key` below (the Train form's keys live here too).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from digitpad.draw.drawing import DEFAULT_PEN_WIDTH, MAX_PEN_WIDTH, MIN_PEN_WIDTH

T = TypeVar("T")

MAX_TEXT = 4096            # characters in a stored path or text
MAX_BLOB = 64 * 1024       # bytes in a stored window geometry/state
MAX_RECENT_MODELS = 5      # File > Recent models
IMPLAUSIBLE = 1e9          # a stored number beyond this is damage, not a setting to clamp


class Store(Protocol):
    """The part of QSettings used here."""

    def value(self, key: str) -> object: ...

    def setValue(self, key: str, value: object) -> None: ...


@dataclass(frozen=True)
class Key(Generic[T]):
    """One remembered value: where it is stored, its default, and how a stored value is checked."""

    name: str
    default: T
    parse: Callable[[object], T]   # a valid value from what the file holds, or ValueError/TypeError


def read(store: Store, key: Key[T]) -> T:
    """The stored value of `key`, checked; its default when it is missing or not valid."""
    try:
        raw = store.value(key.name)
    except Exception:  # a value QSettings cannot even convert: same as a bad one
        return key.default
    if raw is None:
        return key.default
    try:
        return key.parse(raw)
    except (TypeError, ValueError, OverflowError):
        return key.default


def write(store: Store, key: Key[T], value: T) -> None:
    """Store `value` for `key` after the same check as `read` (a bad value raises ValueError)."""
    value = key.parse(value)
    store.setValue(key.name, list(value) if isinstance(value, tuple) else value)  # QSettings stores lists


# ---------------------------------------------------------------------------------------- parsers


def number(low: float, high: float) -> Callable[[object], float]:
    """A finite float (settings files store numbers as text), clamped into [low, high].

    Beyond +-IMPLAUSIBLE it is refused instead: 1e300 is a damaged file, not a wish for the maximum.
    """

    def parse(raw: object) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise TypeError(f"not a number: {type(raw).__name__}")
        if isinstance(raw, str) and len(raw) > 64:
            raise ValueError("not a number: too long")
        value = float(raw)
        if not math.isfinite(value) or abs(value) > IMPLAUSIBLE:
            raise ValueError("not a plausible number")
        return min(max(value, low), high)

    return parse


def integer(low: int, high: int) -> Callable[[object], int]:
    """A whole number (text "12" included), clamped into [low, high]; 12.5 or "12.5" is not one."""

    def parse(raw: object) -> int:
        value = number(-IMPLAUSIBLE, IMPLAUSIBLE)(raw)
        if value != int(value):
            raise ValueError("not a whole number")
        return min(max(int(value), low), high)

    return parse


def flag(raw: object) -> bool:
    """A yes/no value: a bool, or the text "true"/"false" an INI file holds."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError("not true or false")


def choice(options: Sequence[str]) -> Callable[[object], str]:
    """One of `options`, exactly."""

    def parse(raw: object) -> str:
        if not isinstance(raw, str) or raw not in options:
            raise ValueError("not one of the choices")
        return raw

    return parse


def text(raw: object) -> str:
    """A short single-line text."""
    if not isinstance(raw, str) or len(raw) > MAX_TEXT or "\0" in raw or "\n" in raw:
        raise ValueError("not a short line of text")
    return raw


def folder(raw: object) -> str:
    """A directory that exists now (a remembered "last folder")."""
    path = text(raw)
    if not path or not Path(path).is_dir():
        raise ValueError("not an existing folder")
    return path


def blob(raw: object) -> bytes:
    """Opaque bytes such as a saved window geometry (a QByteArray or bytes), not too big."""
    if not isinstance(raw, (bytes, bytearray)) and type(raw).__name__ != "QByteArray":  # no Qt import here
        raise TypeError("not bytes")
    data = bytes(raw)
    if len(data) > MAX_BLOB:
        raise ValueError("too big")
    return data


def path_list(limit: int) -> Callable[[object], tuple[str, ...]]:
    """Up to `limit` distinct paths, newest first (INI files give one path back as a plain string)."""

    def parse(raw: object) -> tuple[str, ...]:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            raise TypeError("not a list of paths")
        paths: list[str] = []
        for item in items[: limit * 4]:
            if isinstance(item, str) and item and item not in paths and len(item) <= MAX_TEXT and "\0" not in item:
                paths.append(item)
        return tuple(paths[:limit])

    return parse


# ---------------------------------------------------------------------------------------- the keys

WINDOW_GEOMETRY = Key("window/geometry", b"", blob)
WINDOW_STATE = Key("window/state", b"", blob)
PEN_WIDTH = Key("draw/pen_width", DEFAULT_PEN_WIDTH, number(MIN_PEN_WIDTH, MAX_PEN_WIDTH))
LAST_IMAGE_DIR = Key("paths/last_image_dir", "", folder)
LAST_MODEL_DIR = Key("paths/last_model_dir", "", folder)
RECENT_MODELS = Key("models/recent", (), path_list(MAX_RECENT_MODELS))
# the Train form (digitpad/train/form.py); its config is JSON, each field checked against trainer.config there
TRAIN_DATA_DIR = Key("train/data_dir", "", text)  # need not exist yet: MNIST can be downloaded there
TRAIN_LOG_DIR = Key("train/log_dir", "", text)
TRAIN_MORE_OPTIONS = Key("train/more_options", False, flag)  # whether "More options" is unfolded
TRAIN_CONFIG = Key("train/config", "", text)
# personalization (digitpad/personal/controls.py): store what the user corrects or confirms; read with their model
LEARN_FROM_CORRECTIONS = Key("personal/learn_from_corrections", True, flag)
USE_MY_HANDWRITING = Key("personal/use_my_handwriting", True, flag)

APP_KEYS: tuple[Key, ...] = (WINDOW_GEOMETRY, WINDOW_STATE, PEN_WIDTH, LAST_IMAGE_DIR, LAST_MODEL_DIR, RECENT_MODELS)

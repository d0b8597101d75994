"""Real pen trajectories (UCI pen-based digits, UNIPEN format): the closest data to canvas drawings.

Used to test the stroke pipeline end to end, to measure accuracy on writers a model never saw,
and optionally as extra training data rendered through the same path as the canvas.

File format: a digit starts with ``.SEGMENT DIGIT <n> ? "<label>"``, then
``.COMMENT <label> <writer> <n_points>``, then strokes, each ``.PEN_DOWN``, lines of ``x y``
tablet coordinates, ``.PEN_UP``. Other dot-commands (``.DT``, ``.LEXICON`` ...) are skipped.
The tablet's y axis points up; we flip it so strokes are in screen orientation (y down).
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainer.data import Split
from trainer.errors import DataError, NothingDrawnError
from trainer.sizes import IMAGE_SIZE, PAPER_SIZE

PENDIGITS_ENV = "DIGITPAD_PENDIGITS"
SHARED_PENDIGITS = Path("shared") / "pendigits" / "pendigits-orig.tra.gz"  # relative to the repo's parent

# Writers 1-30; these eight, spread over the id range, are never used for training. Accuracy on
# them is what a new person drawing on the canvas can expect.
HELDOUT_WRITERS: tuple[int, ...] = (2, 6, 10, 14, 18, 22, 26, 30)
# A second, smaller group, also never trained on, and not looked at while developing or choosing a
# model: only a model's final evaluation reads them (benchmarks/recognition.py --final-writers).
FINAL_WRITERS: tuple[int, ...] = (4, 16, 28)

CANVAS_SIZE = int(PAPER_SIZE)  # side of the drawing canvas, px (the paper of trainer.sizes)
DEFAULT_HEIGHT_FRAC = 0.6  # a digit drawn at a comfortable size fills about this much of the height
MAX_WIDTH_FRAC = 0.95  # a very wide digit is shrunk so it still fits across the canvas
MIN_EXTENT = 1e-6  # a digit flatter than this (tablet units) is scaled by its other side

StrokeTransform = Callable[[list[np.ndarray], np.random.Generator], list[np.ndarray]]


@dataclass(eq=False)
class PenDigit:
    """One written digit: its label, the writer's id (1-30) and its strokes."""

    label: int
    writer: int
    strokes: list[np.ndarray]  # each (n, 2) float64 x, y in screen orientation (y down)


def default_pendigits_path() -> Path | None:
    """``$DIGITPAD_PENDIGITS`` when set, else the shared copy beside the checkout, else None."""
    env = os.environ.get(PENDIGITS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    path = Path(__file__).resolve().parent.parent.parent / SHARED_PENDIGITS
    return path if path.is_file() else None


# --------------------------------------------------------------------------- parsing


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: the gzip data is corrupt or truncated ({exc}).") from None
    elif path.suffix == ".gz":
        raise DataError(f"{path}: the name ends in .gz but the file is not gzip-compressed.")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UNIPEN text file (it holds binary data).") from None


class _Parser:
    """Line-by-line UNIPEN reader; every complaint names the file and the line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digits: list[PenDigit] = []
        self.label: int | None = None  # of the digit being read
        self.writer: int | None = None
        self.strokes: list[np.ndarray] = []
        self.points: list[str] | None = None  # lines of the open stroke, None outside .PEN_DOWN

    def fail(self, lineno: int, problem: str) -> DataError:
        return DataError(f"{self.path}, line {lineno}: {problem}")

    def parse(self, text: str) -> list[PenDigit]:
        for lineno, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped[0] == ".":
                self.command(lineno, stripped)
            elif self.points is not None:
                self.points.append(stripped)
            else:
                self.fail_outside(lineno)
        self.finish_digit(len(text.splitlines()))
        if not self.digits:
            raise DataError(f"{self.path}: no digits found (no '.SEGMENT DIGIT' entries); is it a UNIPEN file?")
        return self.digits

    def fail_outside(self, lineno: int) -> None:
        raise self.fail(lineno, "coordinates outside a .PEN_DOWN ... .PEN_UP stroke")

    def command(self, lineno: int, line: str) -> None:
        keyword, _, rest = line.partition(" ")
        if keyword == ".SEGMENT":
            self.finish_digit(lineno)
            fields = rest.split()
            if len(fields) < 4 or fields[0] != "DIGIT":
                raise self.fail(lineno, f"expected '.SEGMENT DIGIT <n> ? \"<label>\"', got {line!r}")
            self.label = self.parse_label(lineno, fields[-1].strip('"'))
            self.writer = None
        elif keyword == ".COMMENT" and self.label is not None:
            fields = rest.split()
            if len(fields) < 2 or not fields[1].isdigit():
                raise self.fail(lineno, f"expected '.COMMENT <label> <writer> <n_points>', got {line!r}")
            if self.parse_label(lineno, fields[0]) != self.label:
                raise self.fail(lineno, f"label {fields[0]} disagrees with the segment's label {self.label}")
            self.writer = int(fields[1])
        elif keyword == ".PEN_DOWN":
            if self.label is None:
                raise self.fail(lineno, ".PEN_DOWN before any .SEGMENT DIGIT")
            self.points = []
        elif keyword == ".PEN_UP":
            if self.points is None:
                raise self.fail(lineno, ".PEN_UP without .PEN_DOWN")
            self.strokes.append(self.parse_points(lineno, self.points))
            self.points = None

    def parse_label(self, lineno: int, text: str) -> int:
        if len(text) != 1 or not text.isdigit():
            raise self.fail(lineno, f"label {text!r} is not a digit 0-9")
        return int(text)

    def parse_points(self, lineno: int, lines: list[str]) -> np.ndarray:
        try:
            values = np.array(" ".join(lines).split(), dtype=np.float64)
        except ValueError:
            raise self.fail(lineno, "a stroke holds something other than numbers") from None
        if values.size == 0 or values.size % 2:
            raise self.fail(lineno, "a stroke needs 'x y' pairs of numbers")
        return values.reshape(-1, 2)

    def finish_digit(self, lineno: int) -> None:
        if self.points is not None:
            raise self.fail(lineno, "a stroke is not closed by .PEN_UP")
        if self.label is None:
            return
        if self.writer is None:
            raise self.fail(lineno, "the digit before this line has no '.COMMENT <label> <writer> ...' line")
        if not self.strokes:
            raise self.fail(lineno, "the digit before this line has no strokes")
        self.digits.append(PenDigit(self.label, self.writer, _flip_y(self.strokes)))
        self.label, self.writer, self.strokes = None, None, []


def _flip_y(strokes: list[np.ndarray]) -> list[np.ndarray]:
    # y' = max_y - y: the tablet's y points up, the screen's down; the digit's top lands at y = 0.
    max_y = max(float(s[:, 1].max()) for s in strokes)
    flipped = []
    for s in strokes:
        s = s.copy()
        s[:, 1] = max_y - s[:, 1]
        flipped.append(s)
    return flipped


@functools.lru_cache(maxsize=2)
def _load_cached(resolved: str, mtime_ns: int, size: int) -> tuple[PenDigit, ...]:
    # Keyed by path, mtime and size so a replaced file is read again.
    path = Path(resolved)
    return tuple(_Parser(path).parse(_read_text(path)))


def load_pendigits(path: str | os.PathLike | None = None) -> list[PenDigit]:
    """All digits of a UNIPEN file (gzip or plain), in file order; DataError on a bad file.

    ``None`` means ``default_pendigits_path()``. Parsed once per process; each call returns
    fresh copies, so callers may modify what they get.
    """
    if path is None:
        path = default_pendigits_path()
        if path is None:
            raise DataError(f"pen digits not found: set {PENDIGITS_ENV} to the pendigits-orig.tra(.gz) file.")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (the pen digits, pendigits-orig.tra.gz, are needed here).")
    stat = path.stat()
    digits = _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return [PenDigit(d.label, d.writer, [s.copy() for s in d.strokes]) for d in digits]


def split_by_writer(
    digits: Iterable[PenDigit], heldout: Sequence[int] = HELDOUT_WRITERS, reserved: Sequence[int] = FINAL_WRITERS
) -> tuple[list[PenDigit], list[PenDigit]]:
    """(training writers' digits, the ``heldout`` writers' digits), each in input order.

    The ``reserved`` writers (the final group) are in neither list unless ``heldout`` names them.
    """
    held = set(heldout)
    skipped = set(reserved) - held
    train: list[PenDigit] = []
    test: list[PenDigit] = []
    for digit in digits:
        if digit.writer in held:
            test.append(digit)
        elif digit.writer not in skipped:
            train.append(digit)
    return train, test


# --------------------------------------------------------------------------- placing on a canvas


def place_on_canvas(
    strokes: Sequence[np.ndarray],
    canvas_size: int = CANVAS_SIZE,
    height_frac: float = DEFAULT_HEIGHT_FRAC,
    center: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """The strokes as a person would draw them on a ``canvas_size`` square canvas.

    The digit is scaled, keeping its aspect ratio, so its height is ``height_frac`` of the canvas
    (less if it would then be wider than the canvas). Its bounding box is centred on ``center``
    when given, at a random position drawn with ``rng`` when given, else in the middle; in every
    case the whole digit stays inside the canvas.
    """
    pts = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    width, height = hi - lo
    target_h = height_frac * canvas_size
    max_w = MAX_WIDTH_FRAC * canvas_size
    if height > MIN_EXTENT:
        scale = target_h / height
        if width * scale > max_w:
            scale = max_w / width
    else:  # a flat stroke (a dash): size it by its width instead
        scale = min(target_h, max_w) / max(width, MIN_EXTENT)
    size = np.array([width, height]) * scale
    # Where the bounding box's centre may go so that the box stays inside the canvas.
    low, high = size / 2, canvas_size - size / 2
    if center is not None:
        mid = np.asarray(center, dtype=np.float64)
    elif rng is not None:
        mid = rng.uniform(low, high)
    else:
        mid = np.full(2, canvas_size / 2.0)
    mid = np.clip(mid, low, high)
    origin = (lo + hi) / 2
    return [(np.asarray(s, dtype=np.float64).reshape(-1, 2) - origin) * scale + mid for s in strokes]


def random_placement(
    strokes: Sequence[np.ndarray],
    rng: np.random.Generator,
    canvas_size: int = CANVAS_SIZE,
    min_frac: float = 0.35,
    max_frac: float = 0.80,
) -> list[np.ndarray]:
    """The strokes at a random size (height ``min_frac``-``max_frac`` of the canvas) and position."""
    height_frac = rng.uniform(min_frac, max_frac)
    return place_on_canvas(strokes, canvas_size, height_frac, rng=rng)


def render_split(
    digits: Sequence[PenDigit], rng: np.random.Generator, copies: int = 1, transform: StrokeTransform | None = None
) -> Split:
    """Render each digit ``copies`` times at random canvas placements into 28x28 uint8 images.

    Rendering goes through ``trainer.preprocess.strokes_to_mnist``, the canvas's own path, so the
    images look exactly like what the app feeds a model. Returned in order: all digits for the
    first copy, then the second, and so on. ``transform(strokes, rng)``, when given, redraws each
    copy's strokes first (trainer.strokeaug.augment_strokes).
    """
    # Imported here: the rasterizer needs PIL, which parsing and placing digits do not.
    from trainer.preprocess import strokes_to_mnist

    images, labels = [], []
    for _ in range(copies):
        for digit in digits:
            try:
                strokes = digit.strokes if transform is None else transform(digit.strokes, rng)
                img = strokes_to_mnist(random_placement(strokes, rng))
            except NothingDrawnError:
                continue  # cannot happen for a parsed digit (it has points); never let one stop training
            images.append(np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8))
            labels.append(digit.label)
    if not images:
        return Split(torch.zeros((0, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8), torch.zeros(0, dtype=torch.int64))
    return Split(torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64))

"""What is on the paper, without Qt: strokes in paper units, a shown picture, and a bounded undo history.

The canvas widget captures input and paints; this object decides what the drawing is. Points are
in paper units (`PAPER_SIZE` tall, y down; `width` wide, PAPER_SIZE unless the view widens it), so the drawing
never depends on the widget's size.

The history is bounded so that a day of drawing does not grow memory: at most `MAX_UNDO` steps
are kept, and at most `MAX_HISTORY_PICTURES` pictures (a picture is megabytes, a stroke a few
hundred bytes). The oldest steps go first; what is on the paper is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from trainer.sizes import PAPER_SIZE

DEFAULT_PEN_WIDTH = 0.045    # ink width as a fraction of the paper side (the look only: recognition reads centre lines)
MIN_PEN_WIDTH, MAX_PEN_WIDTH = 0.01, 0.12
MAX_UNDO = 200               # undo steps kept (strokes, clears, pictures)
MAX_HISTORY_PICTURES = 4     # pictures referenced by the undo/redo history at most


def paper_layout(avail_w: float, avail_h: float, max_ratio: float, content_right: float) -> tuple[float, float]:
    """(view px per paper unit, paper width in units) for a paper shown in an avail_w x avail_h area.

    As tall as fits (the height alone sets the scale, so x 0..PAPER_SIZE is the same square at any width),
    as wide as the area allows up to `max_ratio` heights, and never narrower than `content_right`, what is
    drawn: drawn on a wide paper, then the area narrowed, everything stays in view at a smaller scale.
    """
    avail_w, avail_h = max(1.0, avail_w), max(1.0, avail_h)
    scale = min(avail_w, avail_h) / PAPER_SIZE
    units = min(max_ratio * PAPER_SIZE, avail_w / scale)
    if content_right > units:
        units = min(content_right, max_ratio * PAPER_SIZE)
        scale = min(scale, avail_w / units)
    return scale, max(units, PAPER_SIZE)


@dataclass
class Stroke:
    """One pen-down-to-pen-up line: points in paper units and a width factor per point (pressure)."""

    points: list[tuple[float, float]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)

    @property
    def uniform(self) -> bool:
        return not self.widths or min(self.widths) == max(self.widths)


@dataclass(frozen=True)
class ShownImage:
    """A picture on the paper: what the canvas paints and the source handed to the recognizer."""

    picture: object          # what the view paints (a QImage in the app); opaque here
    source: str | np.ndarray  # a file path, or an (H, W, 4) uint8 RGBA array


@dataclass(frozen=True)
class _Reset:
    """Undo record of a clear, or of a picture replacing the drawing."""

    old_strokes: tuple[Stroke, ...]
    old_image: ShownImage | None
    new_image: ShownImage | None

    def pictures(self) -> list[ShownImage]:
        return [i for i in (self.old_image, self.new_image) if i is not None]


_Record = Union[Stroke, _Reset]


class Drawing:
    """The strokes and picture on the paper, a stroke in progress, and undo/redo.

    Methods that change what is committed return True when they did, so the view knows to repaint
    and to tell its listeners.
    """

    def __init__(self, max_undo: int = MAX_UNDO, max_pictures: int = MAX_HISTORY_PICTURES,
                 width: float = PAPER_SIZE) -> None:
        # The paper is PAPER_SIZE tall and `width` wide (a wider sheet holds a number); points are clamped to it.
        self.width = float(width)
        self._strokes: list[Stroke] = []
        self._current: Stroke | None = None
        self._image: ShownImage | None = None
        self._undo: list[_Record] = []
        self._redo: list[_Record] = []
        self._max_undo = max_undo
        self._max_pictures = max_pictures

    # ------------------------------------------------------------------ reading

    @property
    def finished(self) -> tuple[Stroke, ...]:
        """The committed strokes, oldest first."""
        return tuple(self._strokes)

    @property
    def current(self) -> Stroke | None:
        """The stroke being drawn (pen still down), if any."""
        return self._current

    @property
    def image(self) -> ShownImage | None:
        """The picture on the paper, if one was opened and not drawn over."""
        return self._image

    def strokes(self) -> list[np.ndarray]:
        """The drawing, including a stroke in progress: (n, 2) float arrays in paper units, y down."""
        lines = [s.points for s in self._strokes]
        if self._current is not None and self._current.points:
            lines.append(self._current.points)
        return [np.asarray(pts, dtype=np.float64).reshape(-1, 2) for pts in lines]

    def right_edge(self) -> float:
        """The largest x of the committed strokes (0 when there are none): the paper must be at least this wide."""
        return max((x for s in self._strokes for x, _ in s.points), default=0.0)

    def is_empty(self) -> bool:
        return not self._strokes and self._current is None and self._image is None

    def is_drawing(self) -> bool:
        return self._current is not None

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def history_size(self) -> tuple[int, int]:
        """(undo steps, redo steps) kept now."""
        return len(self._undo), len(self._redo)

    # ------------------------------------------------------------------ the pen

    def begin(self, x: float, y: float, width: float = 1.0) -> None:
        """Pen down. Drawing over a picture starts a fresh drawing (undo brings the picture back)."""
        if self._image is not None:
            self._reset(None)
        self._current = Stroke()
        self._add(x, y, width)

    def extend(self, x: float, y: float, width: float = 1.0, min_step: float = 0.0) -> bool:
        """Pen moved; False (nothing added) without a stroke or when closer than `min_step` to the last point."""
        stroke = self._current
        if stroke is None:
            return False
        if stroke.points:
            lx, ly = stroke.points[-1]
            if (x - lx) ** 2 + (y - ly) ** 2 < min_step**2:
                return False
        self._add(x, y, width)
        return True

    def end(self) -> bool:
        """Pen up: the stroke becomes part of the drawing (undoable). False without a stroke."""
        stroke, self._current = self._current, None
        if stroke is None:
            return False
        self._strokes.append(stroke)
        self._push(stroke)
        return True

    def cancel(self) -> bool:
        """Drop the stroke in progress (a touch was cancelled); True if there was one."""
        had, self._current = self._current is not None, None
        return had

    def _add(self, x: float, y: float, width: float) -> None:
        x = min(max(float(x), 0.0), self.width)
        y = min(max(float(y), 0.0), PAPER_SIZE)
        self._current.points.append((x, y))
        self._current.widths.append(float(width))

    # ------------------------------------------------------------------ editing

    def undo(self) -> bool:
        """Take back the last stroke, clear or picture; False when there is nothing to undo."""
        if self._current is not None or not self._undo:
            return False
        record = self._undo.pop()
        if isinstance(record, Stroke):
            self._strokes.pop()
        else:
            self._strokes, self._image = list(record.old_strokes), record.old_image
        self._redo.append(record)
        return True

    def redo(self) -> bool:
        """Put back what the last undo took away; False when there is nothing to redo."""
        if self._current is not None or not self._redo:
            return False
        record = self._redo.pop()
        if isinstance(record, Stroke):
            self._strokes.append(record)
        else:
            self._strokes, self._image = [], record.new_image
        self._undo.append(record)
        return True

    def clear(self) -> bool:
        """Wipe the paper (undoable), a stroke in progress included; True if anything was there."""
        drawing = self.cancel()
        if not self._strokes and self._image is None:
            return drawing  # only an unfinished stroke was there: gone, with nothing to undo
        self._reset(None)
        return True

    def set_image(self, picture: object, source: str | np.ndarray) -> None:
        """Show a picture instead of the drawing (undoable)."""
        self._current = None
        self._reset(ShownImage(picture, source))

    def _reset(self, new_image: ShownImage | None) -> None:
        record = _Reset(tuple(self._strokes), self._image, new_image)
        self._strokes, self._image = [], new_image
        self._push(record)

    def _push(self, record: _Record) -> None:
        """Record a new step: the redo branch is gone, and the oldest steps go beyond the bounds."""
        self._undo.append(record)
        self._redo.clear()
        del self._undo[: max(0, len(self._undo) - self._max_undo)]
        while self._history_pictures() > self._max_pictures and self._undo:
            self._undo.pop(0)

    def _history_pictures(self) -> int:
        """Distinct pictures the history keeps alive, besides the one on the paper."""
        seen = {id(i) for r in self._undo if isinstance(r, _Reset) for i in r.pictures()}
        if self._image is not None:
            seen.discard(id(self._image))
        return len(seen)

"""Read a number drawn as strokes: the pieces are the strokes, in writing order."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from digitpad.numbers.candidates import MAX_PIECES, Candidate, stroke_boxes
from digitpad.numbers.reading import NumberReading
from digitpad.numbers.segment import CandidateTable, read_pieces
from digitpad.recognizer import Recognizer
from trainer.errors import NothingDrawnError
from trainer.preprocess import Strokes, strokes_to_mnist


def clean_strokes(strokes: Strokes) -> tuple[list[np.ndarray], list[int]]:
    """The strokes with finite points, as (n, 2) arrays, and their indices in the input (empty ones dropped)."""
    lines, ids = [], []
    for index, stroke in enumerate(strokes):
        pts = np.asarray(stroke, dtype=np.float64).reshape(-1, 2) if len(stroke) else np.empty((0, 2))
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts):
            lines.append(pts)
            ids.append(index)
    return lines, ids


def read_strokes(rec: Recognizer, strokes: Strokes,
                 judge: Callable[[CandidateTable], np.ndarray] | None = None) -> NumberReading:
    """Segment strokes (any units, y down) into digits and read them; NothingDrawnError when there is no ink."""
    lines, ids = clean_strokes(strokes)
    if not lines:
        raise NothingDrawnError("nothing drawn")

    def render(cand: Candidate) -> np.ndarray:
        return strokes_to_mnist(lines[cand.start : cand.stop])

    return read_pieces(rec, stroke_boxes(lines), render, MAX_PIECES, judge, piece_ids=ids)

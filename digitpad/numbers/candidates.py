"""Candidate digits: runs of consecutive pieces (strokes in writing order, or image components left to right).

One digit's strokes are almost always written one after another, so a digit is a run of consecutive
pieces; the dynamic program (segment.py) picks the runs. A stroke that may be cut (cuts.py) is several
consecutive pieces with one owner, the stroke: a run is limited by how many owners it touches, and a
run that ends or starts inside a stroke is a cut. Each candidate gets geometric features that
say how much it looks like one whole digit next to its neighbours, measured in units of the number's
typical digit height, so neither the paper's size nor the writing's size matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digitpad.numbers.links import CROSSES, DISTANCE

MAX_PIECES = 3        # a digit is at most this many strokes (7,494 pen digits: 9 of 3 strokes, none of more)
# Candidates of several pieces wider than MAX_WIDTH digit heights, or with a horizontal gap of more than
# MAX_INNER_GAP between their own pieces, are not read at all: no training writer's digit comes near
# (widest 1.96 heights, widest gap 0.25); one piece is always read, so every drawing stays covered.
MAX_WIDTH = 2.2
MAX_INNER_GAP = 0.5
NO_NEIGHBOUR_GAP = 1.0  # signed gap (digit heights) recorded when a candidate has no neighbour on that side
GAP_CLIP = 1.0        # signed gaps are clipped to +-GAP_CLIP digit heights: further away says nothing more
MIN_REF = 1e-6        # a drawing with no height and no width (one dot) is measured in these units

# Names of the columns of candidate_features(), in order (the "one digit" model stores them to check).
GEOMETRY_FEATURES = (
    "height", "width", "log_aspect", "pieces", "gap_prev", "gap_next", "contain_prev", "contain_next",
    "inner_gap", "first", "last", "cut_start", "cut_end",
    "ink_prev", "ink_next", "cross_prev", "cross_next", "inner_ink", "inner_cross",
    "top_prev", "bottom_prev", "top_next", "bottom_next",
)


@dataclass(frozen=True)
class Candidate:
    """Pieces start..stop-1 (in piece order) taken as one digit."""

    start: int
    stop: int

    @property
    def pieces(self) -> range:
        return range(self.start, self.stop)


def stroke_boxes(strokes: Sequence[np.ndarray]) -> np.ndarray:
    """(n, 4) boxes (left, top, right, bottom) of (m, 2) point arrays."""
    return np.array([[*s.min(axis=0), *s.max(axis=0)] for s in strokes], dtype=np.float64).reshape(-1, 4)


def enumerate_candidates(count: int, max_pieces: int = MAX_PIECES, owner: np.ndarray | None = None) -> list[Candidate]:
    """Every run of consecutive pieces out of `count` touching 1..max_pieces owners, ordered by where it ends.

    `owner[i]`: the stroke piece i is part of, non-decreasing (default: every piece is its own owner).
    """
    own = owners_of(count, owner)
    return [Candidate(start, stop) for stop in range(1, count + 1) for start in range(stop)
            if own[stop - 1] - own[start] < max_pieces]


def owners_of(count: int, owner: np.ndarray | None) -> np.ndarray:
    """The owner of each piece (default: each piece its own)."""
    return np.arange(count) if owner is None else np.asarray(owner)


def reference_height(boxes: np.ndarray) -> float:
    """The number's typical digit height: the median height of the clusters of x-overlapping pieces.

    Clusters stand in for digits before any digit is known: spaced digits are one cluster each, touching
    ones merge sideways but keep a digit's height. A drawing with no height (a dash) is measured by its width.
    """
    order = np.argsort(boxes[:, 0], kind="stable")
    heights, top, bottom, right = [], np.inf, -np.inf, -np.inf
    for left_, top_, right_, bottom_ in boxes[order]:
        if left_ > right and np.isfinite(right):
            heights.append(bottom - top)
            top, bottom = np.inf, -np.inf
        top, bottom, right = min(top, top_), max(bottom, bottom_), max(right, right_)
    heights.append(bottom - top)
    ref = float(np.median(heights))
    if ref <= MIN_REF:
        ref = float(np.ptp(boxes[:, [0, 2]]))
    return max(ref, MIN_REF)


def union_box(boxes: np.ndarray) -> np.ndarray:
    return np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])


def candidate_features(boxes: np.ndarray, candidates: Sequence[Candidate], ref: float,
                       owner: np.ndarray | None = None, *, links: np.ndarray) -> np.ndarray:
    """(len(candidates), len(GEOMETRY_FEATURES)) float64: each candidate's shape and its neighbours' distance.

    "pieces" counts the owners (strokes) a candidate touches; cut_start / cut_end: it begins / ends inside a stroke.
    `links`: how piece i's ink meets piece i + 1's (links.py), in digit heights (the "one digit" model was
    trained on these, so there is no guess from boxes). ink_* / cross_*: the link to the neighbour before /
    after; inner_ink: the widest
    link inside the candidate, inner_cross: whether any link inside it crosses.
    """
    out = np.empty((len(candidates), len(GEOMETRY_FEATURES)))
    count = len(boxes)
    own = owners_of(count, owner)
    ink = np.clip(links[:, DISTANCE], 0.0, GAP_CLIP)
    crossing = links[:, CROSSES]
    for row, cand in enumerate(candidates):
        box = union_box(boxes[cand.start : cand.stop])
        width, height = (box[2] - box[0]) / ref, (box[3] - box[1]) / ref
        gap_prev, contain_prev = _neighbour(box, boxes[cand.start - 1], ref) if cand.start > 0 else (NO_NEIGHBOUR_GAP, 0)
        gap_next, contain_next = _neighbour(box, boxes[cand.stop], ref) if cand.stop < count else (NO_NEIGHBOUR_GAP, 0)
        cut_start = cand.start > 0 and own[cand.start] == own[cand.start - 1]
        cut_end = cand.stop < count and own[cand.stop] == own[cand.stop - 1]
        out[row] = (
            height, width, np.log((width + 0.05) / (height + 0.05)), own[cand.stop - 1] - own[cand.start] + 1,
            gap_prev, gap_next, contain_prev, contain_next, _inner_gap(boxes[cand.start : cand.stop]) / ref,
            cand.start == 0, cand.stop == count, cut_start, cut_end,
            *_link_features(ink, crossing, cand, count),
            *(_level(box, boxes[cand.start - 1], ref) if cand.start > 0 else (0.0, 0.0)),
            *(_level(box, boxes[cand.stop], ref) if cand.stop < count else (0.0, 0.0)),
        )
    return out


def _link_features(ink: np.ndarray, crossing: np.ndarray, cand: Candidate, count: int) -> tuple[float, ...]:
    """(ink_prev, ink_next, cross_prev, cross_next, inner_ink, inner_cross) of one candidate."""
    before, after = cand.start - 1, cand.stop - 1   # link k joins pieces k and k + 1
    inner = slice(cand.start, cand.stop - 1)
    return (
        ink[before] if before >= 0 else NO_NEIGHBOUR_GAP, ink[after] if cand.stop < count else NO_NEIGHBOUR_GAP,
        crossing[before] if before >= 0 else 0.0, crossing[after] if cand.stop < count else 0.0,
        float(ink[inner].max(initial=0.0)), float(crossing[inner].max(initial=0.0)),
    )


def plausible(candidates: Sequence[Candidate], geometry: np.ndarray) -> np.ndarray:
    """Boolean mask of the candidates worth reading (see MAX_WIDTH, MAX_INNER_GAP)."""
    width = geometry[:, GEOMETRY_FEATURES.index("width")]
    inner = geometry[:, GEOMETRY_FEATURES.index("inner_gap")]
    single = np.array([c.stop - c.start == 1 for c in candidates], dtype=bool)
    return single | ((width <= MAX_WIDTH) & (inner <= MAX_INNER_GAP))


def _neighbour(box: np.ndarray, other: np.ndarray, ref: float) -> tuple[float, float]:
    """(signed horizontal gap in digit heights, negative = overlap; share of the narrower box's width overlapped)."""
    gap = max(box[0], other[0]) - min(box[2], other[2])
    narrower = min(box[2] - box[0], other[2] - other[0])
    contained = min(1.0, max(0.0, -gap) / narrower) if narrower > 0 else float(gap <= 0)
    return _clipped(gap / ref), contained


def _level(box: np.ndarray, other: np.ndarray, ref: float) -> tuple[float, float]:
    """(top, bottom) of box minus other's, in digit heights, clipped to +-GAP_CLIP (y down: positive = lower)."""
    return _clipped((box[1] - other[1]) / ref), _clipped((box[3] - other[3]) / ref)


def _clipped(value: float) -> float:
    """value clipped to +-GAP_CLIP (plain floats: np.clip on one number costs more than the rest of a feature)."""
    return float(max(-GAP_CLIP, min(GAP_CLIP, value)))


def _inner_gap(boxes: np.ndarray) -> float:
    """The widest horizontal gap between a candidate's own pieces (0 when their x-extents chain together)."""
    if len(boxes) < 2:
        return 0.0
    order = np.argsort(boxes[:, 0], kind="stable")
    widest, right = 0.0, boxes[order[0], 2]
    for left_, _, right_, _ in boxes[order[1:]]:
        widest = max(widest, left_ - right)
        right = max(right, right_)
    return float(widest)

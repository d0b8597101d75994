"""Where a stroke may be cut in two: two digits written without lifting the pen.

When the pen runs on from one digit into the next, the part before the join lies (almost) entirely to
the left of the part after it. So a cut at point c is proposed where the separation

    min(x of points c..) - max(x of points ..c-1)

is near or above zero, and both parts are big enough to hold (part of) a digit. Inside one digit the
pen goes back left (a 2's base under its arc, a 7's slant under its bar), so the separation is clearly
negative almost everywhere. Where it is high along a run of points (the connecting line, but also the
start of the next digit's first line when that heads right), the run's first point, its last point and
its sharpest turn (where the connecting line meets a digit) are proposed. The proposals are only
candidates: recognition and the "one digit" model decide whether a cut is taken, and each cut taken
costs CUT_COST (segment.py) so single digits stay whole.
"""

from __future__ import annotations

import numpy as np

# Measured on numbers composed from training writers' digits with joined pairs (compose.join_pairs):
# with these values a cut inside the connecting line is proposed for 94% of 600 joins, and 18% of 2,000
# single training digits get a proposal at all (MIN_WIDTH 0.9: 87% / 8%; 0.6: 95% / 22%). A proposal
# costs a few more candidates; the "one digit" judge, which sees how the parts' ink meets, keeps the
# single digits whole (segment.CUT_COST).
MIN_WIDTH = 0.7       # strokes narrower than this many digit heights are never cut (two digits are wider)
MIN_SIDE = 0.3        # each part must be at least this tall or wide (digit heights): no cutting off a tail
SEPARATION = -0.1     # separation (digit heights) a cut needs: joined digits' boxes may overlap a little
MAX_RUNS = 2          # runs of high separation per stroke, the best-separated first (3 digits in one stroke)
TURN_SPAN = 2         # the turn at a point is measured between the points this many steps before and after
MIN_POINTS = 6        # strokes with fewer points are never cut
# Proposals closer than this along the pen path (digit heights) are one: the sharpest turn is kept. On
# training writers' tight 4-digit numbers this cut the candidates read per number from 17.8 to 15.6 on
# average and from 37 to 28 at the 95th percentile, with joined pairs cut right 92.3 -> 91.7% of 300.
MERGE = 0.2
# without_connector: measured on TRAINING writers' joined pairs split right (609 of 700, half reshaped):
# both digits read right 90.5% as cut, 98.2% with the connector dropped (20 degrees / 0.6 heights;
# 15 degrees: 98.4%, 0.45 heights: 98.0%); 7 digits read worse, 53 better.
CONNECTOR_TURN = 0.35    # radians: the connecting run ends where the pen turns more than this
CONNECTOR_LENGTH = 0.6   # digit heights: at most this much is dropped


def cut_points(line: np.ndarray, ref: float) -> list[int]:
    """Sorted point indices c (0 < c < len(line)) where `line` may be cut into line[:c] and line[c:]."""
    n = len(line)
    if n < MIN_POINTS or np.ptp(line[:, 0]) < MIN_WIDTH * ref:
        return []
    x = line[:, 0]
    # index j stands for the cut c = j + 1: part one is points 0..j, part two j+1..n-1
    separation = (np.minimum.accumulate(x[::-1])[::-1][1:] - np.maximum.accumulate(x)[:-1]) / ref
    valid = (separation >= SEPARATION) & (_extent(line)[:-1] >= MIN_SIDE * ref) \
        & (_extent(line[::-1])[::-1][1:] >= MIN_SIDE * ref)
    runs = sorted(_runs(valid), key=lambda run: -separation[run].max())[:MAX_RUNS]
    turn = _turn(line)
    along = np.concatenate(([0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1)))) / ref
    cuts: list[int] = []
    for run in runs:
        at = run + 1
        for c in (int(at[np.argmax(turn[at])]), int(at[0]), int(at[-1])):  # the sharpest turn first
            if all(abs(along[c] - along[k]) >= MERGE for k in cuts):
                cuts.append(c)
    return sorted(cuts)


def without_connector(line: np.ndarray, at_start: bool, ref: float) -> np.ndarray:
    """A digit's line with the pen's connecting stroke at its cut end taken off, for reading it.

    Cut out of a joined stroke, a digit keeps its share of the line that ran on into its neighbour; the
    ten-class models read that tail as part of the digit (a 3 with a tail reads 5 or 9). The straight run
    from the cut (direction within CONNECTOR_TURN of its first step, at most CONNECTOR_LENGTH digit heights)
    is dropped; at least three points always stay. `at_start`: the cut is at the line's start, else its end.
    """
    pts = line if at_start else line[::-1]
    steps = np.diff(pts, axis=0)
    lengths = np.linalg.norm(steps, axis=1)
    if len(pts) < 4 or lengths[0] <= 0:
        return line
    heading = steps / np.maximum(lengths, 1e-12)[:, None]
    straight = heading @ heading[0] > np.cos(CONNECTOR_TURN)
    within = np.cumsum(lengths) <= CONNECTOR_LENGTH * ref
    run = int(np.argmin(straight & within)) if not (straight & within).all() else len(steps)
    kept = pts[min(run, len(pts) - 3):]
    return kept if at_start else kept[::-1]


def _turn(line: np.ndarray) -> np.ndarray:
    """(n,) 1 - cos of the angle the pen turns at each point (0 straight on, 2 straight back)."""
    index = np.arange(len(line))
    before = line - line[np.maximum(index - TURN_SPAN, 0)]
    after = line[np.minimum(index + TURN_SPAN, len(line) - 1)] - line
    norms = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1)
    cos = np.where(norms > 0, (before * after).sum(axis=1) / np.maximum(norms, 1e-300), 1.0)
    return 1.0 - cos


def _extent(line: np.ndarray) -> np.ndarray:
    """(n,) the larger side of the box of points 0..i, for each i."""
    lo = np.minimum.accumulate(line, axis=0)
    hi = np.maximum.accumulate(line, axis=0)
    return (hi - lo).max(axis=1)


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the maximal runs of True in `mask`."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [np.arange(start, stop) for start, stop in zip(edges[::2], edges[1::2], strict=True)]

"""A drawing's pen path as a fixed-size sequence: the input of the trajectory models (trainer.models.PenSeq).

The same strokes `trainer.preprocess.strokes_to_mnist` rasterizes (a list of (n, 2) arrays, any units,
y down) become TRAJECTORY_FEATURES x points numbers:

- the whole pen path, pen-up jumps between strokes included, is resampled by arc length to `points`
  evenly spaced points, so a fast and a slow pen, a dense and a sparse tablet give the same sequence;
- positions are centred on the bounding box and divided by its larger side (aspect kept), so where
  and how big a digit is drawn does not matter; a dot or a flat dash keeps its shape (no blow-up);
- features per point: x, y, the step to the next point (dx, dy, times `points` so they are O(1)),
  and 1.0 where the pen is up (between two strokes), else 0.0.

The input is checked exactly as the rasterizer checks it (points with NaN/inf dropped; too many points
or huge coordinates refused with a DataError), so both views of a drawing accept the same strokes.
Pure numpy, no torch; about 0.05 ms for a digit of 100 points.
"""

from __future__ import annotations

import numpy as np

from trainer.errors import NothingDrawnError
from trainer.preprocess import DOT_EXTENT, Strokes, clean_strokes

DEFAULT_POINTS = 64  # resampled points along the pen path: a digit's path has 1-4 strokes and ~4 turns
TRAJECTORY_FEATURES = 5  # x, y, dx, dy, pen up
FEATURE_NAMES = ("x", "y", "dx", "dy", "pen_up")
MIN_POINTS, MAX_POINTS = 8, 1024  # what a model may ask for (checked again in trainer.checkpoint)


def trajectory_features(strokes: Strokes, points: int = DEFAULT_POINTS) -> np.ndarray:
    """(TRAJECTORY_FEATURES, points) float32 features of a drawing; NothingDrawnError when it has no points.

    Deterministic; invariant to translation and scale of the drawing (up to float rounding).
    """
    if not MIN_POINTS <= int(points) <= MAX_POINTS:
        raise ValueError(f"points must be from {MIN_POINTS} to {MAX_POINTS}, got {points!r}")
    lines = clean_strokes(strokes)  # DataError for bad input, before any work
    if not lines:
        raise NothingDrawnError("nothing drawn")
    path, up = _pen_path(lines)
    xy, pen_up = _resample(path, up, int(points))
    steps = np.diff(xy, axis=0, append=xy[-1:]) * points
    out = np.concatenate([xy.T, steps.T, pen_up[None, :]]).astype(np.float32)
    return out


def _pen_path(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All points in drawing order, normalized (centred, larger side 1), and for each segment between
    consecutive points whether the pen was up along it (a jump to the next stroke)."""
    path = np.concatenate(lines)
    lo, hi = path.min(axis=0), path.max(axis=0)
    side = float((hi - lo).max())
    path = (path - (lo + hi) / 2) / (side if side > DOT_EXTENT else 1.0)
    up = np.zeros(len(path) - 1, dtype=bool)
    ends = np.cumsum([len(s) for s in lines])[:-1]  # index of each later stroke's first point
    up[ends - 1] = True  # the segment from a stroke's last point to the next stroke's first
    return path, up


def _resample(path: np.ndarray, up: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points evenly spaced along the path's arc length, and the pen-up flag of the segment each lies on."""
    if len(path) == 1:
        return np.repeat(path, n, axis=0), np.zeros(n)
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] <= DOT_EXTENT:  # repeated points of one dot
        return np.repeat(path[:1], n, axis=0), np.zeros(n)
    s = np.linspace(0.0, arc[-1], n)
    xy = np.stack([np.interp(s, arc, path[:, 0]), np.interp(s, arc, path[:, 1])], axis=1)
    # the segment each sample falls in; zero-length segments never hold one (searchsorted skips them)
    index = np.clip(np.searchsorted(arc, s, side="right") - 1, 0, len(seg) - 1)
    return xy, up[index].astype(np.float64)

"""How consecutive pieces' ink meets: the closest distance between them, and whether their lines cross.

Boxes alone cannot tell a 4 from a "6 1": the 4's bar-and-downstroke pair overlaps sideways as much as
two tightly written digits do. The ink can: a 4's second stroke crosses its first, a 5's flag nearly
touches its body, while neighbouring digits seldom cross and mostly keep apart. Lines are thinned to at
most MAX_SEGMENTS segments first, so the cost is bounded whatever the pen sampled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_SEGMENTS = 48      # each line is thinned to at most this many segments (keeps both ends)
# Columns of a links array (one row per pair of consecutive pieces, piece i and i + 1)
DISTANCE, CROSSES = 0, 1


def thinned(line: np.ndarray, most: int = MAX_SEGMENTS) -> np.ndarray:
    """The line's points, evenly strided to at most `most` + 1 points, first and last kept."""
    if len(line) <= most + 1:
        return line
    return line[np.unique(np.linspace(0, len(line) - 1, most + 1).round().astype(int))]


def crosses(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether polyline a properly crosses polyline b (touching at an end point does not count)."""
    if len(a) < 2 or len(b) < 2:
        return False
    p, r = a[:-1, None, :], (a[1:] - a[:-1])[:, None, :]
    q, s = b[None, :-1, :], (b[1:] - b[:-1])[None, :, :]

    def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    d1, d2 = cross(r, q - p), cross(r, q + s - p)     # b's segment ends on either side of a's segment ...
    d3, d4 = cross(s, p - q), cross(s, p + r - q)     # ... and a's ends on either side of b's
    return bool(np.any((d1 * d2 < 0) & (d3 * d4 < 0)))


def closest(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest distance between polylines a and b (0 when they cross); a single point is a line too."""
    return 0.0 if crosses(a, b) else _apart(a, b)


def _apart(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest distance between polylines that do not cross: from a point of one to a segment of the other."""
    return min(_to_segments(a, b), _to_segments(b, a))


def _to_segments(points: np.ndarray, line: np.ndarray) -> float:
    """The smallest distance from any of `points` to any segment of `line`."""
    start = line[:-1] if len(line) > 1 else line
    step = (line[1:] - line[:-1]) if len(line) > 1 else np.zeros_like(line)
    rel = points[:, None, :] - start[None, :, :]                          # (points, segments, 2)
    length2 = (step**2).sum(axis=1)
    t = np.clip((rel * step[None]).sum(axis=2) / np.maximum(length2, 1e-12)[None], 0.0, 1.0)
    gap = rel - t[..., None] * step[None]
    return float(np.sqrt((gap**2).sum(axis=2).min()))


def stroke_links(lines: Sequence[np.ndarray], ref: float) -> np.ndarray:
    """(len(lines) - 1, 2) float64 for consecutive lines: (closest distance in digit heights, 1.0 if they cross)."""
    thin = [thinned(np.asarray(line, dtype=np.float64)) for line in lines]
    out = np.zeros((max(len(thin) - 1, 0), 2))
    for k in range(len(thin) - 1):
        cross = crosses(thin[k], thin[k + 1])  # once: a crossing is distance 0
        out[k] = (0.0 if cross else _apart(thin[k], thin[k + 1]) / ref), float(cross)
    return out


def point_links(points: Sequence[np.ndarray], ref: float) -> np.ndarray:
    """As stroke_links for pieces that are sets of points, not lines (an image's components): they never cross."""
    thin = [thinned(np.asarray(p, dtype=np.float64), 4 * MAX_SEGMENTS) for p in points]
    out = np.zeros((max(len(thin) - 1, 0), 2))
    for k in range(len(thin) - 1):
        diff = thin[k][:, None, :] - thin[k + 1][None, :, :]
        out[k, DISTANCE] = float(np.sqrt((diff**2).sum(axis=2).min())) / ref
    return out

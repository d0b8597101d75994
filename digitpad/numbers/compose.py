"""Numbers composed from real pen digits, laid out on the paper as a person writes them.

One writer per number; each digit scaled to a common height (+-HEIGHT_JITTER), standing on a wobbly
baseline, the next digit starting a chosen gap (in digit heights; negative = overlapping boxes) after
the previous one. The benchmark, the "one digit" model's training and the tests all compose numbers here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainer.pendigits import PenDigit
from trainer.sizes import PAPER_SIZE

SPACED = (0.08, 0.45)     # gaps between digit boxes, in digit heights: clearly apart
TIGHT = (-0.05, 0.15)     # boxes touch or overlap a little, as in quick writing
HEIGHT_RANGE = (0.3 * PAPER_SIZE, 0.6 * PAPER_SIZE)  # the number's common digit height, paper units
HEIGHT_JITTER = 0.08      # each digit's height is the common height +- this share
BASELINE_WAVE = 0.05      # the baseline swings this many digit heights up and down along the number ...
BASELINE_NOISE = 0.02     # ... plus this much (standard deviation, digit heights) per digit
MARGIN = 0.05 * PAPER_SIZE  # the number starts this far from the paper's left edge
# distorted(): new writers for the "one digit" model's training, drawn from the training writers' digits
ROTATION = 0.15           # radians, either way
SHEAR = 0.25              # x += SHEAR * y, either way
STRETCH = 0.2             # the width is multiplied by exp(+-STRETCH)
STROKE_SHIFT = 0.04       # each stroke of a many-stroke digit moves this much (standard deviation, digit heights)


@dataclass
class ComposedNumber:
    """Strokes in writing order (digit by digit), which strokes make each digit, and the digits' labels."""

    strokes: list[np.ndarray]
    groups: list[list[int]]
    labels: list[int]

    @property
    def text(self) -> str:
        return "".join(map(str, self.labels))


def compose_number(digits: Sequence[PenDigit], rng: np.random.Generator, gaps: tuple[float, float] = SPACED,
                   height: float | None = None, distort: bool = False) -> ComposedNumber:
    """Lay `digits` out left to right in paper units (y down); random sizes, baseline and gaps drawn with `rng`.

    `distort`: each digit is first reshaped by distorted(), as another person would write it.
    """
    common = rng.uniform(*HEIGHT_RANGE) if height is None else height
    phase = rng.uniform(0, 2 * np.pi)
    base = 0.5 * PAPER_SIZE + common / 2
    left = MARGIN
    strokes, groups = [], []
    for k, digit in enumerate(digits):
        target = common * rng.uniform(1 - HEIGHT_JITTER, 1 + HEIGHT_JITTER)
        placed = _scaled(distorted(digit.strokes, rng) if distort else digit.strokes, target)
        bottom = base + common * (BASELINE_WAVE * np.sin(phase + 0.9 * k) + rng.normal(0, BASELINE_NOISE))
        lo = np.concatenate(placed).min(axis=0)
        hi = np.concatenate(placed).max(axis=0)
        shift = np.array([left - lo[0], bottom - hi[1]])
        groups.append(list(range(len(strokes), len(strokes) + len(placed))))
        strokes += [s + shift for s in placed]
        left += hi[0] - lo[0] + common * rng.uniform(*gaps)
    return ComposedNumber(strokes, groups, [d.label for d in digits])


def _scaled(strokes: Sequence[np.ndarray], height: float) -> list[np.ndarray]:
    """The strokes scaled (aspect kept) to `height`; a flat digit (a dash) is scaled by its width instead."""
    pts = np.concatenate(strokes)
    extent = np.ptp(pts, axis=0)
    scale = height / (extent[1] if extent[1] > 0.2 * extent[0] else max(extent[0], 1e-6))
    return [(np.asarray(s, dtype=np.float64) - pts.min(axis=0)) * scale for s in strokes]


def distorted(strokes: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The digit slanted, rotated and stretched a little, its strokes moved apart or together a little.

    The ten-class model was trained on the training writers' digits and reads them more surely than a new
    person's; the "one digit" model learns from these reshaped digits how sure the classifier is elsewhere.
    """
    pts = np.concatenate(strokes)
    height = max(float(np.ptp(pts[:, 1])), 1e-6)
    angle = rng.uniform(-ROTATION, ROTATION)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shape = rotate @ np.array([[np.exp(rng.uniform(-STRETCH, STRETCH)), rng.uniform(-SHEAR, SHEAR)], [0.0, 1.0]])
    centre = pts.mean(axis=0)
    out = [(np.asarray(s, dtype=np.float64) - centre) @ shape.T for s in strokes]
    if len(out) > 1:
        out = [s + rng.normal(0.0, STROKE_SHIFT * height, size=2) for s in out]
    return out


def by_writer(digits: Sequence[PenDigit]) -> dict[int, list[PenDigit]]:
    """Digits grouped by their writer's id."""
    out: dict[int, list[PenDigit]] = {}
    for digit in digits:
        out.setdefault(digit.writer, []).append(digit)
    return out


def random_numbers(digits: Sequence[PenDigit], rng: np.random.Generator, count: int, length: int,
                   gaps: tuple[float, float], distort: bool = False) -> list[ComposedNumber]:
    """`count` numbers of `length` digits, each from one randomly chosen writer's digits."""
    writers = by_writer(digits)
    ids = sorted(writers)
    numbers = []
    for _ in range(count):
        own = writers[ids[rng.integers(len(ids))]]
        picks = [own[i] for i in rng.integers(len(own), size=length)]
        numbers.append(compose_number(picks, rng, gaps, distort=distort))
    return numbers

"""Numbers composed from real pen digits, laid out on the paper as a person writes them.

One writer per number; each digit scaled to a common height (+-HEIGHT_JITTER), standing on a wobbly
baseline, the next digit starting a chosen gap (in digit heights; negative = overlapping boxes) after
the previous one. The benchmark, the "one digit" model's training and the tests all compose numbers here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from trainer.pendigits import PenDigit
from trainer.sizes import PAPER_SIZE

SPACED = (0.08, 0.45)     # gaps between digit boxes, in digit heights: clearly apart
TIGHT = (-0.05, 0.15)     # boxes touch or overlap a little, as in quick writing
JOINED = (-0.05, 0.30)    # gaps of numbers whose digits are joined by the pen (see join_pairs)
JOIN_SHARE = 0.5          # join_pairs: the share of adjacent pairs joined (at least one pair per number)
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
    """Strokes in writing order (digit by digit), which strokes make each digit, and the digits' labels.

    A stroke that joins two digits (join_pairs) is in both digits' groups; `joins` gives, for each such
    stroke, (stroke index, first, last): the points first..last are the pen's connecting segment, where
    a cut between the two digits belongs.
    """

    strokes: list[np.ndarray]
    groups: list[list[int]]
    labels: list[int]
    joins: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(map(str, self.labels))

    def spans(self) -> list[tuple[int, range, int, range]]:
        """Each digit's ink: (first stroke, where it may start, last stroke, where it may stop), in points.

        A digit starts at point 0 of its first stroke and stops at the end of its last, except at a join,
        where the cut may fall anywhere along the connecting segment, one point either way included.
        """
        cuts = iter(range(first, last + 2) for _, first, last in self.joins)  # in order, one per joined pair
        out, start = [], range(0, 1)
        for k, group in enumerate(self.groups):
            tail = group[-1]
            shared_tail = k + 1 < len(self.groups) and self.groups[k + 1][0] == tail
            stop = next(cuts) if shared_tail else range(len(self.strokes[tail]), len(self.strokes[tail]) + 1)
            out.append((group[0], start, tail, stop))
            start = stop if shared_tail else range(0, 1)
        return out

    def ink(self, k: int) -> list[np.ndarray]:
        """Digit k's own strokes, without the segments that join it to its neighbours."""
        head, start, tail, stop = self.spans()[k]
        out = []
        for stroke in self.groups[k]:
            joined_head = stroke == head and start != range(0, 1)
            first = start[-1] - 1 if joined_head else 0  # a join's range ends one past the next digit's start
            last = stop[0] + 1 if stroke == tail else len(self.strokes[stroke])
            out.append(self.strokes[stroke][first:last])
        return out

    def matches(self, k: int, parts: Sequence[tuple[int, int, int]]) -> bool:
        """Whether parts [(stroke, first, stop), ...] (one per stroke, in order) are exactly digit k's ink."""
        head, start, tail, stop = self.spans()[k]
        return [p[0] for p in parts] == self.groups[k] and parts[0][1] in start and parts[-1][2] in stop \
            and all(p[1] == 0 for p in parts[1:]) and all(p[2] == len(self.strokes[p[0]]) for p in parts[:-1])


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


def join_pairs(number: ComposedNumber, rng: np.random.Generator, share: float = JOIN_SHARE) -> ComposedNumber:
    """The number with some adjacent digits joined by the pen: a digit's last stroke runs on, by a straight
    connecting segment, into the next digit's first stroke, so the two become one stroke.

    Each adjacent pair is joined with probability `share`, and at least one pair is (numbers of 2+ digits).
    """
    count = len(number.groups)
    if count < 2:
        return number
    joined = rng.random(count - 1) < share
    joined[rng.integers(count - 1)] = True
    strokes: list[np.ndarray] = []
    old_to_new: dict[int, int] = {}
    joins = []
    for k, group in enumerate(number.groups):
        for pos, old in enumerate(group):
            stroke = number.strokes[old]
            if pos == 0 and k > 0 and joined[k - 1]:  # runs on from the previous digit's last stroke
                head = strokes[-1]
                link = _connector(head, stroke)
                strokes[-1] = np.concatenate([head, link, stroke])
                joins.append((len(strokes) - 1, len(head) - 1, len(head) + len(link)))
            else:
                strokes.append(stroke)
            old_to_new[old] = len(strokes) - 1
    groups = [sorted({old_to_new[i] for i in g}) for g in number.groups]
    return ComposedNumber(strokes, groups, list(number.labels), joins)


def _connector(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The points strictly between a's last point and b's first, spaced like the strokes' own points."""
    steps = np.linalg.norm(np.diff(np.concatenate([a, b]), axis=0), axis=1)
    step = max(float(np.median(steps)) if len(steps) else 1.0, 1e-6)
    count = int(np.linalg.norm(b[0] - a[-1]) // step)
    t = np.arange(1, count + 1)[:, None] / (count + 1)
    return a[-1] + t * (b[0] - a[-1])


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
                   gaps: tuple[float, float], distort: bool = False, join: bool = False) -> list[ComposedNumber]:
    """`count` numbers of `length` digits, each from one randomly chosen writer's digits (`join`: join_pairs)."""
    writers = by_writer(digits)
    ids = sorted(writers)
    numbers = []
    for _ in range(count):
        own = writers[ids[rng.integers(len(ids))]]
        picks = [own[i] for i in rng.integers(len(own), size=length)]
        number = compose_number(picks, rng, gaps, distort=distort)
        numbers.append(join_pairs(number, rng) if join else number)
    return numbers

"""A personal example: the strokes a person drew and the digit they said it is."""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from trainer.sizes import NUM_CLASSES

# A stroke is a tuple of (x, y) points in paper units (y down; the paper is trainer.sizes.PAPER_SIZE tall, up to 3x as wide).
StrokeTuple = tuple[tuple[float, float], ...]
# Caps on one example, far above any hand-drawn digit (a pen digit has 20-200 points); they keep a hostile
# file or a stuck input device from filling memory or the database.
MAX_STROKES = 100
MAX_POINTS = 20_000


class ExampleKind(enum.Enum):
    """How an example came to be: the user said what a drawing was, one way or another."""

    CORRECTION = "correction"      # the model read it wrong and the user gave the right digit
    CONFIRMATION = "confirmation"  # the model read it right and the user confirmed it
    TAUGHT = "taught"              # drawn when a teaching session asked for this digit
    IMPORTED = "imported"          # read from an export file


@dataclass(frozen=True)
class Example:
    """Strokes (paper units, y down) and their true label 0-9. Immutable and hashable."""

    strokes: tuple[StrokeTuple, ...]
    label: int

    @classmethod
    def of(cls, strokes: Iterable[Iterable[Sequence[float]]], label: int) -> Example:
        """An example from any nested sequence of (x, y) points; ValueError for bad points or labels."""
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < NUM_CLASSES:
            raise ValueError(f"label must be a digit 0-{NUM_CLASSES - 1}, got {label!r}")
        clean = []
        total = 0
        for stroke in strokes:
            points = []
            for point in stroke:
                if len(point) != 2:
                    raise ValueError(f"a point must be (x, y), got {len(point)} values")
                x, y = float(point[0]), float(point[1])
                if not (math.isfinite(x) and math.isfinite(y)):
                    raise ValueError("a point has a coordinate that is not a finite number")
                points.append((x, y))
                total += 1
                if total > MAX_POINTS:
                    raise ValueError(f"an example may hold at most {MAX_POINTS:,} points")
            if points:
                clean.append(tuple(points))
                if len(clean) > MAX_STROKES:
                    raise ValueError(f"an example may hold at most {MAX_STROKES} strokes")
        if not clean:
            raise ValueError("an example needs at least one point")
        return cls(tuple(clean), int(label))

    def arrays(self) -> list[np.ndarray]:
        """The strokes as (n, 2) float64 arrays, the form trainer.preprocess takes."""
        return [np.asarray(stroke, dtype=np.float64) for stroke in self.strokes]

    @property
    def point_count(self) -> int:
        return sum(len(stroke) for stroke in self.strokes)

    def digest(self) -> bytes:
        """A stable fingerprint of the label and points: seeds this example's augmentation, keys caches."""
        h = hashlib.blake2b(digest_size=16)
        h.update(bytes([self.label]))
        for stroke in self.strokes:
            h.update(np.asarray(stroke, dtype=np.float64).tobytes())
            h.update(b"|")
        return h.digest()


def as_examples(items: Iterable[Example | tuple]) -> list[Example]:
    """Examples from Example objects or (strokes, label) pairs."""
    return [item if isinstance(item, Example) else Example.of(*item) for item in items]

"""What reading a number gives: its text, one Prediction per digit, and which strokes made each digit."""

from __future__ import annotations

from dataclasses import dataclass, field

from digitpad.recognizer import Prediction

Box = tuple[float, float, float, float]  # (left, top, right, bottom) in the input's units, y down


@dataclass
class NumberReading:
    """A number read left to right: digits[k] was read from the strokes (or components) groups[k], inside boxes[k]."""

    digits: list[Prediction]
    groups: list[list[int]]           # input stroke (or image component) indices of each digit, left to right
    boxes: list[Box] = field(default_factory=list)  # each group's bounding box, ink centre lines, input units
    confidence: float = 1.0           # probability-like: every digit read right and grouped right
    # Drawings only: each digit's ink as (input stroke, first point, stop point) over the stroke's finite
    # points. A stroke that joins two digits is cut: it is in both digits' groups, each with its own part.
    parts: list[list[tuple[int, int, int]]] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The digits as a string, left to right: "2026"."""
        return "".join(str(p.digit) for p in self.digits)

    def __len__(self) -> int:
        return len(self.digits)

"""Reading a drawing as a digit or a number, and what the Draw tab shows of a number, without Qt.

A drawing of one digit is shown as before; a reading of two or more digits is shown as a number: the
number as the headline, each digit in a strip, one digit selected at a time (its ten probabilities in
the chart; see digitpad.draw.number_views). The selection survives live updates while the number keeps
its length, so a click is not undone by the next stroke's reading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trainer.errors import DataError, NothingDrawnError

if TYPE_CHECKING:
    from digitpad.numbers.reading import NumberReading
    from digitpad.recognizer import Prediction, Recognizer


class ShownNumber:
    """The number on screen (None: one digit or nothing) and which of its digits is selected."""

    def __init__(self) -> None:
        self.reading: NumberReading | None = None
        self.selected = 0

    def show(self, reading: NumberReading) -> None:
        """Show a new reading; the selection stays where it was when the number has as many digits."""
        if self.reading is None or len(self.reading) != len(reading):
            self.selected = 0
        self.reading = reading

    def clear(self) -> None:
        self.reading, self.selected = None, 0

    def select(self, index: int) -> bool:
        """Select the digit at `index` (0 = leftmost); False when there is no such digit or it is selected."""
        if self.reading is None or not 0 <= index < len(self.reading) or index == self.selected:
            return False
        self.selected = index
        return True

    def digit(self) -> Prediction | None:
        """The selected digit's Prediction, or None without a number."""
        return None if self.reading is None else self.reading.digits[self.selected]

    def text(self) -> str:
        return "" if self.reading is None else self.reading.text


def read_strokes(recognizer: Recognizer, strokes: list[np.ndarray]) -> Prediction | NumberReading:
    """A drawing: one digit exactly as `predict_strokes` reads it, or the number `predict_number` finds in it.

    A drawing that cannot be several digits (one stroke too narrow to be cut) costs no number reading.
    """
    from digitpad.numbers.strokes import may_hold_several  # it imports torch; this module stays without

    if not may_hold_several(strokes):
        return recognizer.predict_strokes(strokes)
    try:
        number = recognizer.predict_number(strokes)
    except DataError:  # too many strokes for a number: read as one digit, as before numbers were read
        return recognizer.predict_strokes(strokes)
    return number if len(number) > 1 else recognizer.predict_strokes(strokes)  # read alone only when it is one


def read_image(recognizer: Recognizer, source: str | np.ndarray) -> Prediction | NumberReading:
    """A picture: one digit as `predict_image` reads it, or the number `predict_image_number` finds in it."""
    try:
        number = recognizer.predict_image_number(source)
    except (DataError, NothingDrawnError):  # not readable as a number: read as one digit (or say why not)
        return recognizer.predict_image(source)
    return number if len(number) > 1 else recognizer.predict_image(source)

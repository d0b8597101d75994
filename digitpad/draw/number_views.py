"""Showing a number read from one drawing: the strip of its digits, and the glue to the Draw tab's views.

`NumberStrip` paints each digit's 28x28 image with the digit and its confidence below, and says which
one was clicked. `NumberView` spreads a NumberReading over the tab: the number in the verdict, the
strip, each digit's box outlined on the paper, and the selected digit's probabilities and image in the
chart and the model's-eye view. A single digit never comes here: the tab shows it as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QFont, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from digitpad.draw.shown_number import ShownNumber
from digitpad.draw.views import blend, percent
from trainer.sizes import IMAGE_SIZE

if TYPE_CHECKING:
    from digitpad.draw.canvas import DrawingCanvas
    from digitpad.draw.views import DigitDisplay, PixelView, ProbabilityBars
    from digitpad.numbers.reading import NumberReading
    from digitpad.recognizer import Prediction

TILE_MAX = 56        # a digit's image in the strip at most this big (2x its pixels), logical px
TILE_GAP = 8         # between two digits of the strip
# A digit is "not sure" when its best class leads the runner-up by less than this (the single-digit
# verdict's rule, digitpad.draw.tab.UNSURE_BELOW).
UNSURE_DIGIT_BELOW = 0.60
STRIP_TIP = "The digits read, left to right: click one to see its ten chances"


def unsure_digits(reading: NumberReading) -> list[int]:
    """Positions (0 = leftmost) of the digits whose two best classes are close."""
    out = []
    for k, digit in enumerate(reading.digits):
        (_, p1), (_, p2) = digit.top2()
        if p1 - p2 < UNSURE_DIGIT_BELOW:
            out.append(k)
    return out


def number_verdict(reading: NumberReading) -> tuple[str, str, bool]:
    """(headline, detail, unsure) in plain words for a reading of several digits."""
    doubtful = unsure_digits(reading)
    if doubtful:
        (a, _), (b, _) = reading.digits[doubtful[0]].top2()
        headline = f"Not sure of digit {doubtful[0] + 1}: {a} or {b}?"
    else:
        headline = f"{len(reading)} digits, {percent(reading.confidence)} sure of them all"
    return headline, "Click a digit for its chances · Ctrl+C copies the number", bool(doubtful)


class NumberStrip(QWidget):
    """Each digit of a number: its 28x28 image, the digit and its confidence; one selected; click to select."""

    # The digit at this position (0 = leftmost) was clicked (or chosen with the arrow keys).
    digitClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images: list[QImage] = []
        self._labels: list[tuple[str, str, bool]] = []  # (digit, confidence, unsure)
        self._selected = 0
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        policy.setRetainSizeWhenHidden(True)  # the paper must not change size under the pen when a number appears
        self.setSizePolicy(policy)
        self.setFixedHeight(self.sizeHint().height())
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click must not take the keyboard from the paper
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(STRIP_TIP)
        self.setAccessibleName("Digits read")

    def sizeHint(self) -> QSize:
        return QSize(260, TILE_MAX + 2 * self.fontMetrics().height() + 10)

    def set_digits(self, digits: Sequence[Prediction], selected: int = 0) -> None:
        """Show these digits, left to right, with `selected` highlighted."""
        self._images = [_gray_image(d.image) for d in digits]
        self._labels = []
        for d in digits:
            (_, p1), (_, p2) = d.top2()
            self._labels.append((str(d.digit), percent(d.confidence), p1 - p2 < UNSURE_DIGIT_BELOW))
        self.setAccessibleDescription(", ".join(f"{t} ({c})" for t, c, _ in self._labels))
        self.set_selected(selected)

    def set_selected(self, index: int) -> None:
        self._selected = index
        self.update()

    def selected(self) -> int:
        return self._selected

    def count(self) -> int:
        return len(self._images)

    def tile_rect(self, index: int) -> QRectF:
        """Where digit `index`'s image is painted (tests click there)."""
        n = max(1, len(self._images))
        side = min(float(TILE_MAX), (self.width() - 4 - (n - 1) * TILE_GAP) / n)
        left = (self.width() - (n * side + (n - 1) * TILE_GAP)) / 2
        return QRectF(left + index * (side + TILE_GAP), 3, side, side)

    def index_at(self, x: float) -> int | None:
        for k in range(len(self._images)):
            tile = self.tile_rect(k)
            if tile.left() - TILE_GAP / 2 <= x <= tile.right() + TILE_GAP / 2:
                return k
        return None

    def mousePressEvent(self, event) -> None:
        index = self.index_at(event.position().x())
        if event.button() == Qt.MouseButton.LeftButton and index is not None:
            self.digitClicked.emit(index)
            event.accept()
        else:
            super().mousePressEvent(event)

    def keyPressEvent(self, event) -> None:
        step = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}.get(event.key())
        if step is not None and 0 <= self._selected + step < len(self._images):
            self.digitClicked.emit(self._selected + step)
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        muted = blend(text, palette.color(QPalette.ColorRole.Window), 0.45)
        accent = palette.color(QPalette.ColorRole.Highlight)
        line = self.fontMetrics().height()
        bold = QFont(self.font())
        bold.setWeight(QFont.Weight.DemiBold)
        for k, (image, (digit, confidence, unsure)) in enumerate(zip(self._images, self._labels, strict=True)):
            tile = self.tile_rect(k)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp model pixels
            painter.drawImage(tile, image)
            chosen = k == self._selected
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(accent, 2.0) if chosen else QPen(palette.color(QPalette.ColorRole.Mid), 1.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(tile.adjusted(-1, -1, 1, 1) if chosen else tile.adjusted(-0.5, -0.5, 0.5, 0.5))
            below = QRectF(tile.left() - TILE_GAP / 2, tile.bottom() + 3, tile.width() + TILE_GAP, line)
            painter.setFont(bold)
            painter.setPen(accent if chosen else (muted if unsure else text))
            painter.drawText(below, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, digit)
            painter.setFont(self.font())
            painter.setPen(muted)
            painter.drawText(below.translated(0, line), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                             confidence)
        painter.end()


def _gray_image(values: np.ndarray) -> QImage:
    """A (28, 28) float image in [0, 1] (ink = 1) as an 8-bit gray QImage: light ink on black, as the model saw it."""
    gray = np.ascontiguousarray(np.clip(np.rint(np.asarray(values) * 255), 0, 255).astype(np.uint8))
    return QImage(gray.data, IMAGE_SIZE, IMAGE_SIZE, IMAGE_SIZE, QImage.Format.Format_Grayscale8).copy()


class NumberView(QObject):
    """Shows a NumberReading on the Draw tab's views; `selectionChanged` carries the selected digit's Prediction."""

    selectionChanged = Signal(object)

    def __init__(self, strip: NumberStrip, canvas: DrawingCanvas, display: DigitDisplay, bars: ProbabilityBars,
                 pixel_view: PixelView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = ShownNumber()
        self._strip, self._canvas, self._display, self._bars, self._pixels = strip, canvas, display, bars, pixel_view
        self._on_paper = False
        strip.hide()
        strip.digitClicked.connect(self.select)

    def show(self, reading: NumberReading, on_paper: bool = True) -> Prediction:
        """Show `reading` (two or more digits); `on_paper`: its boxes are in paper units, outline them.

        Returns the selected digit's Prediction.
        """
        self.state.show(reading)
        self._on_paper = on_paper
        headline, detail, unsure = number_verdict(reading)
        self._display.show_result(reading.text, headline, detail, unsure)
        self._strip.set_digits(reading.digits, self.state.selected)
        self._strip.show()
        self._show_selected()
        return self.state.digit()

    def hide(self) -> None:
        """Back to one digit or nothing: no strip, no outlines."""
        self.state.clear()
        self._strip.hide()
        self._canvas.set_outlines([])

    def reading(self) -> NumberReading | None:
        return self.state.reading

    @Slot(int)
    def select(self, index: int) -> None:
        """Show the digit at `index` (0 = leftmost) in the chart and the model's-eye view."""
        if self.state.select(index):
            self._show_selected()
            self.selectionChanged.emit(self.state.digit())

    def _show_selected(self) -> None:
        digit = self.state.digit()
        self._bars.set_probabilities(digit.probabilities)
        self._pixels.set_image(digit.image)
        self._strip.set_selected(self.state.selected)
        boxes = self.state.reading.boxes if self._on_paper else []
        self._canvas.set_outlines(boxes, self.state.selected)

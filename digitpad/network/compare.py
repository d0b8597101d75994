"""Compare models: every model of the session reads the same drawing, side by side.

Each card: the model's name, the digit it reads with its confidence, and its ten probabilities as
a small strip; the card of the model in use is outlined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from digitpad.draw.views import blend, percent
from trainer.sizes import NUM_CLASSES

if TYPE_CHECKING:
    from digitpad.recognizer import Prediction

CARD_WIDTH = 150     # logical px per model
CARD_GAP = 8


class ComparisonStrip(QWidget):
    """Cards of (label, Prediction or None) for the session's models."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cards: list[tuple[str, Prediction | None]] = []
        self._current: int | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(84)

    def set_cards(self, cards: list[tuple[str, Prediction | None]], current: int | None) -> None:
        self._cards, self._current = list(cards), current
        self.setMinimumWidth(len(self._cards) * (CARD_WIDTH + CARD_GAP))
        tips = [f"{label}: {'—' if p is None else f'{p.digit} ({percent(p.confidence)})'}" for label, p in cards]
        self.setToolTip("\n".join(tips))
        self.update()

    def cards(self) -> list[tuple[str, Prediction | None]]:
        return list(self._cards)

    def sizeHint(self) -> QSize:
        return QSize(max(1, len(self._cards)) * (CARD_WIDTH + CARD_GAP), 84)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i, (label, prediction) in enumerate(self._cards):
            rect = QRectF(i * (CARD_WIDTH + CARD_GAP), 0, CARD_WIDTH, self.height() - 1)
            _paint_card(painter, self.palette(), self.font(), rect, label, prediction, i == self._current)


def _paint_card(painter: QPainter, palette: QPalette, font: QFont, rect: QRectF, label: str,
                prediction: Prediction | None, current: bool) -> None:
    text, window = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    highlight, muted = palette.color(QPalette.ColorRole.Highlight), blend(text, window, 0.5)
    painter.setPen(QPen(highlight, 2) if current else QPen(blend(text, window, 0.8), 1))
    painter.setBrush(palette.color(QPalette.ColorRole.Base))
    painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 6, 6)
    inner = rect.adjusted(8, 5, -8, -5)
    metrics = QFontMetricsF(font)
    line = metrics.height()
    painter.setPen(muted)
    painter.drawText(QRectF(inner.left(), inner.top(), inner.width(), line), Qt.AlignmentFlag.AlignLeft,
                     metrics.elidedText(label, Qt.TextElideMode.ElideRight, inner.width()))
    big = QFont(font)
    big.setPointSizeF(font.pointSizeF() * 1.6)
    big.setBold(True)
    painter.setFont(big)
    painter.setPen(text)
    digit_box = QRectF(inner.left(), inner.top() + line, 28, inner.height() - line)
    painter.drawText(digit_box, Qt.AlignmentFlag.AlignCenter, "–" if prediction is None else str(prediction.digit))
    painter.setFont(font)
    if prediction is None:
        return
    painter.drawText(QRectF(inner.left() + 32, inner.top() + line, inner.width() - 32, line),
                     Qt.AlignmentFlag.AlignLeft, f"{percent(prediction.confidence)} sure")
    _paint_strip(painter, QRectF(inner.left() + 32, inner.top() + 2 * line + 2, inner.width() - 32,
                                 inner.bottom() - inner.top() - 2 * line - 2), prediction.probabilities,
                 highlight, muted)


def _paint_strip(painter: QPainter, area: QRectF, probs: np.ndarray, highlight, muted) -> None:
    """Ten thin bars, the winner in the highlight colour."""
    width = area.width() / NUM_CLASSES
    best = int(np.argmax(probs))
    for digit in range(NUM_CLASSES):
        height = max(1.0, area.height() * float(probs[digit]))
        bar = QRectF(area.left() + digit * width + 1, area.bottom() - height, width - 2, height)
        painter.fillRect(bar, highlight if digit == best else muted)

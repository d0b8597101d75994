"""Small custom-painted views of a prediction: the big digit, the ten probabilities, the 28x28 input.

They only display plain values (ints, floats, numpy arrays) handed to them; no model logic here.
Colours come from the palette, so light and dark themes both work.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QImage, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from trainer.sizes import IMAGE_SIZE, NUM_CLASSES

DIGIT_POINT_SIZE = 64         # the big predicted digit
NUMBER_TILE_WIDTH = 1.5       # a number's tile is this many times as wide as tall (a digit's is square)
HEADLINE_SCALE = 1.25         # verdict line, relative to the widget font
BAR_AREA_MIN_HEIGHT = 130     # probability chart, logical px
BAR_LABEL_MIN_FRACTION = 0.01  # a bar at least this high gets its percentage written above it
BAR_GAP = 0.28                # fraction of a column left empty between bars
GRID_ALPHA = 38               # opacity (0-255) of the grid lines between enlarged pixels
MIN_CELL = 5                  # smallest enlarged pixel, logical px


def percent(p: float) -> str:
    """87%, or 99.6% near certainty (never a rounded-up "100%" that the model did not say)."""
    if p >= 0.99:
        return f"{min(p, 0.999):.1%}" if p < 1.0 else "100%"
    return f"{p:.0%}"


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """Mix two colours: t = 0 gives a, t = 1 gives b."""
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3], strict=True)))


class DigitDisplay(QWidget):
    """The verdict: a large digit, a headline ("97% sure" / "not sure: 4 or 9?") and a detail line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._digit: str = ""
        self._headline = ""
        self._detail = ""
        self._unsure = False
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(260, 124)

    def show_result(self, digit: int | str | None, headline: str, detail: str = "", unsure: bool = False) -> None:
        """Show `digit` (None: no digit; a string: a number) with two lines of text; `unsure` dims the digit."""
        self._digit = "" if digit is None else str(digit)
        self._headline, self._detail, self._unsure = headline, detail, unsure
        self.setAccessibleName(f"{self._digit} {headline} {detail}".strip())
        self.update()

    def digit_text(self) -> str:
        return self._digit

    def headline(self) -> str:
        return self._headline

    def detail(self) -> str:
        return self._detail

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        muted = blend(text, palette.color(QPalette.ColorRole.Window), 0.45)
        rect = QRectF(self.rect()).adjusted(4, 0, -4, 0)
        wide = NUMBER_TILE_WIDTH if len(self._digit) > 1 else 1.0  # a number gets a wider tile
        box = QRectF(rect.left(), rect.top(), rect.height() * wide, rect.height())

        # The digit in a rounded tile.
        tile = blend(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Highlight), 0.10)
        painter.setPen(QPen(blend(tile, text, 0.12), 1))
        painter.setBrush(tile)
        painter.drawRoundedRect(box.adjusted(0.5, 0.5, -0.5, -0.5), 14, 14)
        font = QFont(self.font())
        font.setPointSizeF(DIGIT_POINT_SIZE)
        font.setWeight(QFont.Weight.DemiBold)
        if len(self._digit) > 1:  # a number: as large as fits the tile
            advance = QFontMetricsF(font).horizontalAdvance(self._digit)
            font.setPointSizeF(DIGIT_POINT_SIZE * min(1.0, (box.width() - 20) / max(advance, 1.0)))
        painter.setFont(font)
        if self._digit:
            painter.setPen(muted if self._unsure else palette.color(QPalette.ColorRole.Highlight))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._digit)
        else:
            painter.setPen(blend(text, tile, 0.8))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "?")

        self._paint_text(painter, rect, box, text, muted)
        painter.end()

    def _paint_text(self, painter: QPainter, rect: QRectF, box: QRectF, text: QColor, muted: QColor) -> None:
        """Headline and detail to the right of the tile, as one block centred on the tile."""
        left = box.right() + 14
        width = max(10.0, rect.right() - left)
        head_font = QFont(self.font())
        head_font.setPointSizeF(max(self.font().pointSizeF(), 9.0) * HEADLINE_SCALE)
        head_font.setWeight(QFont.Weight.DemiBold)
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        painter.setFont(head_font)
        head_h = painter.fontMetrics().boundingRect(QRectF(0, 0, width, rect.height()).toRect(), flags,
                                                   self._headline).height()
        painter.setFont(self.font())
        detail_h = painter.fontMetrics().boundingRect(QRectF(0, 0, width, rect.height()).toRect(), flags,
                                                     self._detail).height() if self._detail else 0
        gap = 6 if self._detail else 0
        top = box.center().y() - (head_h + gap + detail_h) / 2
        painter.setFont(head_font)
        painter.setPen(text)
        painter.drawText(QRectF(left, top, width, head_h), flags, self._headline)
        painter.setFont(self.font())
        painter.setPen(muted)
        painter.drawText(QRectF(left, top + head_h + gap, width, detail_h), flags, self._detail)


class ProbabilityBars(QWidget):
    """A bar chart of the ten class probabilities; the winner in the highlight colour. Click a bar: `clicked`."""

    # A digit's column was clicked while probabilities are shown (the user says the drawing is that digit).
    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._probs: np.ndarray | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(BAR_AREA_MIN_HEIGHT)
        self.setToolTip("How likely the model finds each digit")
        self.setAccessibleName("Probabilities of the ten digits")

    def sizeHint(self) -> QSize:
        return QSize(260, 170)

    def set_probabilities(self, probabilities: np.ndarray | None) -> None:
        """Show ten probabilities (None clears the chart)."""
        if probabilities is None:
            self._probs = None
        else:
            probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
            if probs.shape != (NUM_CLASSES,):
                raise ValueError(f"expected {NUM_CLASSES} probabilities, got {probs.shape}")
            self._probs = np.clip(probs, 0.0, 1.0)
        tip = "How likely the model finds each digit"
        if self._probs is not None:
            tip += "\n" + "  ".join(f"{d}: {p:.1%}" for d, p in enumerate(self._probs))
            tip += "\nClick a digit's bar to say the drawing is that digit"
        self.setToolTip(tip)
        self.setCursor(Qt.CursorShape.PointingHandCursor if self._probs is not None else Qt.CursorShape.ArrowCursor)
        self.update()

    def probabilities(self) -> np.ndarray | None:
        return None if self._probs is None else self._probs.copy()

    def digit_at(self, x: float) -> int:
        """The digit whose column holds widget x (the columns span the width as painted)."""
        inner = max(self.width() - 4.0, 1.0)
        return int(min(max((x - 2.0) / inner * NUM_CLASSES, 0), NUM_CLASSES - 1))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._probs is not None:
            self.clicked.emit(self.digit_at(event.position().x()))
            event.accept()
        else:
            super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        muted = blend(text, palette.color(QPalette.ColorRole.Window), 0.45)
        track = blend(palette.color(QPalette.ColorRole.Window), text, 0.07)
        bar = blend(palette.color(QPalette.ColorRole.Window), text, 0.35)
        accent = palette.color(QPalette.ColorRole.Highlight)

        fm = painter.fontMetrics()
        label_h = fm.height() + 4
        rect = QRectF(self.rect()).adjusted(2, label_h, -2, -label_h)  # room for % above, digit below
        col = rect.width() / NUM_CLASSES
        width = col * (1 - BAR_GAP)
        best = int(np.argmax(self._probs)) if self._probs is not None else -1
        for d in range(NUM_CLASSES):
            x = rect.left() + d * col + (col - width) / 2
            column = QRectF(x, rect.top(), width, rect.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(track)
            painter.drawRoundedRect(column, 3, 3)
            p = float(self._probs[d]) if self._probs is not None else 0.0
            if p > 0:
                h = max(rect.height() * p, 2.0)
                filled = QRectF(x, rect.bottom() - h, width, h)
                painter.setBrush(accent if d == best else bar)
                painter.drawRoundedRect(filled, 3, 3)
            if p >= BAR_LABEL_MIN_FRACTION:
                painter.setPen(text if d == best else muted)
                label = QRectF(x - col / 2, rect.top() - label_h, width + col, label_h)  # one row above the tracks
                painter.drawText(label, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, percent(p))
            font = painter.font()
            font.setBold(d == best)
            painter.setFont(font)
            painter.setPen(text if d == best else muted)
            below = QRectF(x - col / 2, rect.bottom() + 2, width + col, label_h)
            painter.drawText(below, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, str(d))
            font.setBold(False)
            painter.setFont(font)
        painter.end()


class PixelView(QWidget):
    """The 28x28 image the model saw, enlarged with every pixel visible (light ink on black, as MNIST)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._values: np.ndarray | None = None
        # No height-for-width: the grid is a centred square anyway, and a height-for-width child
        # makes the scrolling results column ask for its preferred height instead of fitting the window.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumSize(IMAGE_SIZE * MIN_CELL, IMAGE_SIZE * MIN_CELL)
        self.setToolTip("The 28×28 picture the model actually saw")
        self.setAccessibleName("What the model sees")

    def sizeHint(self) -> QSize:
        return QSize(IMAGE_SIZE * 8, IMAGE_SIZE * 8)

    def set_image(self, image: np.ndarray | None) -> None:
        """Show a (28, 28) float image in [0, 1] with ink = 1 (None clears it)."""
        if image is None:
            self._image, self._values = None, None
        else:
            values = np.asarray(image, dtype=np.float32)
            if values.shape != (IMAGE_SIZE, IMAGE_SIZE):
                raise ValueError(f"expected a ({IMAGE_SIZE}, {IMAGE_SIZE}) image, got {values.shape}")
            gray = np.ascontiguousarray(np.clip(np.rint(values * 255), 0, 255).astype(np.uint8))
            self._values = values.copy()
            self._image = QImage(gray.data, IMAGE_SIZE, IMAGE_SIZE, IMAGE_SIZE, QImage.Format.Format_Grayscale8).copy()
        self.update()

    def image(self) -> np.ndarray | None:
        return None if self._values is None else self._values.copy()

    def _grid_rect(self) -> QRectF:
        """A square of whole logical pixels per cell when there is room, centred."""
        side = min(self.width(), self.height())
        cell = side / IMAGE_SIZE
        if cell >= 4:
            cell = float(int(cell))
        span = cell * IMAGE_SIZE
        return QRectF((self.width() - span) / 2, (self.height() - span) / 2, span, span)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        grid = self._grid_rect()
        palette = self.palette()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0))
        painter.drawRect(grid)
        if self._image is not None:
            # Nearest-neighbour scaling keeps every pixel a crisp square.
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(grid, self._image)
        else:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(grid, Qt.AlignmentFlag.AlignCenter, "28 × 28")
        cell = grid.width() / IMAGE_SIZE
        if cell >= MIN_CELL:
            painter.setPen(QPen(QColor(128, 128, 128, GRID_ALPHA), 0))  # cosmetic: 1 device px at any DPI
            for i in range(1, IMAGE_SIZE):
                x = grid.left() + i * cell
                y = grid.top() + i * cell
                painter.drawLine(QPointF(x, grid.top()), QPointF(x, grid.bottom()))
                painter.drawLine(QPointF(grid.left(), y), QPointF(grid.right(), y))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(grid.adjusted(-0.5, -0.5, 0.5, 0.5))
        painter.end()


def app_icon() -> QIcon:
    """The window icon: a hand-drawn 7 on a blue tile, painted at a few sizes."""
    icon = QIcon()
    for size in (16, 32, 64, 128, 256):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2f6fde"))
        painter.drawRoundedRect(QRectF(0, 0, size, size), size * 0.22, size * 0.22)
        path = QPainterPath(QPointF(size * 0.28, size * 0.28))
        path.lineTo(size * 0.72, size * 0.28)
        path.quadTo(size * 0.55, size * 0.5, size * 0.45, size * 0.78)
        pen = QPen(QColor("white"), max(1.5, size * 0.11), Qt.PenStyle.SolidLine,
                   Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        painter.end()
        icon.addPixmap(pixmap)
    return icon

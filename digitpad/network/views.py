"""The Network tab's single views: the input with its saliency, the digit picker, a tile enlarged, the output.

They display plain values handed to them (numpy arrays, ints); no model logic here.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFontMetricsF, QImage, QPainter, QPalette
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QToolButton, QWidget

from digitpad.draw.views import blend, percent
from digitpad.network.colors import diverging, gray, heat_overlay, limit_of, to_qimage, value_range
from trainer.sizes import NUM_CLASSES


class PictureView(QWidget):
    """A small image scaled up with sharp pixels to the largest square that fits; empty shows a hint."""

    def __init__(self, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._hint = hint
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_picture(self, rgb: np.ndarray | None) -> None:
        self._image = None if rgb is None else to_qimage(rgb)
        self.update()

    def has_picture(self) -> bool:
        return self._image is not None

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        side = min(self.width(), self.height())
        square = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        if self._image is None:
            painter.fillRect(square, blend(palette.color(QPalette.ColorRole.Base),
                                           palette.color(QPalette.ColorRole.Window), 0.5))
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(square.adjusted(12, 12, -12, -12), Qt.AlignmentFlag.AlignCenter
                             | Qt.TextFlag.TextWordWrap, self._hint)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(square, self._image)


class SaliencyView(PictureView):
    """The 28x28 image the model saw (ink dark), with red where ink speaks for the digit, blue against."""

    def set_saliency(self, image: np.ndarray | None, saliency: np.ndarray | None) -> None:
        self._saliency = saliency
        self.set_picture(None if image is None or saliency is None else heat_overlay(image, saliency))


class EnlargedView(PictureView):
    """One feature map, unit row or filter at a large size."""

    def show_map(self, values: np.ndarray | None, *, centred: bool = False) -> str:
        """Show `values` (2-D); returns its value range as text ("" for none)."""
        if values is None:
            self.set_picture(None)
            return ""
        low, high = value_range(values)
        self.set_picture(diverging(values, limit_of(values)) if centred else gray(values, low, high))
        return f"{low:.3g} … {high:.3g}"


class DigitPicker(QWidget):
    """Ten buttons: which digit's saliency to show; `digitPicked(digit)`, -1 for the predicted one."""

    digitPicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._predicted: int | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        for digit in range(NUM_CLASSES):
            button = QToolButton(self)
            button.setText(str(digit))
            button.setCheckable(True)
            button.setFixedSize(20, 24)
            button.setToolTip(f"Why {digit}? Show the pixels that speak for or against {digit}")
            self._group.addButton(button, digit)
            row.addWidget(button)
        row.addStretch(1)
        self._group.idClicked.connect(self._clicked)

    def _clicked(self, digit: int) -> None:
        self.digitPicked.emit(-1 if digit == self._predicted else digit)

    def show_state(self, predicted: int | None, shown: int | None) -> None:
        """Mark the digit whose map is shown; the predicted one is in bold."""
        self._predicted = predicted
        for digit in range(NUM_CLASSES):
            button = self._group.button(digit)
            font = button.font()
            font.setBold(digit == predicted)
            button.setFont(font)
            button.setChecked(digit == shown)
            button.setEnabled(predicted is not None)

    def shown(self) -> int | None:
        return None if self._group.checkedId() < 0 else self._group.checkedId()


class OutputView(QWidget):
    """The ten outputs: each digit's probability as a bar, its logit written under it; a click picks the digit."""

    digitClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._logits: np.ndarray | None = None
        self._probs: np.ndarray | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(86)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_outputs(self, logits: np.ndarray | None, probabilities: np.ndarray | None) -> None:
        self._logits, self._probs = logits, probabilities
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 86)

    def _column(self, digit: int) -> QRectF:
        width = min(self.width() / NUM_CLASSES, 56)
        return QRectF(digit * width, 0, width, self.height())

    def mousePressEvent(self, event) -> None:
        for digit in range(NUM_CLASSES):
            if self._column(digit).contains(event.position()):
                self.digitClicked.emit(digit)

    def paintEvent(self, event) -> None:
        if self._probs is None or self._logits is None:
            return
        painter = QPainter(self)
        palette = self.palette()
        text, highlight = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Highlight)
        muted = blend(text, palette.color(QPalette.ColorRole.Window), 0.5)
        line = QFontMetricsF(self.font()).height()
        best = int(np.argmax(self._probs))
        for digit in range(NUM_CLASSES):
            col = self._column(digit).adjusted(3, 0, -3, 0)
            bar_area = QRectF(col.left(), line, col.width(), col.height() - 3 * line)
            height = bar_area.height() * float(self._probs[digit])
            painter.fillRect(QRectF(bar_area.left(), bar_area.bottom() - height, bar_area.width(), height),
                             highlight if digit == best else muted)
            painter.setPen(text)
            painter.drawText(QRectF(col.left(), 0, col.width(), line), Qt.AlignmentFlag.AlignCenter,
                             percent(float(self._probs[digit])))
            painter.drawText(QRectF(col.left(), bar_area.bottom(), col.width(), line), Qt.AlignmentFlag.AlignCenter,
                             str(digit))
            painter.setPen(muted)
            painter.drawText(QRectF(col.left() - 3, bar_area.bottom() + line, col.width() + 6, line),
                             Qt.AlignmentFlag.AlignCenter, f"{float(self._logits[digit]):.1f}")

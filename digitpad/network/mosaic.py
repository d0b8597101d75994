"""One layer as a mosaic: feature maps as small tiles, units as a heat row; a click picks a tile.

Maps share their layer's range (grayscale, min black, max white) so a quiet map looks quiet next to a
busy one; filters and dense units use a diverging map centred on zero. The widget's height follows
its width (as many rows as the tiles need).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from digitpad.network.colors import diverging, gray, limit_of, to_qimage, value_range

TILE_PX = 34          # a feature map's tile side, logical px (layers of few maps) ...
SMALL_TILE_PX = 24    # ... and for layers of more than MANY_MAPS maps
MANY_MAPS = 40
UNIT_PX = 10          # one unit of a dense layer in the heat row
GAP = 2               # between tiles


class Mosaic(QWidget):
    """Tiles of (C, H, W) maps or a wrapped row of (N,) units; `tileClicked(index)` on a click."""

    tileClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tiles: list[QImage] = []
        self._tile = TILE_PX
        self._selected: int | None = None
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_values(self, values: np.ndarray, *, centred: bool = False) -> None:
        """Show maps (C, H, W) or units (N,); `centred`: diverging colours around zero instead of gray."""
        if values.ndim == 3:
            rgb = _colour(values, centred)
            self._tiles = [to_qimage(tile) for tile in rgb]
            self._tile = TILE_PX if len(values) <= MANY_MAPS else SMALL_TILE_PX
        else:
            rgb = _colour(values.reshape(-1, 1, 1), True)
            self._tiles = [to_qimage(cell) for cell in rgb]
            self._tile = UNIT_PX
        if self._selected is not None and self._selected >= len(self._tiles):
            self._selected = None
        self.updateGeometry()
        self.update()

    def select(self, index: int | None) -> None:
        self._selected = index
        self.update()

    def count(self) -> int:
        return len(self._tiles)

    def _columns(self, width: int) -> int:
        return max(1, (width + GAP) // (self._tile + GAP))

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        rows = -(-max(len(self._tiles), 1) // self._columns(width))
        return rows * (self._tile + GAP)

    def sizeHint(self) -> QSize:
        return QSize(400, self.heightForWidth(400))

    def minimumSizeHint(self) -> QSize:
        return QSize(self._tile, self._tile)

    def resizeEvent(self, event) -> None:
        if self.height() != self.heightForWidth(self.width()):
            self.setMinimumHeight(self.heightForWidth(self.width()))
        super().resizeEvent(event)

    def tile_rect(self, index: int) -> QRectF:
        cols = self._columns(self.width())
        row, col = divmod(index, cols)
        return QRectF(col * (self._tile + GAP), row * (self._tile + GAP), self._tile, self._tile)

    def index_at(self, x: float, y: float) -> int | None:
        cols, step = self._columns(self.width()), self._tile + GAP
        col, row = int(x // step), int(y // step)
        index = row * cols + col
        return index if 0 <= col < cols and 0 <= index < len(self._tiles) else None

    def mousePressEvent(self, event) -> None:
        index = self.index_at(event.position().x(), event.position().y())
        if index is not None:
            self.select(index)
            self.tileClicked.emit(index)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # pixels stay pixels
        for i, tile in enumerate(self._tiles):
            painter.drawImage(self.tile_rect(i), tile)
        if self._selected is not None:
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(QColor(0, 0, 0, 0))
            painter.drawRect(self.tile_rect(self._selected).adjusted(-1, -1, 1, 1))


def _colour(values: np.ndarray, centred: bool) -> np.ndarray:
    if centred:
        return diverging(values, limit_of(values))
    return gray(values, *value_range(values))

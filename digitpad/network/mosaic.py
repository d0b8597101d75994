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
    """Tiles of (C, H, W) maps or a wrapped row of (N,) units; `tileClicked(index)` on a click.

    The tiles are composed into one picture at display size (each map scaled by a whole factor), so an
    update costs one numpy composition and one image draw however many maps the layer has.
    """

    tileClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rgb = np.zeros((0, 1, 1, 3), np.uint8)    # (count, side, side, 3): the tiles at display size
        self._tile = TILE_PX
        self._picture: QImage | None = None             # composed for `_picture_width`
        self._picture_width = -1
        self._selected: int | None = None
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_values(self, values: np.ndarray, *, centred: bool = False) -> None:
        """Show maps (C, H, W) or units (N,); `centred`: diverging colours around zero instead of gray."""
        if values.ndim == 3:
            rgb = _colour(values, centred)
            target = TILE_PX if len(values) <= MANY_MAPS else SMALL_TILE_PX
        else:
            rgb = _colour(values.reshape(-1, 1, 1), True)
            target = UNIT_PX
        factor = max(1, round(target / max(rgb.shape[1], rgb.shape[2], 1)))
        self._rgb = rgb.repeat(factor, axis=1).repeat(factor, axis=2)
        old_tile, self._tile = self._tile, max(self._rgb.shape[1], self._rgb.shape[2], 1)
        if self._selected is not None and self._selected >= len(self._rgb):
            self._selected = None
        self._picture = None
        if old_tile != self._tile:
            self.updateGeometry()
        self.update()

    def select(self, index: int | None) -> None:
        self._selected = index
        self.update()

    def count(self) -> int:
        return len(self._rgb)

    def _columns(self, width: int) -> int:
        return max(1, (width + GAP) // (self._tile + GAP))

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        rows = -(-max(len(self._rgb), 1) // self._columns(width))
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
        return index if 0 <= col < cols and 0 <= index < len(self._rgb) else None

    def mousePressEvent(self, event) -> None:
        index = self.index_at(event.position().x(), event.position().y())
        if index is not None:
            self.select(index)
            self.tileClicked.emit(index)

    def paintEvent(self, event) -> None:
        if not len(self._rgb):
            return
        if self._picture is None or self._picture_width != self.width():
            self._picture = to_qimage(compose(self._rgb, self._columns(self.width())), alpha=True)
            self._picture_width = self.width()
        painter = QPainter(self)
        painter.drawImage(0, 0, self._picture)
        if self._selected is not None:
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(QColor(0, 0, 0, 0))
            painter.drawRect(self.tile_rect(self._selected).adjusted(-1, -1, 1, 1))


def compose(tiles: np.ndarray, columns: int) -> np.ndarray:
    """(count, h, w, 3) tiles -> (rows * (h + GAP), columns * (w + GAP), 4) RGBA, row by row, gaps transparent."""
    count, h, w, _ = tiles.shape
    rows = -(-count // columns)
    grid = np.zeros((rows * columns, h + GAP, w + GAP, 4), np.uint8)
    grid[:count, :h, :w, :3] = tiles
    grid[:count, :h, :w, 3] = 255
    return grid.reshape(rows, columns, h + GAP, w + GAP, 4).transpose(0, 2, 1, 3, 4).reshape(
        rows * (h + GAP), columns * (w + GAP), 4)


def _colour(values: np.ndarray, centred: bool) -> np.ndarray:
    if centred:
        return diverging(values, limit_of(values))
    return gray(values, *value_range(values))

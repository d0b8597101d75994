"""What a run got right and wrong: confusion-matrix heat map, misclassified gallery, data viewer.

Display only: the numbers (confusion matrix, images, labels) are computed by the worker and
arrive here as numpy arrays.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QTabWidget, QToolTip, QVBoxLayout, QWidget

from digitpad.train.session import Run, RunStatus, settings_text
from trainer.sizes import IMAGE_SIZE, NUM_CLASSES

TILE_SCALE = 2  # 28 px digits drawn at 56 px
TILE_PADDING = 6
CAPTION_HEIGHT = 18
CELL_MIN = 16  # smallest confusion-matrix cell, pixels
MATRIX_MARGIN_LEFT = 46  # room for the "true" axis title and digit labels
MATRIX_MARGIN_TOP = 34  # room for the "predicted" axis title and digit labels
DIAGONAL_COLOR = QColor("#1f77b4")  # correct predictions
ERROR_COLOR = QColor("#d62728")  # confusions
WRONG_CAPTION_COLOR = QColor("#c62828")


def _blend(color: QColor, strength: float, base: QColor | None = None) -> QColor:
    """`color` faded towards `base` (white by default; the palette's base in a dark theme): 0 = base, 1 = the colour."""
    base = base or QColor("white")
    s = min(max(strength, 0.0), 1.0)
    return QColor(
        round(base.red() + (color.red() - base.red()) * s),
        round(base.green() + (color.green() - base.green()) * s),
        round(base.blue() + (color.blue() - base.blue()) * s),
    )


def digit_image(pixels: np.ndarray) -> QImage:
    """A (28, 28) uint8 array (white ink on black, as in MNIST) as a QImage that owns its pixels."""
    data = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = data.shape
    return QImage(data.data, width, height, width, QImage.Format_Grayscale8).copy()


class ConfusionMatrixView(QWidget):
    """A 10x10 heat map: rows are true digits, columns predictions. Correct cells are blue by
    the share of their row; confusions red, scaled to the largest confusion so that the few
    mistakes of a good model are still visible. Hover a cell for its count."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._matrix: np.ndarray | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(MATRIX_MARGIN_LEFT + NUM_CLASSES * CELL_MIN, MATRIX_MARGIN_TOP + NUM_CLASSES * CELL_MIN)

    def set_matrix(self, confusion: np.ndarray | None) -> None:
        self._matrix = None if confusion is None else np.asarray(confusion, dtype=np.int64)
        self.update()

    def matrix(self) -> np.ndarray | None:
        return self._matrix

    def sizeHint(self) -> QSize:
        return QSize(MATRIX_MARGIN_LEFT + NUM_CLASSES * 30, MATRIX_MARGIN_TOP + NUM_CLASSES * 30)

    def _cell(self) -> int:
        size = min(self.width() - MATRIX_MARGIN_LEFT, self.height() - MATRIX_MARGIN_TOP) // NUM_CLASSES
        return max(CELL_MIN, size)

    def _cell_rect(self, row: int, col: int) -> QRect:
        c = self._cell()
        return QRect(MATRIX_MARGIN_LEFT + col * c, MATRIX_MARGIN_TOP + row * c, c, c)

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        c = self._cell()
        col = (pos.x() - MATRIX_MARGIN_LEFT) // c
        row = (pos.y() - MATRIX_MARGIN_TOP) // c
        if 0 <= row < NUM_CLASSES and 0 <= col < NUM_CLASSES and pos.x() >= MATRIX_MARGIN_LEFT and pos.y() >= MATRIX_MARGIN_TOP:
            return int(row), int(col)
        return None

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self._matrix is None:
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, "The confusion matrix appears after a run.")
            return
        self._paint_axes(painter)
        self._paint_cells(painter)

    def _paint_axes(self, painter: QPainter) -> None:
        c = self._cell()
        font = QFont(self.font())
        painter.setFont(font)
        painter.setPen(self.palette().color(self.foregroundRole()))
        grid_w = NUM_CLASSES * c
        painter.drawText(QRect(MATRIX_MARGIN_LEFT, 0, grid_w, 16), Qt.AlignCenter, "predicted")
        for d in range(NUM_CLASSES):
            painter.drawText(QRect(MATRIX_MARGIN_LEFT + d * c, 16, c, 16), Qt.AlignCenter, str(d))
            painter.drawText(QRect(22, MATRIX_MARGIN_TOP + d * c, 20, c), Qt.AlignRight | Qt.AlignVCenter, str(d))
        painter.save()
        painter.translate(12, MATRIX_MARGIN_TOP + grid_w / 2)
        painter.rotate(-90)
        painter.drawText(QRect(-40, -8, 80, 16), Qt.AlignCenter, "true")
        painter.restore()

    def _paint_cells(self, painter: QPainter) -> None:
        m = self._matrix
        row_totals = np.maximum(m.sum(axis=1), 1)
        off = m.copy()
        np.fill_diagonal(off, 0)
        max_off = max(int(off.max()), 1)
        base, grid = self.palette().color(QPalette.Base), self.palette().color(QPalette.Mid)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * min(1.0, self._cell() / 30)))
        painter.setFont(small)
        for row in range(NUM_CLASSES):
            for col in range(NUM_CLASSES):
                value = int(m[row, col])
                if row == col:
                    fill = _blend(DIAGONAL_COLOR, value / row_totals[row], base)
                else:
                    fill = _blend(ERROR_COLOR, value / max_off if value else 0.0, base)
                rect = self._cell_rect(row, col)
                painter.fillRect(rect, fill)
                painter.setPen(QPen(grid))
                painter.drawRect(rect.adjusted(0, 0, -1, -1))
                if value:
                    painter.setPen(QColor("white") if fill.lightness() < 140 else QColor("#202020"))
                    painter.drawText(rect, Qt.AlignCenter, str(value))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position().toPoint())
        if self._matrix is None or cell is None:
            QToolTip.hideText()
            return
        row, col = cell
        total = int(self._matrix[row].sum())
        count = int(self._matrix[row, col])
        share = f" ({100 * count / total:.1f}% of the {total} true {row}s)" if total else ""
        QToolTip.showText(event.globalPosition().toPoint(), f"true {row}, predicted {col}: {count}{share}", self)


class DigitGrid(QWidget):
    """A grid of 28x28 digits with a caption under each; wraps to the widget's width."""

    def __init__(self, empty_text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images: list[QImage] = []
        self._captions: list[str] = []
        self._tooltips: list[str] = []
        self._wrong: list[bool] = []
        self._empty_text = empty_text
        self.setMouseTracking(True)

    @property
    def tile_size(self) -> QSize:
        side = IMAGE_SIZE * TILE_SCALE
        return QSize(side + 2 * TILE_PADDING, side + CAPTION_HEIGHT + 2 * TILE_PADDING)

    def set_items(
        self,
        images: np.ndarray,
        captions: list[str],
        *,
        tooltips: list[str] | None = None,
        wrong: list[bool] | None = None,
    ) -> None:
        """Show `images` ((N, 28, 28) uint8) with one caption each."""
        if len(images) != len(captions):
            raise ValueError(f"{len(images)} images but {len(captions)} captions")
        self._images = [digit_image(img) for img in images]
        self._captions = list(captions)
        self._tooltips = list(tooltips) if tooltips is not None else list(captions)
        self._wrong = list(wrong) if wrong is not None else [False] * len(captions)
        self._update_height()
        self.update()

    def count(self) -> int:
        return len(self._images)

    def set_empty_text(self, text: str) -> None:
        """What the grid says while it holds no images."""
        self._empty_text = text
        self.update()

    def captions(self) -> list[str]:
        return list(self._captions)

    def _columns(self) -> int:
        return max(1, self.width() // self.tile_size.width())

    def _update_height(self) -> None:
        rows = -(-len(self._images) // self._columns()) if self._images else 1
        self.setMinimumHeight(rows * self.tile_size.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_height()

    def sizeHint(self) -> QSize:
        return QSize(8 * self.tile_size.width(), 3 * self.tile_size.height())

    def _tile_rect(self, index: int) -> QRect:
        cols = self._columns()
        tile = self.tile_size
        return QRect((index % cols) * tile.width(), (index // cols) * tile.height(), tile.width(), tile.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        text_color = self.palette().color(self.foregroundRole())
        if not self._images:
            painter.setPen(text_color)
            painter.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self._empty_text)
            return
        side = IMAGE_SIZE * TILE_SCALE
        for i, image in enumerate(self._images):
            tile = self._tile_rect(i)
            if not tile.intersects(event.rect()):
                continue
            target = QRect(tile.x() + TILE_PADDING, tile.y() + TILE_PADDING, side, side)
            painter.drawImage(target, image)
            caption = QRect(tile.x(), target.bottom() + 1, tile.width(), CAPTION_HEIGHT)
            painter.setPen(WRONG_CAPTION_COLOR if self._wrong[i] else text_color)
            painter.drawText(caption, Qt.AlignCenter, self._captions[i])

    def index_at(self, pos: QPoint) -> int | None:
        cols = self._columns()
        tile = self.tile_size
        col, row = pos.x() // tile.width(), pos.y() // tile.height()
        index = row * cols + col
        return index if 0 <= col < cols and 0 <= index < len(self._images) else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().toPoint())
        if index is None:
            QToolTip.hideText()
            return
        QToolTip.showText(event.globalPosition().toPoint(), self._tooltips[index], self)


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    return area


class ResultsView(QTabWidget):
    """Tabs: dataset samples (before any run), the confusion matrix and the misclassified gallery."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples = DigitGrid("Dataset samples appear here once the data directory is readable.")
        self.confusion = ConfusionMatrixView()
        self.misclassified = DigitGrid("Misclassified test images appear here after a run.")
        self.summary = QLabel("No run selected.")
        self.summary.setWordWrap(True)
        confusion_page = QWidget()
        layout = QVBoxLayout(confusion_page)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.confusion, 1)
        gallery_page = QWidget()
        layout = QVBoxLayout(gallery_page)
        layout.setContentsMargins(4, 4, 4, 4)
        caption = QLabel("Test images the model got wrong, captioned true → predicted (hover for details).")
        caption.setWordWrap(True)
        layout.addWidget(caption)
        layout.addWidget(_scrolled(self.misclassified), 1)
        samples_page = QWidget()
        self._samples_layout = QVBoxLayout(samples_page)
        self._samples_layout.setContentsMargins(0, 0, 0, 0)
        self._samples_layout.addWidget(_scrolled(self.samples), 1)
        self.addTab(samples_page, "Data samples")
        self.setUsesScrollButtons(True)  # narrow windows: the tabs scroll instead of widening the pane
        self.setElideMode(Qt.ElideRight)
        self.addTab(confusion_page, "Confusion matrix")
        self.addTab(gallery_page, "Misclassified")

    def set_samples(self, images: np.ndarray, labels: np.ndarray, source: str = "") -> None:
        """The data viewer: training images with their labels."""
        captions = [str(int(label)) for label in labels]
        tips = [f"training image #{i}: label {int(label)}" + (f"\n{source}" if source else "") for i, label in enumerate(labels)]
        self.samples.set_items(images, captions, tooltips=tips)

    def set_samples_notice(self, widget: QWidget) -> None:
        """A widget above the samples (the missing-data panel), shown and hidden by its owner."""
        self._samples_layout.insertWidget(0, widget)

    def show_samples_error(self, message: str) -> None:
        """The data viewer could not read the dataset: say why instead of showing samples."""
        self.samples.set_items(np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), [])
        self.samples.set_empty_text(f"No dataset samples: {message}" if message else "")

    def set_evaluation(
        self,
        summary: str,
        confusion: np.ndarray,
        images: np.ndarray,
        true_labels: np.ndarray,
        predicted: np.ndarray,
        indices: np.ndarray,
        total_wrong: int,
    ) -> None:
        """Show a run's results: `images` are (some of) its misclassified test images."""
        self.summary.setText(summary)
        self.confusion.set_matrix(confusion)
        captions = [f"{int(t)} → {int(p)}" for t, p in zip(true_labels, predicted, strict=True)]
        tips = [
            f"test image #{int(i)}: true {int(t)}, predicted {int(p)}" for i, t, p in zip(indices, true_labels, predicted, strict=True)
        ]
        self.misclassified.set_items(images, captions, tooltips=tips, wrong=[True] * len(captions))
        shown = len(captions)
        label = f"Misclassified ({total_wrong})" if shown == total_wrong else f"Misclassified ({shown} of {total_wrong})"
        self.setTabText(2, label)

    def show_run(self, run: Run | None) -> None:
        """The results of a run, or why there are none."""
        if run is None or run.outcome is None:
            what = "failed" if run is not None and run.status is RunStatus.FAILED else "is still running"
            self.clear_evaluation("No run selected." if run is None else f"{run.name} {what}.")
            return
        outcome, gallery = run.outcome, run.outcome.gallery
        summary = (
            f"{run.name} ({settings_text(run.config)}): {100 * outcome.accuracy:.2f}% of {int(outcome.confusion.sum()):,} "
            f"test images right, {gallery.total_wrong:,} wrong; test loss {outcome.loss:.4f}."
        )
        self.set_evaluation(summary, outcome.confusion, gallery.images, gallery.true_labels, gallery.predicted,
                            gallery.indices, gallery.total_wrong)

    def clear_evaluation(self, summary: str = "No run selected.") -> None:
        self.summary.setText(summary)
        self.confusion.set_matrix(None)
        self.misclassified.set_items(np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), [])
        self.setTabText(2, "Misclassified")

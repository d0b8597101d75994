"""The drawing pad widget: input and painting only; what is drawn lives in a Qt-free `Drawing`.

Points are converted to *paper units* (PAPER_SIZE tall, y down) the moment they are captured, so the
drawing survives any resize and recognition never depends on the widget's size. The paper is as tall
as the widget allows and, up to `max_paper_ratio` times its height, as wide (room for a number): its
height alone sets the scale, so x = 0..PAPER_SIZE is the same square whatever the width, and a drawing
made on a square paper replays where it was. The paper is never narrower than what is drawn on it.
The canvas knows nothing about models: it emits signals, and `strokes()` hands the drawing out as plain arrays.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from digitpad.draw.drawing import (
    DEFAULT_PEN_WIDTH,
    MAX_PEN_WIDTH,
    MIN_PEN_WIDTH,
    Drawing,
    ShownImage,
    Stroke,
    paper_layout,
)
from trainer.sizes import PAPER_SIZE

PAPER_MARGIN = 10.0          # logical px between the widget edge and the paper
PAPER_RADIUS = 10.0          # rounded corners of the paper
MIN_POINT_STEP_PX = 0.5      # a point closer than this (logical px) to the last adds nothing but memory
PRESSURE_FLOOR = 0.35        # width factor at zero tablet pressure; full pressure gives 1 + PRESSURE_FLOOR
IMAGE_MARGIN = 0.06          # an opened image is fitted inside the paper with this margin (fraction)
MIN_SIZE = 160               # smallest sensible canvas, logical px
OUTLINE_ALPHA = 90           # opacity (0-255) of the faint box around each digit of a number ...
OUTLINE_SELECTED_ALPHA = 200  # ... and around the digit selected in the strip
HINT_TEXT = "Draw a digit or a number here"
DROP_HINT_TEXT = "Drop to open"


class DrawingCanvas(QWidget):
    """A square sheet of paper to draw a digit on with mouse, pen or finger."""

    # A pen touched the paper.
    strokeStarted = Signal()
    # The stroke being drawn grew (fires for every captured point: throttle before heavy work).
    strokeUpdated = Signal()
    # The pen left the paper; the stroke is now part of the drawing.
    strokeFinished = Signal()
    # The committed content changed: a stroke ended, undo, redo, clear or an image was shown.
    contentChanged = Signal()
    # Whether undo / redo are possible now.
    undoAvailable = Signal(bool)
    redoAvailable = Signal(bool)
    # Local files dropped on the paper (paths as strings).
    filesDropped = Signal(list)
    # A picture (not a file) dropped on the paper.
    imageDropped = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.drawing = Drawing()
        self._pen_width = DEFAULT_PEN_WIDTH
        self._cache: QPixmap | None = None   # finished strokes, at device resolution
        self._drop_hover = False
        self._max_ratio = 1.0                # widest paper, in paper heights
        self._content_right = 0.0            # x reached by the committed strokes, paper units
        self._outlines: list[tuple[float, float, float, float]] = []  # faint boxes (paper units) around digits
        self._outlined: int | None = None    # the one outline drawn stronger (the digit selected)
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(MIN_SIZE, MIN_SIZE)
        # A status tip, not a tooltip: a tooltip would pop up over the ink whenever the pen rests.
        self.setStatusTip("Draw a digit or a number with the mouse, a pen or a finger; drop a picture or a .pt model here")
        self.setAccessibleName("Drawing paper")

    # ------------------------------------------------------------------ public API

    def sizeHint(self) -> QSize:
        return QSize(440, 440)

    def strokes(self) -> list[np.ndarray]:
        """The drawing, including a stroke in progress: (n, 2) float arrays in paper units, y down."""
        return self.drawing.strokes()

    def shown_image(self) -> ShownImage | None:
        """The image on the paper, if one was opened and not drawn over."""
        return self.drawing.image

    def is_empty(self) -> bool:
        return self.drawing.is_empty()

    def is_drawing(self) -> bool:
        return self.drawing.is_drawing()

    def pen_width(self) -> float:
        """Ink width as a fraction of the paper side (display only: recognition uses the centre lines)."""
        return self._pen_width

    def set_pen_width(self, fraction: float) -> None:
        self._pen_width = min(max(float(fraction), MIN_PEN_WIDTH), MAX_PEN_WIDTH)
        self._invalidate()

    def can_undo(self) -> bool:
        return self.drawing.can_undo()

    def can_redo(self) -> bool:
        return self.drawing.can_redo()

    def undo(self) -> None:
        """Take back the last stroke (or the last clear / opened image)."""
        if self.drawing.undo():
            self._content_changed()

    def redo(self) -> None:
        """Put back what the last undo took away."""
        if self.drawing.redo():
            self._content_changed()

    def clear(self) -> None:
        """Wipe the paper (undoable), a stroke in progress included."""
        if self.drawing.clear():
            self._content_changed()

    def set_image(self, image: QImage, source: str | np.ndarray) -> None:
        """Show a picture on the paper instead of the drawing (undoable); `source` goes to the recognizer."""
        self.drawing.set_image(image, source)
        self._content_changed()

    def set_outlines(self, boxes: list[tuple[float, float, float, float]], selected: int | None = None) -> None:
        """Outline these boxes (left, top, right, bottom in paper units) faintly, `selected` a little stronger."""
        self._outlines, self._outlined = [tuple(map(float, b)) for b in boxes], selected
        self.update()

    def outlines(self) -> list[tuple[float, float, float, float]]:
        return list(self._outlines)

    def max_paper_ratio(self) -> float:
        return self._max_ratio

    def set_max_paper_ratio(self, ratio: float) -> None:
        """Let the paper grow up to `ratio` times as wide as tall when the widget is wide (1: a square)."""
        self._max_ratio = max(1.0, float(ratio))
        self.drawing.width = self._max_ratio * PAPER_SIZE
        self._invalidate()

    def sheet_width(self) -> float:
        """The paper's width now, in paper units (PAPER_SIZE .. max ratio x PAPER_SIZE)."""
        return self._layout()[1]

    def sheet_rect(self) -> QRectF:
        """The whole paper, in widget coordinates, centred inside the margins."""
        scale, units = self._layout()
        w, h = units * scale, PAPER_SIZE * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paper_rect(self) -> QRectF:
        """The paper's first PAPER_SIZE x PAPER_SIZE units (x 0..PAPER_SIZE), in widget coordinates.

        Its side is the unit scale; on a square paper it is the whole paper.
        """
        sheet = self.sheet_rect()
        return QRectF(sheet.left(), sheet.top(), sheet.height(), sheet.height())

    def _layout(self) -> tuple[float, float]:
        return paper_layout(self.width() - 2 * PAPER_MARGIN, self.height() - 2 * PAPER_MARGIN, self._max_ratio,
                            self._content_right)

    def to_paper(self, pos: QPointF) -> tuple[float, float]:
        """Widget position -> paper units, clamped to the paper."""
        paper = self.paper_rect()
        scale = PAPER_SIZE / paper.width()
        x = (pos.x() - paper.left()) * scale
        y = (pos.y() - paper.top()) * scale
        return min(max(x, 0.0), self.sheet_width()), min(max(y, 0.0), PAPER_SIZE)

    def from_paper(self, x: float, y: float) -> QPointF:
        """Paper units -> widget position."""
        paper = self.paper_rect()
        scale = paper.width() / PAPER_SIZE
        return QPointF(paper.left() + x * scale, paper.top() + y * scale)

    # ------------------------------------------------------------------ stroke capture

    def _begin(self, pos: QPointF, width: float = 1.0) -> None:
        had_picture = self.drawing.image is not None
        self.drawing.begin(*self.to_paper(pos), width)
        if had_picture:  # the picture is gone at once (undoable): say so now, not at pen-up
            self.undoAvailable.emit(self.can_undo())
            self.redoAvailable.emit(self.can_redo())
        # The "Draw a digit here" hint and a replaced picture live in the cache: repaint it at pen-down.
        self._invalidate()
        self.strokeStarted.emit()

    def _extend(self, pos: QPointF, width: float = 1.0) -> None:
        if self.drawing.extend(*self.to_paper(pos), width, min_step=self._min_step()):
            self._update_around(self.drawing.current)
            self.strokeUpdated.emit()

    def _end(self, pos: QPointF | None = None, width: float = 1.0) -> None:
        if not self.drawing.is_drawing():
            return
        if pos is not None:
            self.drawing.extend(*self.to_paper(pos), width, min_step=self._min_step())
        self.drawing.end()
        self.strokeFinished.emit()
        self._content_changed()

    def _min_step(self) -> float:
        return MIN_POINT_STEP_PX * PAPER_SIZE / self.paper_rect().width()

    def _cancel(self) -> None:
        if self.drawing.cancel():
            self._content_changed()

    def _update_around(self, stroke: Stroke) -> None:
        """Repaint only the region of the newest segment (cheap while drawing)."""
        pts = stroke.points[-3:]
        a = [self.from_paper(x, y) for x, y in pts]
        xs, ys = [p.x() for p in a], [p.y() for p in a]
        pad = self._pen_px() * (1 + PRESSURE_FLOOR) + 2
        rect = QRectF(min(xs) - pad, min(ys) - pad, max(xs) - min(xs) + 2 * pad, max(ys) - min(ys) + 2 * pad)
        self.update(rect.toAlignedRect())

    def _content_changed(self) -> None:
        self._invalidate()
        self.undoAvailable.emit(self.can_undo())
        self.redoAvailable.emit(self.can_redo())
        self.contentChanged.emit()

    # ------------------------------------------------------------------ input events

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self.drawing.is_drawing():
            self._extend(event.position())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.drawing.is_drawing():
            self._end(event.position())
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event) -> None:
        # Accepting a tablet event stops Qt from synthesizing the matching mouse event.
        width = PRESSURE_FLOOR + event.pressure()
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            self._begin(event.position(), width)
        elif kind == QEvent.Type.TabletMove:
            self._extend(event.position(), width)
        elif kind == QEvent.Type.TabletRelease:
            self._end(event.position(), width)
        event.accept()

    def event(self, event) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd):
            points = event.points()
            if points:
                pos = points[0].position()
                if kind == QEvent.Type.TouchBegin:
                    self._begin(pos)
                elif kind == QEvent.Type.TouchUpdate:
                    self._extend(pos)
                else:
                    self._end(pos)
            event.accept()
            return True
        if kind == QEvent.Type.TouchCancel:
            self._cancel()
            event.accept()
            return True
        return super().event(event)

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if mime.hasImage() or any(u.isLocalFile() for u in mime.urls()):
            self._drop_hover = True
            self.update()
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._drop_hover = False
        self.update()

    def dropEvent(self, event) -> None:
        self._drop_hover = False
        self.update()
        mime = event.mimeData()
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if paths:
            self.filesDropped.emit(paths)
        elif mime.hasImage():
            self.imageDropped.emit(QImage(mime.imageData()))
        else:
            return
        event.acceptProposedAction()

    # ------------------------------------------------------------------ painting

    def resizeEvent(self, event) -> None:
        self._invalidate()
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._invalidate()
        super().changeEvent(event)

    def _invalidate(self) -> None:
        self._cache = None
        self._content_right = self._ink_right()
        self.update()

    def _ink_right(self) -> float:
        """How far right the committed ink reaches, in paper units: the strokes' largest x plus the widest pen's
        half-width, so that a narrowed paper keeps the whole line in view, not just its centre."""
        right = self.drawing.right_edge()
        return right + self._pen_width * PAPER_SIZE * (1 + PRESSURE_FLOOR) / 2 if right > 0 else 0.0

    def _pen_px(self) -> float:
        return self._pen_width * self.paper_rect().width()

    def _ink_color(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.Text)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setClipRegion(event.region())
        painter.drawPixmap(0, 0, self._cached_layer())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._outlines:
            boxes = [QRectF(self.from_paper(a, b), self.from_paper(c, d)) for a, b, c, d in self._outlines]
            paint_outlines(painter, boxes, self._outlined, self.sheet_rect(), self._pen_px() * 0.5 + 4,
                           self.palette().color(QPalette.ColorRole.Highlight))
        if self.drawing.current is not None:
            self._paint_stroke(painter, self.drawing.current)
        if self._drop_hover:
            self._paint_drop_hint(painter)
        painter.end()

    def _cached_layer(self) -> QPixmap:
        """Background, paper, image and finished strokes, rendered once per change at device resolution."""
        dpr = self.devicePixelRatioF()
        if self._cache is not None and self._cache.devicePixelRatio() == dpr:  # same screen scale: reuse
            return self._cache
        pixmap = QPixmap(max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr)))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(self.palette().color(QPalette.ColorRole.Window))
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self._paint_paper(painter)
        if self.drawing.image is not None:
            self._paint_image(painter, self.drawing.image.picture)
        for stroke in self.drawing.finished:
            self._paint_stroke(painter, stroke)
        if self.is_empty():
            self._paint_hint(painter, HINT_TEXT)
        painter.end()
        self._cache = pixmap
        return pixmap

    def _paint_paper(self, painter: QPainter) -> None:
        paper = self.sheet_rect()
        palette = self.palette()
        shadow = QColor(0, 0, 0, 28)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(shadow)
        painter.drawRoundedRect(paper.translated(0, 1.5), PAPER_RADIUS, PAPER_RADIUS)
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        border = palette.color(QPalette.ColorRole.Mid)
        painter.setPen(QPen(border, 1.0))
        painter.drawRoundedRect(paper.adjusted(0.5, 0.5, -0.5, -0.5), PAPER_RADIUS, PAPER_RADIUS)

    def _paint_image(self, painter: QPainter, image: QImage) -> None:
        paper = self.sheet_rect()
        inner = paper.adjusted(*(f * paper.height() for f in (IMAGE_MARGIN, IMAGE_MARGIN, -IMAGE_MARGIN, -IMAGE_MARGIN)))
        size = QSize(image.width(), image.height()).scaled(inner.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(0, 0, size.width(), size.height())
        target.moveCenter(inner.center())
        painter.drawImage(target, image)

    def _paint_hint(self, painter: QPainter, text: str) -> None:
        font = painter.font()
        font.setPointSizeF(max(font.pointSizeF() * 1.4, 11.0))
        painter.setFont(font)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(self.sheet_rect(), Qt.AlignmentFlag.AlignCenter, text)

    def _paint_drop_hint(self, painter: QPainter) -> None:
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        fill = QColor(highlight)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.setPen(QPen(highlight, 2.0, Qt.PenStyle.DashLine))
        painter.drawRoundedRect(self.sheet_rect().adjusted(3, 3, -3, -3), PAPER_RADIUS, PAPER_RADIUS)
        painter.setPen(highlight)
        painter.drawText(self.sheet_rect(), Qt.AlignmentFlag.AlignCenter, DROP_HINT_TEXT)

    def _paint_stroke(self, painter: QPainter, stroke: Stroke) -> None:
        """Solid ink: every short piece is drawn on its own with round caps.

        One stroked path leaves holes where it doubles back (the outline's winding cancels out,
        and a 180-degree turn loses its round end); opaque capsules that overlap cannot.
        """
        pts = [self.from_paper(x, y) for x, y in stroke.points]
        if not pts:
            return
        ink = self._ink_color()
        ink.setAlpha(255)  # overlapping pieces must not darken each other
        base = self._pen_px()
        if len(pts) == 1:  # a dot: a zero-length line draws nothing with some engines
            w = base * stroke.widths[0]
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(ink)
            painter.drawEllipse(pts[0], w / 2, w / 2)
            return
        pen = QPen(ink, base, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if stroke.uniform:
            pen.setWidthF(base * stroke.widths[0])
            painter.setPen(pen)
            flat = [p for polygon in smooth_path(pts).toSubpathPolygons() for p in polygon]
            for a, b in pairwise(flat):
                painter.drawLine(QLineF(a, b))
            return
        # Pressure varies: one short segment per point pair, each at its own width.
        for i in range(1, len(pts)):
            pen.setWidthF(base * (stroke.widths[i - 1] + stroke.widths[i]) / 2)
            painter.setPen(pen)
            painter.drawLine(pts[i - 1], pts[i])


def paint_outlines(painter: QPainter, boxes: list[QRectF], selected: int | None, sheet: QRectF, pad: float,
                   highlight: QColor) -> None:
    """Each digit's ink in a faint rounded box `pad` px around it, kept on the paper; the selected one stronger."""
    inside = sheet.adjusted(2, 2, -2, -2)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for k, box in enumerate(boxes):
        color = QColor(highlight)
        color.setAlpha(OUTLINE_SELECTED_ALPHA if k == selected else OUTLINE_ALPHA)
        painter.setPen(QPen(color, 1.5 if k == selected else 1.0))
        painter.drawRoundedRect(box.adjusted(-pad, -pad, pad, pad).intersected(inside), 6, 6)


def smooth_path(points: list[QPointF]) -> QPainterPath:
    """A path through the midpoints of consecutive points with quadratic curves: smooth ink, no corners."""
    path = QPainterPath(points[0])
    if len(points) == 2:
        path.lineTo(points[1])
        return path
    for i in range(1, len(points) - 1):
        mid = (points[i] + points[i + 1]) / 2
        path.quadTo(points[i], mid)
    path.lineTo(points[-1])
    return path


def image_suffixes() -> tuple[str, ...]:
    """File endings the canvas treats as pictures when dropped or opened."""
    return (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm")


def is_model_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".pt", ".pth")

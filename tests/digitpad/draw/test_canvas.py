"""The drawing pad on its own: what a person draws is kept, survives resizing, and can be undone."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDropEvent,
    QImage,
    QInputDevice,
    QPalette,
    QPointingDevice,
    QTabletEvent,
)
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from digitpad.draw.canvas import PAPER_MARGIN, DrawingCanvas
from trainer.sizes import PAPER_SIZE

SIDE = 400  # paper side in px for a canvas of SIDE + 2 * margin: one paper unit per pixel


@pytest.fixture
def canvas(qtbot) -> DrawingCanvas:
    widget = DrawingCanvas()
    qtbot.addWidget(widget)
    widget.resize(SIDE + 2 * int(PAPER_MARGIN), SIDE + 2 * int(PAPER_MARGIN))
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def drag(qtbot, canvas: DrawingCanvas, points: list[tuple[int, int]]) -> None:
    """Press, move through `points`, release: one stroke as a mouse user draws it."""
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*points[0]))
    for p in points[1:]:
        qtbot.mouseMove(canvas, QPoint(*p))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*points[-1]))


def paper_points(canvas: DrawingCanvas) -> list[list[tuple[float, float]]]:
    return [[tuple(p) for p in s.tolist()] for s in canvas.strokes()]


def test_a_mouse_stroke_is_kept_as_points_in_paper_units(qtbot, canvas):
    origin = canvas.paper_rect().topLeft().toPoint()
    drag(qtbot, canvas, [(origin.x() + 100, origin.y() + 50), (origin.x() + 150, origin.y() + 200),
                         (origin.x() + 160, origin.y() + 300)])
    assert paper_points(canvas) == [[(100.0, 50.0), (150.0, 200.0), (160.0, 300.0)]]
    assert canvas.can_undo() and not canvas.is_drawing()


def test_moving_the_mouse_without_a_button_draws_nothing(qtbot, canvas):
    qtbot.mouseMove(canvas, QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(200, 200))
    assert canvas.is_empty()
    drag(qtbot, canvas, [(50, 50), (90, 90)])
    qtbot.mouseMove(canvas, QPoint(300, 300))  # after the release: hovering only
    assert len(canvas.strokes()) == 1 and len(canvas.strokes()[0]) == 2


def test_pen_down_up_and_every_point_are_signalled(qtbot, canvas):
    started, updated, finished, changed = [], [], [], []
    canvas.strokeStarted.connect(lambda: started.append(1))
    canvas.strokeUpdated.connect(lambda: updated.append(1))
    canvas.strokeFinished.connect(lambda: finished.append(1))
    canvas.contentChanged.connect(lambda: changed.append(1))
    drag(qtbot, canvas, [(50, 50), (60, 70), (80, 90), (100, 120)])
    assert (len(started), len(updated), len(finished), len(changed)) == (1, 3, 1, 1)


def test_a_click_without_moving_is_a_dot(qtbot, canvas):
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    assert [len(s) for s in canvas.strokes()] == [1]


def test_points_outside_the_paper_are_clamped_to_its_edge(qtbot):
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 300)  # wide: the paper is the centred square, empty bands left and right
    canvas.show()
    qtbot.waitExposed(canvas)
    paper = canvas.paper_rect()
    drag(qtbot, canvas, [(5, 150), (int(paper.center().x()), 150), (595, 150)])
    xs = canvas.strokes()[0][:, 0]
    assert xs[0] == 0.0 and xs[-1] == PAPER_SIZE and 0 < xs[1] < PAPER_SIZE


def test_resizing_the_window_keeps_the_drawing(qtbot, canvas):
    drag(qtbot, canvas, [(60, 60), (200, 300), (330, 120)])
    before = paper_points(canvas)
    start = canvas.from_paper(*before[0][0])
    canvas.resize(800, 620)
    qtbot.wait(1)
    assert paper_points(canvas) == before  # stored resolution-independently
    after = canvas.from_paper(*before[0][0])
    assert canvas.paper_rect().width() == 600
    assert after != start  # ...and drawn at the new scale
    image = canvas.grab().toImage()
    mid = canvas.from_paper(*np.mean([before[0][1], before[0][2]], axis=0))  # on the smoothed path
    dpr = image.devicePixelRatio()
    ink_there = QColor(image.pixel(round(mid.x() * dpr), round(mid.y() * dpr)))
    paper = canvas.palette().color(QPalette.ColorRole.Base)
    assert abs(ink_there.lightness() - paper.lightness()) > 100  # the stroke is painted where it now lies


def test_undo_redo_per_stroke_and_a_new_stroke_drops_the_redo(qtbot, canvas):
    drag(qtbot, canvas, [(50, 50), (100, 100)])
    drag(qtbot, canvas, [(200, 50), (250, 100)])
    canvas.undo()
    assert len(canvas.strokes()) == 1 and canvas.can_redo()
    canvas.redo()
    assert len(canvas.strokes()) == 2 and not canvas.can_redo()
    canvas.undo()
    drag(qtbot, canvas, [(300, 300), (320, 330)])
    assert not canvas.can_redo()
    assert paper_points(canvas)[-1][0] == (290.0, 290.0)


def test_clear_wipes_the_paper_and_undo_brings_the_drawing_back(qtbot, canvas):
    drag(qtbot, canvas, [(50, 50), (100, 100)])
    drag(qtbot, canvas, [(200, 50), (250, 100)])
    canvas.clear()
    assert canvas.is_empty()
    canvas.undo()
    assert len(canvas.strokes()) == 2
    canvas.redo()
    assert canvas.is_empty()


def test_an_image_replaces_the_drawing_until_one_draws_again(qtbot, canvas):
    drag(qtbot, canvas, [(50, 50), (100, 100)])
    picture = QImage(40, 60, QImage.Format.Format_RGB32)
    picture.fill(QColor("white"))
    canvas.set_image(picture, "digit.png")
    assert canvas.strokes() == [] and canvas.shown_image().source == "digit.png"
    drag(qtbot, canvas, [(120, 120), (180, 200)])
    assert canvas.shown_image() is None and len(canvas.strokes()) == 1
    canvas.undo()  # the stroke
    canvas.undo()  # drawing over the picture
    assert canvas.shown_image().source == "digit.png"
    canvas.undo()  # the picture itself
    assert len(canvas.strokes()) == 1 and canvas.shown_image() is None


def test_a_stylus_draws_with_pressure_changing_the_width(qtbot, canvas):
    pen = QPointingDevice("test stylus", 7, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                         QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 3)
    for kind, xy, pressure in [(QEvent.Type.TabletPress, (60, 60), 0.1), (QEvent.Type.TabletMove, (120, 160), 0.5),
                               (QEvent.Type.TabletRelease, (140, 260), 1.0)]:
        pos = QPointF(*xy)
        held = Qt.MouseButton.NoButton if kind == QEvent.Type.TabletRelease else Qt.MouseButton.LeftButton
        event = QTabletEvent(kind, pen, pos, canvas.mapToGlobal(pos), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, held)
        QApplication.sendEvent(canvas, event)
    [stroke] = canvas.drawing.finished
    assert len(stroke.points) == 3
    assert stroke.widths[0] < stroke.widths[1] < stroke.widths[2]
    canvas.grab()  # a pressure stroke paints without error


def test_a_finger_draws_too(qtbot, canvas):
    screen = QTest.createTouchDevice()
    QTest.touchEvent(canvas, screen).press(0, QPoint(100, 100), canvas).commit()
    QTest.touchEvent(canvas, screen).move(0, QPoint(150, 180), canvas).commit()
    QTest.touchEvent(canvas, screen).release(0, QPoint(170, 260), canvas).commit()
    assert paper_points(canvas) == [[(90.0, 90.0), (140.0, 170.0), (160.0, 250.0)]]


def test_pen_width_is_clamped_and_does_not_touch_the_strokes(qtbot, canvas):
    drag(qtbot, canvas, [(50, 50), (100, 100)])
    before = paper_points(canvas)
    canvas.set_pen_width(5.0)
    assert canvas.pen_width() <= 0.2
    canvas.set_pen_width(0.0)
    assert canvas.pen_width() > 0
    assert paper_points(canvas) == before


def test_dropping_files_on_the_paper_hands_them_on(qtbot, canvas, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "seven.png"))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    # QApplication does not deliver a drop without a real drag in progress: call the handler.
    with qtbot.waitSignal(canvas.filesDropped, timeout=1000) as blocker:
        canvas.dropEvent(event)
    assert blocker.args == [[str(tmp_path / "seven.png")]]


def test_clearing_in_the_middle_of_a_stroke_drops_it(qtbot, canvas):
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(150, 150))
    with qtbot.waitSignal(canvas.contentChanged, timeout=1000):
        canvas.clear()
    qtbot.mouseMove(canvas, QPoint(200, 200))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    assert canvas.is_empty() and not canvas.can_undo()


def ink_inside(canvas: DrawingCanvas, margin_px: float = 3.0) -> np.ndarray:
    """Grey levels of the rendered paper at pixels well inside the ink of the first stroke."""
    image = canvas.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    gray = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())[:, :width]
    line = np.array([[p.x(), p.y()] for p in (canvas.from_paper(x, y) for x, y in canvas.strokes()[0])])
    radius = canvas.pen_width() * canvas.paper_rect().width() / 2
    (x0, y0), (x1, y1) = np.floor(line.min(0) - radius).astype(int), np.ceil(line.max(0) + radius).astype(int)
    yy, xx = np.mgrid[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]  # only around the stroke
    centres = np.stack([xx + 0.5, yy + 0.5], -1).reshape(-1, 2)
    distance = np.full(len(centres), np.inf)
    for a, b in zip(line[:-1], line[1:], strict=True):
        t = np.clip((centres - a) @ (b - a) / max((b - a) @ (b - a), 1e-9), 0, 1)
        distance = np.minimum(distance, np.linalg.norm(centres - (a + t[:, None] * (b - a)), axis=1))
    inside = (distance < radius - margin_px).reshape(xx.shape)
    return gray[yy[inside], xx[inside]]


@pytest.mark.parametrize("shape", ["retraced", "hairpin"])
def test_ink_is_solid_where_a_stroke_doubles_back(qtbot, canvas, shape):
    from digitpad.draw.drawing import MAX_PEN_WIDTH

    canvas.set_pen_width(MAX_PEN_WIDTH)
    down = [(210, 90 + 4 * i) for i in range(60)]
    up = [(210, 326 - 4 * i) for i in range(60)] if shape == "retraced" else \
        [(220 + 2 * i, 326 - 4 * i) for i in range(60)]
    drag(qtbot, canvas, down + up)
    ink = ink_inside(canvas)
    assert ink.size > 5000
    assert ink.max() - ink.min() <= 2, f"{np.count_nonzero(ink > ink.min() + 2)} light pixels inside the ink"


def test_the_hint_goes_at_pen_down(qtbot, canvas):
    def hint_pixels() -> int:
        image = canvas.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
        gray = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
        return int(np.count_nonzero(gray[195:225, 60:360] < 235))  # the text's band, away from the stroke

    assert hint_pixels() > 50
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(30, 30))
    assert canvas.is_drawing() and hint_pixels() == 0
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(30, 30))

"""Several digits in one drawing, in the window: write "2026" with the mouse and read 2026.

The numbers are real pen digits of writers held out of the bundled model's training, laid out side by
side in paper units (digitpad.numbers.compose) and drawn with mouse press/move/release events.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit
from ui_helpers import densify, draw_paper_strokes, load_app_recognizer, open_window, temp_settings, to_widget

from digitpad.numbers.compose import compose_number
from trainer.sizes import PAPER_SIZE

WRITER = 2                 # a held-out writer whose "2026" the API reads right (tests/digitpad/numbers)
WIDE_WINDOW = (1400, 640)  # the paper is about 2:1 here: "2026" fits at a comfortable height
DIGIT_HEIGHT = 0.4 * PAPER_SIZE
SETTLE_MS = 15_000


@pytest.fixture(scope="module")
def recognizer():
    return load_app_recognizer()


@pytest.fixture(scope="module")
def heldout(pendigits_path):
    from trainer.pendigits import load_pendigits, split_by_writer

    return split_by_writer(load_pendigits(pendigits_path))[1]


@pytest.fixture
def window(qtbot, tmp_path, recognizer):
    return open_window(qtbot, recognizer, temp_settings(tmp_path), size=WIDE_WINDOW)


def first_of(digits, writer: int, label: int):
    return next(d for d in digits if d.writer == writer and d.label == label)


def number_strokes(heldout, labels, sheet_width: float, writer: int = WRITER) -> list[np.ndarray]:
    """The writer's digits side by side in paper units, shrunk if needed to fit the paper's width."""
    number = compose_number([first_of(heldout, writer, d) for d in labels], np.random.default_rng(writer),
                            height=DIGIT_HEIGHT)
    right = max(float(s[:, 0].max()) for s in number.strokes)
    scale = min(1.0, 0.95 * sheet_width / right)
    centre = np.array([0.0, PAPER_SIZE / 2])
    return [(s - centre) * scale + centre for s in number.strokes]


def settle(qtbot, tab) -> None:
    """Wait until the newest drawing's reading is on screen (signals of the GUI thread only)."""
    qtbot.waitUntil(lambda: not tab.is_busy() and tab.prediction() is not None, timeout=SETTLE_MS)


def draw_2026(qtbot, window, heldout) -> list[np.ndarray]:
    strokes = number_strokes(heldout, (2, 0, 2, 6), window.canvas.sheet_width())
    draw_paper_strokes(qtbot, window.canvas, strokes)
    settle(qtbot, window.draw_tab)
    return strokes


def test_2026_drawn_with_the_mouse_reads_2026(qtbot, window, recognizer, heldout):
    tab, canvas = window.draw_tab, window.canvas
    readings = []
    tab.readingChanged.connect(readings.append)
    draw_2026(qtbot, window, heldout)
    reading = tab.reading()
    assert reading is not None and reading.text == "2026"
    assert readings[-1] is reading
    # The window reads what the API reads on the same points.
    api = recognizer.predict_number(canvas.strokes())
    assert api.text == "2026" and api.groups == reading.groups
    # The number is the headline; the strip holds its four digits; each is outlined on the paper.
    assert tab.digit_display.digit_text() == "2026"
    assert tab.number_strip.isVisible() and tab.number_strip.count() == 4
    assert canvas.outlines() == reading.boxes and len(reading.boxes) == 4
    # The first digit is selected: its chances in the chart, its picture in the model's-eye view.
    np.testing.assert_array_equal(tab.bars.probabilities(), np.clip(reading.digits[0].probabilities, 0, 1))
    np.testing.assert_array_equal(tab.pixel_view.image(), reading.digits[0].image)


def test_clicking_a_digit_in_the_strip_shows_its_chances(qtbot, window, heldout):
    tab = window.draw_tab
    draw_2026(qtbot, window, heldout)
    reading = tab.reading()
    strip = tab.number_strip
    with qtbot.waitSignal(window.predictionChanged, timeout=2000) as blocker:
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=strip.tile_rect(3).center().toPoint())
    six = reading.digits[3]
    assert blocker.args[0] is six and window.prediction is six and six.digit == 6
    assert strip.selected() == 3
    np.testing.assert_array_equal(tab.bars.probabilities(), np.clip(six.probabilities, 0, 1))
    np.testing.assert_array_equal(tab.pixel_view.image(), six.image)
    assert tab.digit_display.digit_text() == "2026"  # the headline still shows the whole number


def test_ctrl_c_copies_the_number_and_leaves_text_fields_their_own_copy(qtbot, window, heldout):
    draw_2026(qtbot, window, heldout)
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("before")
    window.activateWindow()
    qtbot.keyClick(window.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == "2026"
    assert window.draw_tab.copy_action in window.menuBar().actions()[1].menu().actions()  # Edit > Copy Reading
    # In a text field (the Train tab's form), Ctrl+C copies the field's selected text.
    window.tabs.setCurrentIndex(1)
    field = next(f for f in window.train_tab.findChildren(QLineEdit) if f.isVisible() and f.text())
    field.setFocus()
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == field.text()


def test_two_digits_written_without_lifting_the_pen_read_as_a_number(qtbot, window, recognizer, heldout):
    from digitpad.numbers.compose import JOINED, join_pairs

    tab, canvas = window.draw_tab, window.canvas
    number = join_pairs(compose_number([first_of(heldout, WRITER, d) for d in (3, 2)], np.random.default_rng(WRITER),
                                       gaps=JOINED, height=DIGIT_HEIGHT), np.random.default_rng(WRITER))
    assert len(number.strokes) == 1  # the 3 runs on into the 2
    draw_paper_strokes(qtbot, canvas, number.strokes)
    settle(qtbot, tab)
    reading = tab.reading()
    assert reading is not None and reading.text == "32" and reading.groups == [[0], [0]]
    assert tab.number_strip.count() == 2 and canvas.outlines() == reading.boxes
    assert reading.boxes[0][2] <= reading.boxes[1][2]  # each outline holds its own digit's part of the stroke


def test_a_single_digit_looks_as_before(qtbot, window, heldout):
    tab, canvas = window.draw_tab, window.canvas
    four = next(d for d in heldout if d.label == 4 and len(d.strokes) == 2)  # a 4 in two strokes
    strokes = number_strokes(heldout, (4,), canvas.sheet_width(), writer=four.writer)
    assert len(strokes) == 2
    draw_paper_strokes(qtbot, canvas, strokes)
    settle(qtbot, tab)
    assert tab.reading() is None and tab.prediction().digit == 4
    assert tab.digit_display.digit_text() == "4"
    assert not tab.number_strip.isVisible() and canvas.outlines() == []
    window.activateWindow()
    qtbot.keyClick(canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "4"


def number_png(path, strokes, *, height=200, ink=0, paper=255, width=14):
    """A picture of a written number (strokes in paper units), as someone would scan it."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    scale = 0.7 * height / (hi[1] - lo[1])
    size = (int((hi[0] - lo[0]) * scale + 0.3 * height), height)
    img = Image.new("L", size, paper)
    pen = ImageDraw.Draw(img)
    offset = np.array([0.15 * height, 0.15 * height]) - lo * scale
    for stroke in strokes:
        pen.line([tuple(p * scale + offset) for p in stroke], fill=ink, width=width, joint="curve")
    img.save(path)
    return path


def test_a_picture_of_a_number_reads_the_number(qtbot, window, heldout, tmp_path):
    tab = window.draw_tab
    png = number_png(tmp_path / "year.png", number_strokes(heldout, (2, 0, 2, 6), 3 * PAPER_SIZE))
    assert window.open_image(png)
    settle(qtbot, tab)
    assert tab.reading() is not None and tab.reading().text == "2026"
    assert tab.number_strip.count() == 4 and tab.digit_display.digit_text() == "2026"
    assert window.canvas.outlines() == []  # component boxes are in the picture's pixels, not on the paper
    tab.clear_action.trigger()
    assert tab.reading() is None and not tab.number_strip.isVisible()


def test_the_paper_is_wide_in_a_wide_window_and_a_square_digit_stays_put(qtbot, tmp_path, recognizer):
    window = open_window(qtbot, recognizer, temp_settings(tmp_path), size=(2100, 620))  # the results column takes 320 px
    canvas = window.canvas
    sheet = canvas.sheet_rect()
    assert sheet.width() / sheet.height() >= 3.0 - 1e-6 and canvas.sheet_width() == pytest.approx(3 * PAPER_SIZE)
    # Units are fixed by the paper's height: x 0..PAPER_SIZE is the square at the paper's left end.
    square = canvas.paper_rect()
    assert square.left() == sheet.left() and square.width() == pytest.approx(sheet.height())
    draw_paper_strokes(qtbot, canvas, [[(100, 100), (300, 300)], [(1000, 100), (1150, 300)]])
    right = canvas.strokes()[1][:, 0].max()
    assert right == pytest.approx(1150, abs=1.0)
    # A narrower window shrinks the paper's scale so nothing drawn goes off the paper.
    window.resize(1000, 620)
    qtbot.waitUntil(lambda: canvas.sheet_rect().width() < sheet.width(), timeout=2000)
    assert canvas.sheet_width() >= right and canvas.sheet_rect().right() <= canvas.width()
    assert canvas.strokes()[1][:, 0].max() == right  # the drawing itself never changes
    # the whole line, not only its centre: the pen's half-width at the stroke's end stays on the paper too
    ink_edge = canvas.from_paper(right, 300).x() + canvas.pen_width() * canvas.paper_rect().width() / 2
    assert ink_edge <= canvas.sheet_rect().right() + 0.5


def test_the_number_is_read_live_while_the_last_digit_is_still_being_drawn(qtbot, window, heldout):
    tab, canvas = window.draw_tab, window.canvas
    strokes = number_strokes(heldout, (2, 0, 2, 6), canvas.sheet_width())
    draw_paper_strokes(qtbot, canvas, strokes[:-1])
    positions = to_widget(canvas, densify(strokes[-1]))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=positions[0])
    for pos in positions[1:]:
        qtbot.mouseMove(canvas, pos)
    # No release yet: the live timer asks for a reading of everything, the stroke in progress included.
    qtbot.waitUntil(lambda: tab.reading() is not None and len(tab.reading()) == 4 and not tab.is_busy(),
                    timeout=SETTLE_MS)
    assert canvas.is_drawing() and tab.reading().text == "2026"
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=positions[-1])


def reading_of(*digit_probs):
    """A NumberReading of digits with these (digit, probability, runner-up, its probability) readings."""
    from digitpad.numbers.reading import NumberReading
    from digitpad.recognizer import Prediction

    digits = []
    for digit, p, other, q in digit_probs:
        probs = np.full(10, (1 - p - q) / 8)
        probs[digit], probs[other] = p, q
        digits.append(Prediction(digit=digit, probabilities=probs, image=np.zeros((28, 28), np.float32)))
    boxes = [(100.0 * k, 100.0, 100.0 * k + 80, 250.0) for k in range(len(digits))]
    return NumberReading(digits=digits, groups=[[k] for k in range(len(digits))], boxes=boxes, confidence=0.9)


def test_a_selected_digit_stays_selected_while_the_number_keeps_its_length():
    from digitpad.draw.shown_number import ShownNumber

    shown = ShownNumber()
    shown.show(reading_of((2, 0.99, 3, 0.005), (0, 0.99, 6, 0.005), (2, 0.99, 7, 0.005)))
    assert shown.select(2) and shown.digit().digit == 2 and not shown.select(5)
    shown.show(reading_of((2, 0.99, 3, 0.005), (0, 0.99, 6, 0.005), (7, 0.99, 2, 0.005)))  # the next live reading
    assert shown.selected == 2 and shown.text() == "207"
    shown.show(reading_of((2, 0.99, 3, 0.005), (0, 0.99, 6, 0.005), (2, 0.99, 7, 0.005), (6, 0.9, 5, 0.05)))
    assert shown.selected == 0  # a digit more: the positions moved, start from the left again


def test_the_headline_names_a_doubtful_digit_and_its_two_candidates():
    from digitpad.draw.number_views import number_verdict

    headline, _, unsure = number_verdict(reading_of((2, 0.99, 3, 0.005), (4, 0.5, 9, 0.45)))
    assert unsure and headline == "Not sure of digit 2: 4 or 9?"
    headline, _, unsure = number_verdict(reading_of((2, 0.99, 3, 0.005), (4, 0.99, 9, 0.005)))
    assert not unsure and headline == "2 digits, 90% sure of them all"


@pytest.mark.parametrize("area", [(400, 400), (800, 400), (1200, 400), (2000, 400), (300, 600)])
def test_the_paper_widens_with_its_area_at_one_scale(area):
    from digitpad.draw.drawing import paper_layout

    scale, units = paper_layout(*area, max_ratio=3.0, content_right=0.0)
    assert scale == min(area) / PAPER_SIZE  # the height sets the scale (or a narrow area's width, as before)
    assert units == min(3 * PAPER_SIZE, max(PAPER_SIZE, area[0] / scale))
    # Drawn out to x = 1000, then shown in a narrower area: all of it, at a smaller scale.
    scale, units = paper_layout(800, 400, max_ratio=3.0, content_right=1000.0)
    assert units == 1000.0 and scale == 800 / 1000


def test_a_scribble_of_too_many_strokes_for_a_number_is_read_as_one_digit(recognizer):
    from digitpad.draw.shown_number import read_strokes
    from digitpad.numbers.strokes import MAX_STROKES
    from digitpad.recognizer import Prediction

    rng = np.random.default_rng(0)
    scribble = [rng.uniform(100, 300, (3, 2)) for _ in range(MAX_STROKES + 5)]
    reading = read_strokes(recognizer, scribble)
    assert isinstance(reading, Prediction)
    assert reading.probabilities == pytest.approx(recognizer.predict_strokes(scribble).probabilities)

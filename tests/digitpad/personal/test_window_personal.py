"""Learning a person's handwriting in the window: correct a reading, confirm one, and read with their model.

Every test's digits live in a database beside its own settings file, never in the user's. Tests that
store a digit wait for the rebuild it starts; the first rebuild of the module's recognizer builds the
replay features (seconds), later ones reuse them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from ui_helpers import draw_paper_strokes, load_app_recognizer, open_window, settled_prediction, temp_settings

from digitpad import settings as prefs
from digitpad.personal.session import PersonalState
from digitpad.personal.store import Store
from digitpad.personal.teach_panel import TeachPanel
from trainer.personal_examples import Example, ExampleKind
from trainer.personal_file import FORMAT_NAME
from trainer.sizes import PAPER_SIZE

SEVEN = [[(125, 95), (285, 95), (255, 150), (210, 230), (175, 330)]]
REBUILD_TIMEOUT_MS = 90_000  # the first rebuild builds the replay features: ~7 s alone, more on a busy machine


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    """The bundled image model opened from a file of its own (as `digitpad --model` does): read by the image
    model alone, whose quirks on writer 2's nines the pen-path view of the bundled recognizer already mends."""
    import shutil

    from digitpad.recognizer import Recognizer

    path = tmp_path_factory.mktemp("model") / "digitnet-image-only.pt"
    shutil.copy(load_app_recognizer().checkpoint.path, path)
    return Recognizer.load(path, device="cpu")


@pytest.fixture(scope="module")
def writer2_nines(pendigits_path, rec):
    """Writer 2's nines (a writer the bundled model never saw), on the paper; those the model reads as another digit."""
    from trainer.pendigits import load_pendigits, place_on_canvas, split_by_writer

    _, heldout = split_by_writer(load_pendigits(pendigits_path))
    nines = [place_on_canvas(d.strokes) for d in heldout if d.writer == 2 and d.label == 9]
    misread = [s for s in nines if rec.predict_strokes(s).digit != 9]
    assert len(misread) >= 6, "the bundled model changed: pick another writer's quirk"
    return nines, misread


@pytest.fixture
def settings(tmp_path):
    return temp_settings(tmp_path)


@pytest.fixture
def window(qtbot, rec, settings):
    return open_window(qtbot, rec, settings)


def store_of(window) -> Store:
    return window.personal.state.store


def draw(qtbot, window, strokes):
    window.draw_tab.clear_action.trigger()
    draw_paper_strokes(qtbot, window.canvas, strokes)
    return settled_prediction(qtbot, window)


def press(qtbot, window, key):
    window.activateWindow()
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, key)


def rebuilt(qtbot, window) -> None:
    """Wait until the personalized model for what is stored is in use (or the plain one, when switched off)."""
    state = window.personal.state
    qtbot.waitUntil(lambda: not state.rebuilding and state.personal_count == state.count(), timeout=REBUILD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.draw_tab.is_busy(), timeout=10_000)


def status_text(window) -> str:
    return window.personal.status_label.text().lower()


# ---------------------------------------------------------------------------------------- the state, without Qt


class FakeBase:
    name = "fake"


def test_a_rebuild_for_an_older_state_never_replaces_a_newer_one(tmp_path):
    with Store(tmp_path / "mine.sqlite") as store:
        state = PersonalState(store)
        base = FakeBase()
        state.set_base(base)
        state.record(Example.of([[(10, 10), (20, 200)]], 1), predicted=7, model="fake", kind=ExampleKind.CORRECTION)
        first = state.want_rebuild()
        assert first is not None and len(first.examples) == 1
        state.forget_drawing()
        state.record(Example.of([[(30, 10), (40, 200)]], 1), predicted=7, model="fake", kind=ExampleKind.CORRECTION)
        assert state.want_rebuild() is None  # one at a time: it follows the running one
        assert not state.rebuilt(first, "model of 1")
        assert state.personal is None
        second = state.follow_up()
        assert second is not None and len(second.examples) == 2
        assert state.rebuilt(second, "model of 2") and state.active() == "model of 2"
        assert state.follow_up() is None
        assert state.status_text() == "Personalized with 2 of your digits"
        state.use_mine = False
        assert state.active() is base and "not used" in state.status_text()


def test_telling_twice_about_the_same_drawing_keeps_the_second_answer(tmp_path):
    with Store(tmp_path / "mine.sqlite") as store:
        state = PersonalState(store)
        drawing = [[(10, 10), (20, 200)]]
        state.record(Example.of(drawing, 4), predicted=4, model="m", kind=ExampleKind.CONFIRMATION)
        state.record(Example.of(drawing, 7), predicted=4, model="m", kind=ExampleKind.CORRECTION)
        assert [(s.label, s.kind) for s in store.list()] == [(7, ExampleKind.CORRECTION)]
        state.learning = False
        assert state.record(Example.of(drawing, 1), predicted=4, model="m", kind=ExampleKind.CORRECTION) is None
        assert store.count() == 1


# ---------------------------------------------------------------------------------------- the window


def test_nothing_is_stored_when_learning_is_off_and_the_choice_is_remembered(qtbot, window, rec, settings):
    assert window.personal.bar.learning()  # on by default
    qtbot.mouseClick(window.draw_tab.correction.learn_box, Qt.MouseButton.LeftButton)
    assert not window.personal.learn_action.isChecked()
    draw(qtbot, window, SEVEN)
    press(qtbot, window, Qt.Key.Key_4)
    press(qtbot, window, Qt.Key.Key_Return)
    assert store_of(window).count() == 0
    assert window.personal.bar.feedback() == "Learning is off: nothing was kept"
    assert not window.personal.state.rebuilding
    assert prefs.read(settings, prefs.LEARN_FROM_CORRECTIONS) is False
    window.close()
    again = open_window(qtbot, rec, settings)
    assert not again.personal.learn_action.isChecked() and not again.personal.bar.learning()


def test_use_my_handwriting_is_a_visible_check_box_in_step_with_the_menu_and_remembered(qtbot, window, rec,
                                                                                       settings):
    box, action = window.personal.use_box, window.personal.use_action
    on_box = QPoint(8, box.height() // 2)  # a check box takes clicks on its indicator and text only
    assert box.isVisible() and box.isChecked() and action.isChecked()  # on by default
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=on_box)
    assert not box.isChecked() and not action.isChecked() and not window.personal.state.use_mine
    assert prefs.read(settings, prefs.USE_MY_HANDWRITING) is False
    action.trigger()  # the menu item switches the box back on
    assert box.isChecked() and window.personal.state.use_mine
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=on_box)
    window.close()
    again = open_window(qtbot, rec, settings)
    assert not again.personal.use_box.isChecked() and not again.personal.use_action.isChecked()


def test_digit_keys_on_an_empty_paper_store_nothing(qtbot, window):
    assert not window.draw_tab.correction.digit_buttons[3].isEnabled()
    press(qtbot, window, Qt.Key.Key_3)
    press(qtbot, window, Qt.Key.Key_Enter)
    assert store_of(window).count() == 0
    assert window.personal.status_label.isHidden()  # no digits of yours: nothing to say


def test_the_digits_live_beside_the_windows_own_settings(window, settings):
    assert store_of(window).path == Path(settings.fileName()).with_name("my-digits.sqlite")
    assert "&Personal" in [a.text() for a in window.menuBar().actions()]


def test_a_damaged_store_is_moved_aside_with_a_notice(qtbot, rec, settings, tmp_path):
    (tmp_path / "my-digits.sqlite").write_bytes(b"this is not a database" * 100)
    notices = []
    from digitpad.app import MainWindow

    window = MainWindow(rec, settings=settings)
    qtbot.addWidget(window)
    window.noticeShown.connect(notices.append)
    qtbot.waitUntil(lambda: bool(notices), timeout=5000)
    assert "could not be read" in notices[0]
    assert list(tmp_path.glob("my-digits.sqlite.damaged-*"))
    assert store_of(window).count() == 0


def test_a_pipe_is_refused_as_an_image_without_hanging(qtbot, window, tmp_path):
    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)
    errors = []
    window.errorShown.connect(errors.append)
    assert not window.open_image(fifo)
    assert errors and "FIFO" in errors[0]


@pytest.mark.slow
def test_a_corrected_misreading_teaches_the_window_the_writers_digit(qtbot, window, rec, writer2_nines):
    nines, misread = writer2_nines
    first = misread[0]
    said = draw(qtbot, window, first).digit
    assert said != 9
    assert window.personal.bar.question.text() == f"Not a {said}? Tell me:"
    press(qtbot, window, Qt.Key.Key_9)
    assert window.personal.bar.feedback() == "Learned: that was a 9"
    stored = store_of(window).list()
    assert [(s.label, s.predicted, s.kind, s.model) for s in stored] == [(9, said, ExampleKind.CORRECTION, rec.name)]
    points = np.concatenate([np.asarray(s) for s in stored[0].example.strokes])
    assert np.allclose(points, np.concatenate(window.canvas.strokes()))  # the paper's own units
    assert points.min() >= 0 and points.max() <= PAPER_SIZE
    rebuilt(qtbot, window)
    assert window.personal.active_recognizer() is not rec
    assert window.recognizer is rec  # the base model stays the window's model
    assert status_text(window) == "personalized with 1 of your digits"
    assert window.prediction.digit == 9  # the drawing on the paper is read again with the new model

    others = [s for s in nines if s is not first]
    now = [draw(qtbot, window, s).digit for s in others]
    base = [rec.predict_strokes(window_strokes).digit for window_strokes in others]
    assert np.mean(np.array(now) == 9) >= 0.9 > np.mean(np.array(base) == 9)

    window.personal.use_action.trigger()  # back to the plain model
    qtbot.waitUntil(lambda: window.personal.active_recognizer() is rec, timeout=5000)
    assert draw(qtbot, window, first).digit == said
    assert "plain model" in status_text(window)


@pytest.mark.slow
def test_enter_confirms_and_a_bar_click_corrects_the_same_drawing(qtbot, window):
    shown = draw(qtbot, window, SEVEN)
    press(qtbot, window, Qt.Key.Key_Return)
    assert [(s.label, s.kind) for s in store_of(window).list()] == [(shown.digit, ExampleKind.CONFIRMATION)]
    assert window.personal.bar.feedback() == f"Learned: that is a {shown.digit}"
    bars = window.draw_tab.bars
    column = (bars.width() - 4) / 10
    qtbot.mouseClick(bars, Qt.MouseButton.LeftButton, pos=QPoint(int(2 + 1.5 * column), bars.height() // 2))
    assert [(s.label, s.predicted, s.kind) for s in store_of(window).list()] == \
        [(1, shown.digit, ExampleKind.CORRECTION)]  # the slip replaced, not kept beside it
    rebuilt(qtbot, window)
    assert status_text(window) == "personalized with 1 of your digits"


@pytest.mark.slow
def test_import_names_bad_lines_and_keeps_the_rest(qtbot, window, tmp_path):
    good = '{"label": 7, "strokes": [[[125, 95], [285, 95], [175, 330]]]}'
    lines = [f'{{"format": "{FORMAT_NAME}", "version": 1, "paper_size": 400.0}}', good,
             '{"label": 12, "strokes": [[[1, 2], [3, 4]]]}', "not json", good]
    path = tmp_path / "class.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    notices = []
    window.noticeShown.connect(notices.append)
    assert window.personal.import_digits(path) == 2
    assert store_of(window).count() == 2
    assert "line 3:" in notices[0] and "line 4:" in notices[0]
    rebuilt(qtbot, window)
    assert status_text(window) == "personalized with 2 of your digits"
    out = tmp_path / "mine.jsonl"
    assert window.personal.export_digits(out) == 2
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


@pytest.mark.slow
def test_stored_digits_personalize_the_next_session_and_a_new_base_model(qtbot, rec, settings, tmp_path):
    from digitpad.recognizer import Recognizer

    with Store(tmp_path / "my-digits.sqlite") as store:  # where this window's settings keep its digits
        store.add_many([Example.of(SEVEN, 7), Example.of([[(200, 60), (200, 340)]], 1)], kind=ExampleKind.IMPORTED)
    window = open_window(qtbot, rec, settings)
    rebuilt(qtbot, window)  # at startup, without anything drawn
    assert status_text(window) == "personalized with 2 of your digits"
    other = Recognizer.load(rec.checkpoint.path, device="cpu")  # File > Open Model, or the Train tab's model
    window.set_recognizer(other)
    assert window.personal.active_recognizer() is other  # read with the new base at once
    rebuilt(qtbot, window)
    mine = window.personal.active_recognizer()
    assert window.personal.state.base is other and mine is not other
    assert mine.checkpoint.hparams["personalized"]["examples"] == 2


@pytest.mark.slow
def test_a_teaching_session_keeps_thirty_digits_and_shows_the_measured_change(qtbot, window, pendigits_path):
    from trainer.pendigits import load_pendigits, place_on_canvas, split_by_writer

    _, heldout = split_by_writer(load_pendigits(pendigits_path))
    by_digit = {d: [x for x in heldout if x.writer == 2 and x.label == d] for d in range(10)}
    panel = window.personal.start_teaching().findChild(TeachPanel)
    measured = []
    window.personal.teachMeasured.connect(measured.append)
    while panel.session.current is not None:
        digit = panel.session.current
        done = panel.session.progress[0]
        draw_paper_strokes(qtbot, window.canvas, place_on_canvas(by_digit[digit][done % len(by_digit[digit])].strokes))
        press(qtbot, window, Qt.Key.Key_Return)  # Enter on the paper answers the prompt while teaching
        assert window.canvas.is_empty()  # the drawing was taken off the paper
    stored = store_of(window).list()
    assert len(stored) == 30 and {s.kind for s in stored} == {ExampleKind.TAUGHT}
    assert sorted(s.label for s in stored) == sorted(panel.session.prompts)
    qtbot.waitUntil(lambda: bool(measured), timeout=REBUILD_TIMEOUT_MS)
    result = measured[0]
    assert result.count == 30 and 0.0 <= result.before <= 1.0 and 0.0 <= result.after <= 1.0
    assert panel.note.text() == result.summary()
    rebuilt(qtbot, window)
    assert status_text(window) == "personalized with 30 of your digits"


@pytest.mark.slow
def test_correcting_a_number_keeps_only_the_selected_digit(qtbot, rec, settings, pendigits_path):
    from digitpad.numbers.compose import compose_number
    from trainer.pendigits import load_pendigits, split_by_writer

    _, heldout = split_by_writer(load_pendigits(pendigits_path))
    digits = [next(d for d in heldout if d.writer == 2 and d.label == label) for label in (2, 6)]
    number = compose_number(digits, np.random.default_rng(2), height=0.4 * PAPER_SIZE)
    window = open_window(qtbot, rec, settings, size=(1400, 640))  # a wide paper
    draw_paper_strokes(qtbot, window.canvas, number.strokes)
    tab = window.draw_tab
    qtbot.waitUntil(lambda: not tab.is_busy() and tab.reading() is not None, timeout=15_000)
    reading = tab.reading()
    assert reading.text == "26"
    strip = tab.number_strip
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=strip.tile_rect(1).center().toPoint())
    assert window.personal.bar.question.text() == "Not a 6? Tell me:"
    press(qtbot, window, Qt.Key.Key_Return)
    stored = store_of(window).list()
    drawn = window.canvas.strokes()
    assert [(s.label, s.kind) for s in stored] == [(6, ExampleKind.CONFIRMATION)]
    kept = [np.asarray(s) for s in stored[0].example.strokes]
    assert len(kept) == len(reading.groups[1])
    assert all(np.allclose(k, drawn[i]) for k, i in zip(kept, reading.groups[1], strict=True))
    rebuilt(qtbot, window)


@pytest.mark.slow
def test_correcting_a_digit_of_a_stroke_cut_in_two_keeps_only_its_own_part(qtbot, rec, settings, pendigits_path):
    from digitpad.numbers.compose import JOINED, compose_number, join_pairs
    from trainer.pendigits import load_pendigits, split_by_writer

    _, heldout = split_by_writer(load_pendigits(pendigits_path))
    digits = [next(d for d in heldout if d.writer == 2 and d.label == label) for label in (3, 2)]
    rng = np.random.default_rng(2)
    number = join_pairs(compose_number(digits, rng, gaps=JOINED, height=0.4 * PAPER_SIZE), rng)
    assert len(number.strokes) == 1  # "32" without lifting the pen
    window = open_window(qtbot, rec, settings, size=(1400, 640))
    draw_paper_strokes(qtbot, window.canvas, number.strokes)
    tab = window.draw_tab
    qtbot.waitUntil(lambda: not tab.is_busy() and tab.reading() is not None, timeout=15_000)
    reading = tab.reading()
    assert reading.text == "32" and reading.groups == [[0], [0]]
    strip = tab.number_strip
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=strip.tile_rect(1).center().toPoint())
    press(qtbot, window, Qt.Key.Key_Return)   # "yes, a 2"
    stored = store_of(window).list()
    assert [(s.label, s.kind) for s in stored] == [(2, ExampleKind.CONFIRMATION)]
    (kept,) = [np.asarray(s) for s in stored[0].example.strokes]
    (stroke, first, stop), = reading.parts[1]
    drawn = window.canvas.strokes()[stroke]
    assert first > 0 and stop == len(drawn)            # the 2's part only: it starts at the cut
    np.testing.assert_allclose(kept, drawn[first:stop])
    rebuilt(qtbot, window)


def test_opening_a_model_says_what_its_file_had_dropped(qtbot, window, tmp_path):
    import torch

    from trainer.checkpoint import make_checkpoint, save_checkpoint
    from trainer.models import create_model

    torch.manual_seed(0)
    ckpt = make_checkpoint(create_model("cnn"), "cnn", {}, hparams={"seed": -3})
    path = save_checkpoint(ckpt, tmp_path / "odd-seed.pt")
    notices = []
    window.noticeShown.connect(notices.append)
    window.open_model(path)
    qtbot.waitUntil(lambda: bool(notices), timeout=15_000)
    assert "the training seed -3 was ignored" in notices[0]


def test_a_picture_on_the_paper_is_never_stored(qtbot, window, tmp_path):
    from PIL import Image, ImageDraw

    path = tmp_path / "seven.png"
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).line([(60, 40), (150, 40), (90, 170)], fill=0, width=14)
    img.save(path)
    assert window.open_image(path)
    qtbot.waitUntil(lambda: window.prediction is not None and not window.draw_tab.is_busy(), timeout=10_000)
    press(qtbot, window, Qt.Key.Key_4)
    assert store_of(window).count() == 0
    assert window.personal.bar.feedback() == "Only drawings are learned from, not pictures"

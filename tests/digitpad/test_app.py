"""The digitpad window, driven as a person drives it: draw, undo, open pictures and models."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage
from ui_helpers import (
    any_recognizer,
    densify,
    draw_paper_strokes,
    load_app_recognizer,
    open_window,
    settled_prediction,
    temp_settings,
    to_widget,
)

from digitpad.app import MainWindow, describe_model, launch
from digitpad.draw.tab import UNSURE_BELOW, verdict
from digitpad.recognizer import Views

# Digits in paper units (the paper is 400 x 400, y down), drawn the way people write them.
ONE = [[(205, 70), (200, 200), (196, 330)]]
SEVEN = [[(125, 95), (285, 95), (255, 150), (210, 230), (175, 330)]]
ZERO = [[(200 + 85 * np.sin(t), 200 - 125 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]]
SEVEN_IN_TWO_STROKES = [[(125, 95), (285, 95)], [(285, 95), (240, 180), (185, 330)]]


@pytest.fixture(scope="module")
def recognizer():
    return load_app_recognizer()


@pytest.fixture
def settings(tmp_path):
    return temp_settings(tmp_path)


@pytest.fixture
def window(qtbot, recognizer, settings):
    """The window with the trained model: for tests that check what it reads."""
    return open_window(qtbot, recognizer, settings)


@pytest.fixture(scope="module")
def any_rec(tmp_path_factory):
    return any_recognizer(tmp_path_factory.mktemp("model"))


@pytest.fixture
def any_window(qtbot, any_rec, settings):
    """The window with any model: for tests of the plumbing, not of the reading."""
    return open_window(qtbot, any_rec, settings)


def draw(qtbot, window, strokes):
    draw_paper_strokes(qtbot, window.canvas, strokes)
    return settled_prediction(qtbot, window)


def key(qtbot, window, k, modifiers=Qt.KeyboardModifier.NoModifier):
    window.activateWindow()
    qtbot.keyClick(window.canvas, k, modifiers)


def digit_png(path, strokes, *, size=280, ink=0, paper=255, width=22):
    """A picture of a digit as someone would scan or export it (strokes in 0-400 units)."""
    img = Image.new("L", (size, size), paper)
    pen = ImageDraw.Draw(img)
    for stroke in strokes:
        pen.line([(x * size / 400, y * size / 400) for x, y in stroke], fill=ink, width=width, joint="curve")
    img.save(path)
    return path


# ---------------------------------------------------------------------------------------- drawing


@pytest.mark.parametrize(("strokes", "digit"), [(ONE, 1), (SEVEN, 7), (ZERO, 0)], ids=["1", "7", "0"])
def test_drawing_a_digit_shows_it(qtbot, window, strokes, digit):
    with qtbot.waitSignal(window.predictionChanged, timeout=10_000,
                          check_params_cb=lambda _p: not window.draw_tab.is_busy()) as blocker:
        draw_paper_strokes(qtbot, window.canvas, strokes)
    shown = blocker.args[0]
    assert shown.digit == digit
    tab = window.draw_tab
    assert tab.digit_display.digit_text() == str(digit)
    np.testing.assert_array_equal(tab.bars.probabilities(), np.clip(shown.probabilities, 0, 1))
    np.testing.assert_array_equal(tab.pixel_view.image(), shown.image)
    assert tab.pixel_view.image().max() > 0.9  # the model saw ink


def test_the_verdict_follows_the_pen_while_it_is_still_down(qtbot, any_window):
    window = any_window
    canvas = window.canvas
    positions = to_widget(canvas, densify(SEVEN[0]))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=positions[0])
    for pos in positions[1:]:
        qtbot.mouseMove(canvas, pos)
    with qtbot.waitSignal(window.predictionChanged, timeout=5000):
        pass  # no release yet: the live timer asks for a reading
    assert canvas.is_drawing()
    live = window.prediction
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=positions[-1])
    final = settled_prediction(qtbot, window)
    assert final is not live  # pen-up reads the finished stroke again
    assert not window.draw_tab.is_busy()


def test_recognition_runs_off_the_gui_thread(qtbot, any_window, any_rec):
    window, recognizer = any_window, any_rec
    threads = []

    class Watching:
        """The real recognizer, noting which thread asks it."""

        def __getattr__(self, name):
            return getattr(recognizer, name)

        def predict_strokes(self, strokes):
            threads.append(threading.current_thread())
            return recognizer.predict_strokes(strokes)

    window.set_recognizer(Watching())
    assert draw(qtbot, window, SEVEN) is not None
    assert threads and threading.main_thread() not in threads


def test_undo_redo_and_clear_from_the_keyboard(qtbot, window):
    first = draw(qtbot, window, SEVEN_IN_TWO_STROKES)
    assert first.digit == 7
    with qtbot.waitSignal(window.predictionChanged, timeout=5000):
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the diagonal
    assert len(window.canvas.strokes()) == 1
    with qtbot.waitSignal(window.predictionChanged, timeout=5000):
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(window.canvas.strokes()) == 2
    assert settled_prediction(qtbot, window).digit == 7
    with qtbot.waitSignal(window.predictionCleared, timeout=1000):
        key(qtbot, window, Qt.Key.Key_Escape)
    assert window.canvas.is_empty() and window.prediction is None
    assert window.draw_tab.digit_display.digit_text() == ""
    with qtbot.waitSignal(window.predictionChanged, timeout=5000):
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the clear is undone
    assert settled_prediction(qtbot, window).digit == 7
    key(qtbot, window, Qt.Key.Key_Delete)
    assert window.canvas.is_empty()
    key(qtbot, window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # redo, Windows style: nothing to redo
    assert window.canvas.is_empty()


def test_clear_button_and_menu_actions_are_wired(qtbot, any_window):
    window = any_window
    draw(qtbot, window, ONE)
    assert window.draw_tab.undo_action.isEnabled() and not window.draw_tab.redo_action.isEnabled()
    window.draw_tab.clear_action.trigger()
    assert window.canvas.is_empty()
    assert window.draw_tab.undo_action.toolTip() and window.draw_tab.clear_action.toolTip()


@pytest.mark.parametrize(
    ("probabilities", "unsure", "words"),
    [
        ([0, 0, 0, 0, 0.52, 0, 0, 0, 0, 0.48], True, "Not sure: 4 or 9?"),
        ([0, 0, 0, 0, 0, 0, 0, 0.97, 0.03, 0], False, "97% sure"),
        ([0, 0, 0, 0.99996, 0, 0, 0, 0, 0.00004, 0], False, "99.9% sure"),
    ],
)
def test_low_confidence_is_said_plainly(probabilities, unsure, words):
    headline, detail, is_unsure = verdict(np.array(probabilities), int(np.argmax(probabilities)))
    assert (headline, is_unsure) == (words, unsure)
    assert detail
    assert UNSURE_BELOW > 0.5


# ---------------------------------------------------------------------------------------- pictures


def test_opening_a_png_reads_it_and_shows_it(qtbot, window, tmp_path):
    path = digit_png(tmp_path / "seven.png", SEVEN)
    with qtbot.waitSignal(window.predictionChanged, timeout=10_000):
        assert window.open_image(path)
    assert window.prediction.digit == 7
    assert window.canvas.shown_image() is not None and window.canvas.strokes() == []


def test_light_ink_on_dark_pictures_are_read_too(qtbot, window, tmp_path):
    path = digit_png(tmp_path / "one.png", ONE, ink=255, paper=0)
    with qtbot.waitSignal(window.predictionChanged, timeout=10_000):
        window.open_image(path)
    assert window.prediction.digit == 1


def test_an_unreadable_picture_says_so(qtbot, any_window, tmp_path):
    window = any_window
    path = tmp_path / "not-a-picture.png"
    path.write_bytes(b"hello")
    with qtbot.waitSignal(window.errorShown, timeout=1000):
        assert not window.open_image(path)


def test_pasting_a_picture_reads_it(qtbot, window, tmp_path):
    QGuiApplication.clipboard().setImage(QImage(str(digit_png(tmp_path / "zero.png", ZERO))))
    with qtbot.waitSignal(window.predictionChanged, timeout=10_000):
        key(qtbot, window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.prediction.digit == 0


def test_dropping_a_picture_on_the_canvas_reads_it(qtbot, window, tmp_path):
    path = digit_png(tmp_path / "one.png", ONE)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.predictionChanged, timeout=10_000):
        window.canvas.dropEvent(drop)  # a real drag cannot run offscreen: deliver the drop itself
    assert window.prediction.digit == 1


# ---------------------------------------------------------------------------------------- models


def test_the_status_bar_names_the_model_its_accuracy_and_device(any_window, any_rec):
    window, recognizer = any_window, any_rec
    text = window.model_label.text()
    assert recognizer.name in text and recognizer.arch in text and recognizer.device_name in text
    assert recognizer.drawing_models in text  # "digitnet + penseq": drawings are read by both
    # the architecture is named where the name does not say it: "mine (cnn)", not "digitnet (digitnet)"
    assert (f"({recognizer.arch})" in text) == (recognizer.arch != recognizer.name)
    if recognizer.test_accuracy is not None:
        assert f"{recognizer.test_accuracy:.2%}" in text
    assert text == describe_model(recognizer)


def test_the_status_bar_says_when_drawings_are_read_by_both_models_and_why_not(window, recognizer):
    from digitpad.recognizer import Recognizer

    if recognizer.sequence is not None:  # the bundled recognizer: its pen-path view is named
        assert f"{recognizer.name} + {recognizer.sequence.checkpoint.name}" in window.model_label.text()
    note = "no penseq.pt: drawings are read by the image model alone"
    alone = Recognizer(recognizer.model, recognizer.checkpoint, recognizer.device, None, note)
    window.set_recognizer(alone)
    assert "+" not in window.model_label.text() and note in window.model_label.toolTip()


def test_a_broken_model_file_shows_an_error_and_keeps_the_model(qtbot, any_window, any_rec, tmp_path):
    window, recognizer = any_window, any_rec
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is not a checkpoint")
    status = window.model_label.text()
    with qtbot.waitSignal(window.errorShown, timeout=10_000) as blocker:
        window.open_model(bad)
    assert "broken.pt" in blocker.args[0]
    assert window.recognizer is recognizer and window.model_label.text() == status
    with qtbot.waitSignal(window.predictionChanged, timeout=10_000):  # still reading, with the old model
        draw_paper_strokes(qtbot, window.canvas, ONE)


def test_opening_another_model_swaps_it_in_and_rereads_the_drawing(qtbot, any_window, any_rec, tmp_path):
    window, recognizer = any_window, any_rec
    before = draw(qtbot, window, SEVEN)
    other = tmp_path / "other-model.pt"
    shutil.copy(recognizer.checkpoint.path, other)
    with qtbot.waitSignal(window.recognizerChanged, timeout=10_000) as swapped, \
            qtbot.waitSignal(window.predictionChanged, timeout=10_000):
        window.open_model(other)
    assert swapped.args[0] is window.recognizer is not recognizer
    assert "other-model" in window.model_label.text()
    assert window.prediction is not before  # the drawing was read again by the new model
    # the same image weights; a model opened from a path is read by its image model alone (no pen-path view)
    assert window.prediction.digit == before.digit
    np.testing.assert_allclose(window.prediction.probabilities, recognizer.predict_mnist_image(before.image, Views.ONE).probabilities,
                               atol=1e-6)


def test_dropping_a_model_file_opens_it(qtbot, any_window, any_rec, tmp_path):
    window, recognizer = any_window, any_rec
    other = tmp_path / "dropped.pt"
    shutil.copy(recognizer.checkpoint.path, other)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.recognizerChanged, timeout=10_000):
        window.canvas.dropEvent(drop)
    assert window.recognizer.name == "dropped"


def test_the_train_tab_can_hand_over_a_model(qtbot, any_window, any_rec):
    window, recognizer = any_window, any_rec
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Draw", "Train", "Network"]
    assert window.tabs.widget(1).isAncestorOf(window.train_tab)
    from digitpad.recognizer import Recognizer

    fresh = Recognizer.from_checkpoint(recognizer.checkpoint, device="cpu")
    with qtbot.waitSignal(window.recognizerChanged, timeout=1000):
        window.train_tab.useModelRequested.emit(fresh)
    assert window.recognizer is fresh


def test_a_bad_model_at_launch_is_reported_and_the_bundled_model_used(qtbot, settings, tmp_path, capfd):
    load_app_recognizer()  # skips when there is no model at all
    from digitpad.recognizer import bundled_model_path

    if not bundled_model_path().is_file():
        pytest.skip("needs the bundled model to fall back to")
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"\x80\x02 not a model")
    window = MainWindow(None, settings=settings)
    qtbot.addWidget(window)
    assert window.recognizer is None and "Loading" in window.model_label.text()
    with qtbot.waitSignal(window.noticeShown, timeout=30_000) as notice:
        window.launch_load(bad, "cpu")
    assert "garbage.pt" in notice.args[0] and "bundled" in notice.args[0]
    assert window.recognizer is not None and window.recognizer.checkpoint.path == bundled_model_path()
    assert "garbage.pt" in capfd.readouterr().err


def test_cuda_requested_without_cuda_falls_back_to_the_cpu(any_rec):
    recognizer = any_rec
    import torch

    from digitpad.draw.recognition import load_recognizer

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    outcome = load_recognizer(recognizer.checkpoint.path, "cuda")
    assert outcome.recognizer.device_name == "CPU"
    assert any("CUDA" in note and "CPU" in note for note in outcome.notes)


def test_startup_shows_the_window_before_the_model_is_loaded(qtbot, settings, any_rec):
    window = launch(any_rec.checkpoint.path, "cpu", settings=settings)
    qtbot.addWidget(window)
    assert window.isVisible() and window.recognizer is None
    with qtbot.waitSignal(window.recognizerChanged, timeout=30_000):
        pass
    assert "Model:" in window.model_label.text()
    assert window.train_tab is None  # built when first opened, never while someone draws
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: window.train_tab is not None, timeout=10_000)
    assert window.tabs.widget(1).isAncestorOf(window.train_tab) and window.tabs.currentIndex() == 1


# ---------------------------------------------------------------------------------------- the rest


def test_about_box_shows_the_model(qtbot, any_window, any_rec):
    window, recognizer = any_window, any_rec
    dialog = window.show_about()
    text = dialog.browser.toPlainText()
    assert recognizer.name in text and recognizer.arch in text
    dialog.close()


def test_pen_width_and_window_size_are_remembered(qtbot, any_rec, settings):
    recognizer = any_rec
    first = open_window(qtbot, recognizer, settings, size=(1200, 690))
    first.draw_tab.set_pen_width(0.08)
    first.close()
    second = MainWindow(recognizer, settings=settings)
    qtbot.addWidget(second)
    assert second.draw_tab.pen_width() == pytest.approx(0.08)
    # The offscreen screen is 800 px wide, so only the height comes back unclamped.
    assert second.size().height() == 690


def test_command_line_version_help_and_predict_without_qt():
    from digitpad import __version__

    run = [sys.executable, "-m", "digitpad.cli"]
    version = subprocess.run([*run, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and __version__ in version.stdout
    helptext = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=60)
    assert helptext.returncode == 0 and "--model" in helptext.stdout and "--device" in helptext.stdout
    assert "predict" in helptext.stdout
    check = ("import sys; from digitpad.cli import main; rc = main(['predict', '--help']); "
             "assert 'PySide6' not in sys.modules, 'predict imported Qt'; sys.exit(rc)")
    predict = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert predict.returncode == 0, predict.stderr
    assert "digitpad predict" in predict.stdout
    bad = subprocess.run([*run, "--device", "tpu"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


# ---------------------------------------------------------------------------------------- models, named and remembered


def test_a_model_handed_over_with_a_name_is_called_by_it(qtbot, any_window, any_rec):
    window, recognizer = any_window, any_rec
    with qtbot.waitSignal(window.recognizerChanged, timeout=1000):
        window.set_recognizer(recognizer, name="run 2 · cnn · 98.0%")
    assert window.model_label.text() == f"Model: run 2 · cnn · 98.0% · {recognizer.device_name}"


def test_models_opened_are_listed_under_recent_models_and_the_bundled_model_comes_back(
        qtbot, any_window, any_rec, tmp_path, settings):
    from digitpad.recognizer import bundled_model_path

    window, recognizer = any_window, any_rec
    if not bundled_model_path().is_file():
        pytest.skip("needs the bundled model")
    other = tmp_path / "mine.pt"
    shutil.copy(recognizer.checkpoint.path, other)
    with qtbot.waitSignal(window.recognizerChanged, timeout=10_000):
        window.open_model(other)
    assert window.recent_models() == [other.resolve()]
    assert [a.text() for a in window.recent_menu.actions()] == ["mine.pt"]
    with qtbot.waitSignal(window.recognizerChanged, timeout=10_000):
        window.bundled_model_action.trigger()
    assert window.recognizer.checkpoint.path == bundled_model_path()
    assert window.recent_models() == [other.resolve()]  # the bundled model is not a "recent" one
    second = MainWindow(recognizer, settings=settings)  # remembered for the next session
    qtbot.addWidget(second)
    assert second.recent_models() == [other.resolve()]
    other.unlink()
    assert second.recent_models() == []  # a file that is gone is not offered


def test_a_long_message_wraps_and_its_full_text_is_under_details(qtbot, any_window):
    from PySide6.QtWidgets import QLabel

    window = any_window
    message = ("Could not load the model /home/someone/Downloads/a-model-file-with-a-long-name-shared-by-a-friend.pt: "
               "not a PyTorch model file, or it is damaged (not a zip archive) " * 8)
    box = window.show_error("Could not load the model", message)
    qtbot.waitExposed(box)
    assert box.detailedText() == message
    label = box.findChild(QLabel, "qt_msgbox_informativelabel")
    assert label.wordWrap() and label.width() <= box.width()
    assert label.height() >= label.heightForWidth(label.width())  # every line of it fits
    short = window.show_notice("CUDA was requested but is not available on this machine: using the CPU instead.")
    qtbot.waitExposed(short)
    assert not short.detailedText()
    label = short.findChild(QLabel, "qt_msgbox_informativelabel")
    assert label.height() >= label.heightForWidth(label.width())
    box.close()
    short.close()


def test_the_about_box_summarizes_the_model_for_a_user(qtbot, any_window, any_rec):
    window, recognizer = any_window, any_rec
    dialog = window.show_about()
    text = dialog.browser.toPlainText()
    for label in ("Model", "Data", "Accuracy", "Size"):
        assert label in text
    assert f"{sum(p.numel() for p in recognizer.model.parameters()):,} parameters" in text
    if recognizer.test_accuracy is not None:
        assert f"{recognizer.test_accuracy:.2%}" in text
    assert "```" not in text and "## " not in text  # no raw markdown of the card
    dialog.close()


def test_the_about_box_opens_the_bundled_models_full_card(qtbot, any_window):
    from digitpad.about import model_card_path
    from digitpad.recognizer import Recognizer, bundled_model_path

    if not bundled_model_path().is_file() or model_card_path() is None:
        pytest.skip("needs the bundled model and its card")
    window = any_window
    window.set_recognizer(Recognizer.load(None, device="cpu"))
    dialog = window.show_about()
    assert dialog.card_button is not None and dialog.card_path == model_card_path()
    dialog.close()

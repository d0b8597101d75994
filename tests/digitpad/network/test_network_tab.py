"""The Network tab, driven as a person drives it: draw on the Draw tab, look inside the model, compare models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from ui_helpers import (
    densify,
    draw_paper_strokes,
    load_app_recognizer,
    open_window,
    settled_prediction,
    temp_settings,
    to_widget,
)

from digitpad.recognizer import Recognizer
from trainer.checkpoint import make_checkpoint
from trainer.models import create_model

ONE = [[(200, 60), (200, 340)]]
WAIT_MS = 10_000


@pytest.fixture
def window(qtbot, tmp_path):
    return open_window(qtbot, load_app_recognizer(), temp_settings(tmp_path), size=(1060, 720))


def show_network(qtbot, window):
    window.tabs.setCurrentWidget(window.network_tab)
    qtbot.waitUntil(lambda: window.network_tab.reading is not None, timeout=WAIT_MS)
    return window.network_tab


def test_drawing_a_one_fills_the_layers_and_the_saliency(qtbot, window):
    tab = window.network_tab
    assert tab.reading is None and not tab.saliency_view.has_picture()
    draw_paper_strokes(qtbot, window.canvas, ONE)
    assert settled_prediction(qtbot, window).digit == 1
    show_network(qtbot, window)
    x = tab.reading.explanation
    assert x.prediction.digit == 1 and tab.picker.shown() == 1
    assert [name for name, _label, _mosaic in tab._rows] == \
        [name for name, kind, _v in x.layers if kind in ("conv", "pool", "dense")]
    assert all(mosaic.count() == len(values) for (_n, _l, mosaic), (_n2, _k, values)
               in zip(tab._rows, tab._layers, strict=True))
    assert tab.saliency_view.has_picture() and "Why a 1?" in tab.saliency_caption.text()
    assert tab.filters_view.count() == x.filters().shape[0]
    window.canvas.clear()
    qtbot.waitUntil(lambda: tab.reading is None and not tab.saliency_view.has_picture(), timeout=WAIT_MS)


def test_the_tab_follows_the_drawing_while_it_is_shown(qtbot, window):
    draw_paper_strokes(qtbot, window.canvas, ONE)
    tab = show_network(qtbot, window)
    first = tab.reading
    window.canvas.undo()                       # Ctrl+Z on the paper: the 1 is gone
    qtbot.waitUntil(lambda: tab.reading is None, timeout=WAIT_MS)
    window.canvas.redo()
    qtbot.waitUntil(lambda: tab.reading is not None and tab.reading is not first, timeout=WAIT_MS)
    assert tab.reading.explanation.prediction.digit == 1


def test_why_not_a_seven_shows_the_sevens_saliency(qtbot, window):
    draw_paper_strokes(qtbot, window.canvas, ONE)
    tab = show_network(qtbot, window)
    before = tab.reading
    tab.picker._group.button(7).click()
    qtbot.waitUntil(lambda: tab.reading is not before and tab.reading.shown_digit == 7, timeout=WAIT_MS)
    assert "Why not a 7?" in tab.saliency_caption.text()
    np.testing.assert_allclose(tab.reading.saliency, tab.reading.explanation.saliency(7))


def test_clicking_a_tile_enlarges_it_with_its_value_range(qtbot, window):
    draw_paper_strokes(qtbot, window.canvas, ONE)
    tab = show_network(qtbot, window)
    name, _label, mosaic = tab._rows[0]
    qtbot.mouseClick(mosaic, Qt.MouseButton.LeftButton, pos=mosaic.tile_rect(2).center().toPoint())
    values = dict((n, v) for n, _k, v in tab._layers)[name][2]
    caption = tab.enlarged_caption.text()
    assert f"{name}</b> map 3 of" in caption and f"{values.min():.3g} … {values.max():.3g}" in caption
    assert tab.enlarged.has_picture()
    qtbot.mouseClick(tab.filters_view, Qt.MouseButton.LeftButton, pos=QPoint(3, 3))
    assert "filter 1</b>" in tab.enlarged_caption.text()


def test_a_model_put_to_use_joins_the_comparison_strip(qtbot, window):
    draw_paper_strokes(qtbot, window.canvas, ONE)
    tab = show_network(qtbot, window)
    bundled = window.recognizer
    trained = dataclasses.replace(bundled.checkpoint, path=None)           # a run of this session: no file
    fresh = Recognizer.from_checkpoint(trained, device="cpu")               # what the Train tab hands over
    window.train_tab.useModelRequested.emit(fresh)
    qtbot.waitUntil(lambda: len(tab.comparison.cards()) == 2 and all(p is not None for _l, p in tab.comparison.cards()),
                    timeout=WAIT_MS)
    assert [p.digit for _l, p in tab.comparison.cards()] == [1, 1]
    assert tab.models.current is fresh and tab.comparison._current == 1
    mlp = Recognizer.from_checkpoint(make_checkpoint(create_model("fnn"), "fnn", {}), device="cpu")
    window.set_recognizer(mlp, name="run 3 · fnn")
    qtbot.waitUntil(lambda: [label for label, _p in tab.comparison.cards()][-1:] == ["run 3 · fnn"]
                    and tab.comparison.cards()[-1][1] is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tab.filters_view.count() == 128, timeout=WAIT_MS)   # fc1's units, as 28x28 images
    assert len(tab.comparison.cards()) == 3


def test_in_its_own_window_it_follows_the_pen_while_the_digit_is_drawn(qtbot, window):
    tab = window.network_tab
    qtbot.mouseClick(tab.window_button, Qt.MouseButton.LeftButton)
    assert tab.is_detached() and window.tabs.currentWidget() is window.draw_tab
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Draw", "Train"]
    qtbot.waitExposed(tab.window())
    positions = to_widget(window.canvas, densify(ONE[0]))
    qtbot.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=positions[0])
    for pos in positions[1:]:
        qtbot.mouseMove(window.canvas, pos)
    qtbot.waitUntil(lambda: tab.reading is not None, timeout=WAIT_MS)   # the pen is still down
    assert window.canvas.is_drawing()
    qtbot.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=positions[-1])
    tab.window().close()
    qtbot.waitUntil(lambda: not tab.is_detached(), timeout=WAIT_MS)
    assert window.tabs.tabText(window.tabs.count() - 1) == "Network"

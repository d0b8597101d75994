"""Driving the digitpad window the way a person does: mouse strokes on the canvas, then the verdict."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

TEST_MODEL_ENV = "DIGITPAD_TEST_MODEL"  # optional: a checkpoint to test the app with instead of the bundled one
STEP = 8.0                              # paper units between the mouse positions of a drawn stroke
SETTLE_TIMEOUT_MS = 10_000


def load_app_recognizer():
    """The bundled model (or $DIGITPAD_TEST_MODEL), or skip with the reason."""
    from digitpad.recognizer import Recognizer, bundled_model_path

    override = os.environ.get(TEST_MODEL_ENV)
    path = Path(override) if override else bundled_model_path()
    if not path.is_file():
        pytest.skip(f"no model to test the app with: {path} is missing (train it, or set {TEST_MODEL_ENV})")
    return Recognizer.load(path, device="cpu")


def any_recognizer(directory: Path):
    """A model for tests that do not judge the reading: the trained one when there, else an untrained cnn."""
    from digitpad.recognizer import Recognizer, bundled_model_path

    override = os.environ.get(TEST_MODEL_ENV)
    path = Path(override) if override else bundled_model_path()
    if not path.is_file():
        import torch

        from trainer.checkpoint import make_checkpoint, save_checkpoint
        from trainer.models import create_model

        torch.manual_seed(0)
        ckpt = make_checkpoint(create_model("cnn"), "cnn", {}, metrics={"test_accuracy": 0.1})
        path = save_checkpoint(ckpt, Path(directory) / "untrained-cnn.pt")
    return Recognizer.load(path, device="cpu")


def temp_settings(tmp_path: Path) -> QSettings:
    """A settings file of the test's own: never the user's."""
    return QSettings(str(tmp_path / "digitpad-test.ini"), QSettings.Format.IniFormat)


def open_window(qtbot, recognizer, settings: QSettings, size=(1200, 780)):
    from digitpad.app import MainWindow

    window = MainWindow(recognizer, settings=settings)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    return window


def densify(points, step: float = STEP) -> list[tuple[float, float]]:
    """Points every `step` units along the polyline: what a mouse reports during a drag."""
    pts = np.asarray(points, dtype=np.float64)
    out = [tuple(pts[0])]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out.extend(tuple(a + (b - a) * t) for t in np.arange(1, n + 1) / n)
    return out


def to_widget(canvas, paper_points) -> list[QPoint]:
    """Paper units -> integer widget positions (mouse events carry whole logical pixels)."""
    return [canvas.from_paper(x, y).toPoint() for x, y in paper_points]


def mouse_stroke(qtbot, canvas, positions: list[QPoint]) -> None:
    """Press at the first position, move through the rest, release at the last."""
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=positions[0])
    for pos in positions[1:]:
        qtbot.mouseMove(canvas, pos)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=positions[-1])


def draw_paper_strokes(qtbot, canvas, strokes) -> None:
    """Draw strokes given in paper units (0-400, y down) with the mouse."""
    for stroke in strokes:
        mouse_stroke(qtbot, canvas, to_widget(canvas, densify(stroke)))


def settled_prediction(qtbot, window, timeout: int = SETTLE_TIMEOUT_MS):
    """The verdict for everything drawn so far, once the newest request is answered."""
    tab = window.draw_tab
    if tab.is_busy():
        with qtbot.waitSignal(window.predictionChanged, timeout=timeout, check_params_cb=lambda _p: not tab.is_busy()):
            pass
    return window.prediction

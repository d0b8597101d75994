"""The Draw tab: the paper on the left, what the model reads on the right.

Wiring and wording only. The canvas captures strokes; this tab sends them to the recognition
worker (after every pen-up, and throttled while the pen moves) and shows the answers it gets
back by signal. Answers to outdated requests are dropped by sequence number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QFont, QGuiApplication, QImage, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from digitpad.draw.canvas import DrawingCanvas
from digitpad.draw.correction import CorrectionBar
from digitpad.draw.drawing import DEFAULT_PEN_WIDTH, MAX_PEN_WIDTH, MIN_PEN_WIDTH
from digitpad.draw.number_views import NumberStrip, NumberView
from digitpad.draw.recognition import Kind, RecognitionWorker, Request
from digitpad.draw.views import DigitDisplay, PixelView, ProbabilityBars, percent
from trainer.sizes import IMAGE_SIZE

if TYPE_CHECKING:
    from digitpad.numbers.reading import NumberReading
    from digitpad.recognizer import Prediction, Recognizer

LIVE_INTERVAL_MS = 60        # while the pen moves, recognize at most every 60 ms (~16 Hz)
# "Not sure: a or b?" unless the best digit leads the runner-up by at least this much (so a sure
# verdict is always at least 60% sure, and two close digits are never hidden behind one).
UNSURE_BELOW = 0.60
PEN_SLIDER_SCALE = 200       # slider value = pen width (fraction of the paper) x this
PANEL_WIDTH = 320            # the results column, logical px
PAPER_RATIO = 3.0            # the paper grows up to 3 times as wide as tall: room to write a number
# Opened and pasted pictures are kept at most this big: more than the paper can show on any screen, and
# 4 MB instead of 64 MB for a 4000 x 4000 photo (the model reads a 28 x 28 image of it anyway).
MAX_SHOWN_IMAGE = 1024


def verdict(probabilities: np.ndarray, digit: int) -> tuple[str, str, bool]:
    """(headline, detail, unsure) in plain words for ten probabilities and the predicted digit."""
    order = sorted(range(len(probabilities)), key=lambda d: -probabilities[d])
    first, second = order[0], order[1]
    p1, p2 = float(probabilities[first]), float(probabilities[second])
    if p1 - p2 < UNSURE_BELOW:
        return f"Not sure: {first} or {second}?", f"{first}: {percent(p1)}   ·   {second}: {percent(p2)}", True
    detail = f"next best: {second} ({percent(p2)})" if p2 >= 0.005 else "no other digit comes close"
    return f"{percent(p1)} sure", detail, False


def _scrolled_column(panel: QWidget) -> QScrollArea:
    """The results column scrolls on a short screen (800 x 600) instead of setting the window's height."""
    scroll = QScrollArea(panel.parentWidget())
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.viewport().setAutoFillBackground(False)
    panel.setAutoFillBackground(False)
    scroll.setFixedWidth(PANEL_WIDTH + scroll.verticalScrollBar().sizeHint().width())
    return scroll


def qimage_to_rgba(image: QImage) -> np.ndarray:
    """A QImage as an (H, W, 4) uint8 RGBA array (a copy), for the recognizer's image path."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = rgba.height(), rgba.width()
    buffer = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=rgba.sizeInBytes())
    return buffer.reshape(h, rgba.bytesPerLine())[:, : w * 4].reshape(h, w, 4).copy()


def section_label(text: str) -> QLabel:
    """A small, muted heading above a panel section."""
    label = QLabel(text.upper())
    font = QFont(label.font())
    font.setPointSizeF(max(font.pointSizeF() * 0.85, 7.5))
    font.setWeight(QFont.Weight.DemiBold)
    font.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 108)
    label.setFont(font)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class DrawTab(QWidget):
    """Drawing pad plus live verdict, probability bars and the model's-eye view."""

    # The Prediction now shown (of a number: the digit selected in the strip).
    predictionChanged = Signal(object)
    # The NumberReading now shown (two digits or more), or None when one digit or nothing is shown.
    readingChanged = Signal(object)
    # Nothing is shown any more (the paper was cleared or emptied by undo).
    predictionCleared = Signal()
    # A one-line message for the status bar (recognition problems).
    messageRaised = Signal(str)
    # The pen width changed (fraction of the paper side), for the settings.
    penWidthChanged = Signal(float)

    def __init__(self, worker: RecognitionWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._recognizer: Recognizer | None = None
        self._prediction: Prediction | None = None
        self._seq = 0            # last request number handed out
        self._valid_from = 0     # answers to requests older than this are about a drawing that is gone
        self._shown = 0          # request number of the answer on screen
        self._answered = 0       # newest request number answered in any way
        self._dirty = False      # the stroke in progress changed since the last live request
        self._editing = True     # drawing shortcuts active (the Draw tab is shown)
        self._no_model = False   # loading failed and there is no model at all

        self.canvas = DrawingCanvas(self)
        self.digit_display = DigitDisplay(self)
        self.bars = ProbabilityBars(self)
        self.pixel_view = PixelView(self)
        self.correction = CorrectionBar(self)  # wired by digitpad.personal.controls
        self.number_strip = NumberStrip(self)
        self._number = NumberView(self.number_strip, self.canvas, self.digit_display, self.bars, self.pixel_view, self)
        self.canvas.set_max_paper_ratio(PAPER_RATIO)
        self._live_timer = QTimer(self)
        self._live_timer.setInterval(LIVE_INTERVAL_MS)
        self._make_actions()
        self._build_layout()
        self._connect()
        self._show_idle()

    # ------------------------------------------------------------------ construction

    def _make_actions(self) -> None:
        self.undo_action = QAction("&Undo", self)
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setToolTip("Take back the last stroke (Ctrl+Z)")
        self.redo_action = QAction("&Redo", self)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setToolTip("Put the stroke back (Ctrl+Shift+Z or Ctrl+Y)")
        self.clear_action = QAction("&Clear", self)
        self.clear_action.setShortcuts([QKeySequence(Qt.Key.Key_Escape), QKeySequence(Qt.Key.Key_Delete)])
        self.clear_action.setToolTip("Wipe the paper (Esc or Delete; Ctrl+Z brings it back)")
        self.undo_action.setEnabled(False)
        self.redo_action.setEnabled(False)
        self.copy_action = QAction("&Copy Reading", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)  # text fields keep Ctrl+C (ShortcutOverride)
        self.copy_action.setToolTip("Copy the number (or the digit) read as text (Ctrl+C)")
        self.copy_action.setEnabled(False)
        self.copy_action.triggered.connect(self.copy_reading)
        self.undo_action.triggered.connect(self.canvas.undo)
        self.redo_action.triggered.connect(self.canvas.redo)
        self.clear_action.triggered.connect(self.canvas.clear)

    def _build_layout(self) -> None:
        self._pen_slider = QSlider(Qt.Orientation.Horizontal, self)
        self._pen_slider.setRange(round(MIN_PEN_WIDTH * PEN_SLIDER_SCALE), round(MAX_PEN_WIDTH * PEN_SLIDER_SCALE))
        self._pen_slider.setValue(round(DEFAULT_PEN_WIDTH * PEN_SLIDER_SCALE))
        self._pen_slider.setFixedWidth(120)
        self._pen_slider.setToolTip("Ink width on the paper (only the look: the model sees the same digit)")
        pen_label = QLabel("Pen", self)
        pen_label.setBuddy(self._pen_slider)

        tools = QHBoxLayout()
        tools.setSpacing(6)
        for action in (self.undo_action, self.redo_action, self.clear_action):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setAutoRaise(False)
            tools.addWidget(button)
        self.open_image_button = QToolButton(self)
        self.open_image_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tools.addStretch(1)
        tools.addWidget(pen_label)
        tools.addWidget(self._pen_slider)
        tools.addSpacing(8)
        tools.addWidget(self.open_image_button)

        left = QVBoxLayout()
        left.setSpacing(8)
        left.addWidget(self.canvas, 1)
        left.addWidget(self.number_strip)  # under the paper: the panel beside it has no height to spare
        left.addLayout(tools)

        panel = QFrame(self)
        panel.setFixedWidth(PANEL_WIDTH)
        column = QVBoxLayout(panel)
        column.setContentsMargins(4, 6, 0, 0)
        column.setSpacing(6)
        column.addWidget(self.digit_display)
        column.addWidget(self.correction)
        column.addSpacing(10)
        column.addWidget(section_label("Probabilities"))
        column.addWidget(self.bars, 1)
        column.addSpacing(10)
        column.addWidget(section_label(f"What the model sees ({IMAGE_SIZE} × {IMAGE_SIZE})"))
        column.addWidget(self.pixel_view, 0)
        # 9 px a cell when there is room; down to 6 on a short screen (the correction bar takes ~70 px above)
        self.pixel_view.setMinimumSize(IMAGE_SIZE * 6, IMAGE_SIZE * 6)
        self.pixel_view.setMaximumHeight(IMAGE_SIZE * 9)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(14)
        outer.addLayout(left, 1)
        outer.addWidget(_scrolled_column(panel))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _connect(self) -> None:
        canvas = self.canvas
        canvas.strokeStarted.connect(self._live_timer.start)
        canvas.strokeUpdated.connect(self._mark_dirty)
        canvas.strokeFinished.connect(self._live_timer.stop)
        canvas.contentChanged.connect(self.recognize_now)
        canvas.undoAvailable.connect(self._update_actions)
        canvas.redoAvailable.connect(self._update_actions)
        self._live_timer.timeout.connect(self._live_tick)
        self._pen_slider.valueChanged.connect(self._pen_slider_moved)
        self._worker.predicted.connect(self._on_predicted)
        self._worker.numberRead.connect(self._on_number)
        self._number.selectionChanged.connect(self._on_digit_selected)
        self._worker.nothingDrawn.connect(self._on_nothing)
        self._worker.failed.connect(self._on_failed)

    # ------------------------------------------------------------------ public API

    def set_recognizer(self, recognizer: Recognizer) -> None:
        """Use `recognizer` from now on and read what is on the paper again with it."""
        self._recognizer = recognizer
        self._no_model = False
        if self.canvas.is_empty():
            self._show_idle()
        else:
            self.recognize_now()

    def prediction(self) -> Prediction | None:
        """The Prediction on screen (of a number: the digit selected in the strip), or None."""
        return self._prediction

    def reading(self) -> NumberReading | None:
        """The number on screen (two digits or more), or None."""
        return self._number.reading()

    def reading_text(self) -> str:
        """What Ctrl+C copies: the number, the single digit, or "" when nothing is read."""
        if self._number.reading() is not None:
            return self._number.state.text()
        return "" if self._prediction is None else str(self._prediction.digit)

    @Slot()
    def copy_reading(self) -> None:
        """Put the number (or the digit) read on the clipboard as text."""
        if text := self.reading_text():
            QGuiApplication.clipboard().setText(text)
            self.messageRaised.emit(f"Copied {text}")

    def is_busy(self) -> bool:
        """True while the newest request has not been answered yet."""
        return self._answered < self._seq and self._seq >= self._valid_from and self._recognizer is not None

    def show_image(self, image: QImage, path: str | None = None) -> None:
        """Put a picture on the paper and read it: from `path`, or (pasted, dropped) from the picture itself."""
        if max(image.width(), image.height()) > MAX_SHOWN_IMAGE:  # a photo: keep memory and repaints small
            image = image.scaled(MAX_SHOWN_IMAGE, MAX_SHOWN_IMAGE, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        self.canvas.set_image(image, path if path is not None else qimage_to_rgba(image))

    def pen_width(self) -> float:
        return self.canvas.pen_width()

    def set_pen_width(self, fraction: float) -> None:
        self._pen_slider.setValue(round(fraction * PEN_SLIDER_SCALE))
        self.canvas.set_pen_width(fraction)

    def set_editing_enabled(self, enabled: bool) -> None:
        """Turn the drawing shortcuts on or off (off while another tab is shown)."""
        self._editing = enabled
        self._update_actions()

    @Slot()
    def _update_actions(self) -> None:
        self.clear_action.setEnabled(self._editing)
        self.undo_action.setEnabled(self._editing and self.canvas.can_undo())
        self.redo_action.setEnabled(self._editing and self.canvas.can_redo())
        self.copy_action.setEnabled(self._editing and self._prediction is not None)

    # ------------------------------------------------------------------ requests

    @Slot()
    def recognize_now(self) -> None:
        """Read what is on the paper now (a finished stroke, undo/redo, an image)."""
        self._dirty = False
        if not self.canvas.is_drawing():
            self._live_timer.stop()
        if self.canvas.is_empty():
            self._valid_from = self._seq + 1  # whatever is still in flight is about a drawing that is gone
            self._show_idle()
            self.predictionCleared.emit()
            return
        self._submit()

    def _submit(self) -> None:
        if self._recognizer is None:
            self._show_waiting()
            return
        image = self.canvas.shown_image()
        self._seq += 1
        if image is not None:
            request = Request(self._seq, self._recognizer, Kind.IMAGE, image.source)
        else:
            request = Request(self._seq, self._recognizer, Kind.STROKES, self.canvas.strokes())
        self._worker.submit(request)

    @Slot()
    def _mark_dirty(self) -> None:
        self._dirty = True

    @Slot()
    def _live_tick(self) -> None:
        if self._dirty and self.canvas.is_drawing():
            self._dirty = False
            self._submit()

    @Slot(int)
    def _pen_slider_moved(self, value: int) -> None:
        self.canvas.set_pen_width(value / PEN_SLIDER_SCALE)
        self.penWidthChanged.emit(self.canvas.pen_width())

    # ------------------------------------------------------------------ answers

    def _fresh(self, seq: int) -> bool:
        """Record an answer; True when it is newer than what is shown and about the current drawing."""
        self._answered = max(self._answered, seq)
        if seq < self._valid_from or seq <= self._shown:
            return False
        self._shown = seq
        return True

    @Slot(int, object)
    def _on_predicted(self, seq: int, prediction: Prediction) -> None:
        if not self._fresh(seq):
            return
        self._leave_number()
        self._prediction = prediction
        self._update_actions()
        headline, detail, unsure = verdict(prediction.probabilities, prediction.digit)
        self.digit_display.show_result(prediction.digit, headline, detail, unsure)
        self.bars.set_probabilities(prediction.probabilities)
        self.pixel_view.set_image(prediction.image)
        self.predictionChanged.emit(prediction)

    @Slot(int, object)
    def _on_number(self, seq: int, reading: NumberReading) -> None:
        if not self._fresh(seq):
            return
        self._prediction = self._number.show(reading, on_paper=self.canvas.shown_image() is None)
        self._update_actions()
        self.readingChanged.emit(reading)
        self.predictionChanged.emit(self._prediction)

    @Slot(object)
    def _on_digit_selected(self, prediction: Prediction) -> None:
        self._prediction = prediction
        self.predictionChanged.emit(prediction)

    def _leave_number(self) -> None:
        """One digit or nothing is shown now: no strip, no outlines (listeners hear of it if a number was shown)."""
        if self._number.reading() is not None:
            self._number.hide()
            self.readingChanged.emit(None)

    @Slot(int, str)
    def _on_nothing(self, seq: int, message: str) -> None:
        if self._fresh(seq):
            self._clear_result("Nothing to read", "The picture looks blank.")
            self.predictionCleared.emit()

    @Slot(int, str)
    def _on_failed(self, seq: int, message: str) -> None:
        if self._fresh(seq):
            self._clear_result("Could not read that", message)
            self.messageRaised.emit(message)
            self.predictionCleared.emit()

    # ------------------------------------------------------------------ states

    def _clear_result(self, headline: str, detail: str) -> None:
        self._leave_number()
        self._prediction = None
        self._update_actions()
        self.digit_display.show_result(None, headline, detail)
        self.bars.set_probabilities(None)
        self.pixel_view.set_image(None)

    def _show_idle(self) -> None:
        if self._recognizer is None:
            self._show_waiting()
        else:
            self._clear_result("Draw a digit", "Or a number: the model reads it as you write.")

    def show_no_model(self) -> None:
        """No model could be loaded: say what to do instead of waiting forever."""
        self._recognizer = None
        self._no_model = True
        self._show_waiting()

    def _show_waiting(self) -> None:
        if self._no_model:
            self._clear_result("No model loaded", "Open one with File → Open Model…, or train one on the Train tab.")
        else:
            self._clear_result("Loading model…", "Draw away: your digit is read as soon as the model is ready.")

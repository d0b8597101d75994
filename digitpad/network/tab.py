"""The Network tab: what each layer of the model in use makes of the current drawing, and why it answers.

It follows the Draw tab: every digit the Draw tab reads (live while drawing, a picture opened, the
digit picked in a number) is sent here as the 28x28 image the model saw. While the tab is shown,
that image goes to the recognition worker as an EXPLAIN request (after any recognition waiting
there, so drawing never waits); answers to outdated requests are dropped by sequence number.
Hidden, the tab only remembers the image and asks when it is shown again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shiboken6
from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from digitpad.draw.recognition import Kind, RecognitionWorker, Request
from digitpad.draw.tab import DrawTab, section_label
from digitpad.draw.views import percent
from digitpad.network.compare import ComparisonStrip
from digitpad.network.mosaic import Mosaic
from digitpad.network.query import NetworkReading, Query
from digitpad.network.session import SessionModels
from digitpad.network.views import DigitPicker, EnlargedView, OutputView, SaliencyView

if TYPE_CHECKING:
    from digitpad.recognizer import Prediction, Recognizer

SHOWN_KINDS = ("conv", "pool", "dense")   # BatchNorm and ReLU steps are left out of the view (not of x.layers)
LEFT_WIDTH = 250                          # the input/saliency column, logical px
SALIENCY_PX = 224                         # 28 x 8
ENLARGED_PX = 128                         # (the column fits a 800 x 600 window)
WINDOW_SIZE = QSize(900, 640)             # the view in a window of its own
IDLE_TEXT = "Draw a digit on the Draw tab (Ctrl+1): this tab shows what each layer of the model makes of it."


def _describe(name: str, kind: str, values: np.ndarray) -> str:
    shape = f"{values.shape[0]} maps {values.shape[1]}×{values.shape[2]}" if values.ndim == 3 else \
        f"{values.size} units"
    return f"<b>{name}</b> · {kind} · {shape}"


def _square(values: np.ndarray) -> np.ndarray:
    """Units laid out in a square (padded with zeros) so they can be enlarged like a map."""
    side = int(np.ceil(np.sqrt(values.size)))
    out = np.zeros(side * side, np.float32)
    out[: values.size] = values
    return out.reshape(side, side)


class NetworkTab(QWidget):
    """Layers, output, learned filters, saliency with a digit picker, and the session's models compared."""

    def __init__(self, worker: RecognitionWorker, draw_tab: DrawTab, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self.models = SessionModels()
        self._image: np.ndarray | None = None   # what the Draw tab's model saw last (None: nothing drawn)
        self._digit: int | None = None          # saliency of this digit (None: the predicted one)
        self._seq = self._shown = self._valid_from = 0
        self._stale = False                     # the image changed while the tab was hidden
        self.reading: NetworkReading | None = None
        self._rows: list[tuple[str, QLabel, Mosaic]] = []
        self._layers: list[tuple[str, str, np.ndarray]] = []
        self._filters: np.ndarray | None = None
        self._filters_of: Recognizer | None = None     # the model whose filters are shown
        self._selected: tuple[str, int] | None = None   # (layer name or "filters", tile index)
        self._tabs: QTabWidget | None = None
        self._window: NetworkWindow | None = None
        self._build()
        worker.explained.connect(self._on_explained)
        worker.explainFailed.connect(self._on_failed)
        draw_tab.predictionChanged.connect(self.follow)
        draw_tab.predictionCleared.connect(self.clear)
        self._show_idle()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.saliency_view = SaliencyView("Nothing drawn yet", self)
        self.saliency_view.setFixedSize(SALIENCY_PX, SALIENCY_PX)
        self.picker = DigitPicker(self)
        self.picker.digitPicked.connect(self._pick_digit)
        self.saliency_caption = QLabel(self)
        self.saliency_caption.setWordWrap(True)
        self.enlarged = EnlargedView("Click a tile to see it here", self)
        self.enlarged.setFixedSize(ENLARGED_PX, ENLARGED_PX)
        self.enlarged_caption = QLabel(self)
        self.enlarged_caption.setWordWrap(True)
        left = QVBoxLayout()
        left.setSpacing(6)
        left.addWidget(section_label("What the model looked at"))
        left.addWidget(self.saliency_view)
        left.addWidget(self.picker)
        left.addWidget(self.saliency_caption)
        left.addSpacing(6)
        left.addWidget(section_label("Enlarged"))
        left.addWidget(self.enlarged)
        left.addWidget(self.enlarged_caption)
        left.addStretch(1)
        column = QFrame(self)
        column.setFixedWidth(LEFT_WIDTH)
        column.setLayout(left)

        self.model_caption = QLabel(self)
        self.output_view = OutputView(self)
        self.output_view.digitClicked.connect(self._pick_digit)
        self.filters_caption = QLabel(self)
        self.filters_caption.setWordWrap(True)
        self.filters_view = Mosaic(self)
        self.filters_view.tileClicked.connect(lambda i: self._select("filters", i))
        content = QWidget()
        self._content = QVBoxLayout(content)
        self._content.setContentsMargins(0, 0, 8, 0)
        self._layer_box = QVBoxLayout()
        self._layer_box.setSpacing(4)
        self._content.addWidget(section_label("Layers, in forward order"))
        self._content.addLayout(self._layer_box)
        self._content.addWidget(section_label("Output: probability (logit under each digit)"))
        self._content.addWidget(self.output_view)
        self._content.addSpacing(6)
        self._content.addWidget(section_label("Learned filters"))
        self._content.addWidget(self.filters_caption)
        self._content.addWidget(self.filters_view)
        self._content.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(content)

        self.comparison = ComparisonStrip(self)
        compare_scroll = QScrollArea(self)
        compare_scroll.setWidget(self.comparison)
        compare_scroll.setWidgetResizable(True)
        compare_scroll.setFrameShape(QFrame.Shape.NoFrame)
        compare_scroll.setFixedHeight(self.comparison.height() + 14)  # room for a horizontal scroll bar
        self.window_button = QToolButton(self)
        self.window_button.setToolTip("Watch the network in a window of its own while you draw on the Draw tab")
        self.window_button.clicked.connect(self.toggle_window)
        header = QHBoxLayout()
        header.addWidget(self.model_caption, 1)
        header.addWidget(self.window_button)
        right = QVBoxLayout()
        right.addLayout(header)
        right.addWidget(self.scroll, 1)
        right.addWidget(section_label("Compare models: every model of this session reads the same digit"))
        right.addWidget(compare_scroll)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 6)
        outer.setSpacing(14)
        outer.addWidget(column)
        outer.addLayout(right, 1)

    @classmethod
    def add_to(cls, tabs: QTabWidget, worker: RecognitionWorker, draw_tab: DrawTab) -> NetworkTab:
        """The tab, added as the last of `tabs` (the main window's)."""
        tab = cls(worker, draw_tab, tabs)
        tab._tabs = tabs
        tab._attach()
        return tab

    def is_detached(self) -> bool:
        return self._window is not None

    @Slot()
    def toggle_window(self) -> None:
        """Move the view into a window of its own beside the Draw tab (live while drawing), or back to its tab."""
        if self._tabs is None or not shiboken6.isValid(self._tabs):  # the main window is gone
            return
        if self._window is None:
            self._tabs.removeTab(self._tabs.indexOf(self))
            self._window = NetworkWindow(self, self._tabs.window())
            self._window.show()
            self._tabs.setCurrentIndex(0)  # the Draw tab: draw there, watch here
        else:
            window, self._window = self._window, None
            window.release()
            self._attach()
            self._tabs.setCurrentWidget(self)

    def _attach(self) -> None:
        index = self._tabs.addTab(self, "Network")
        self._tabs.setTabToolTip(index, "See inside the model: each layer's output, its filters, the pixels it looked "
                                        "at, and every model of the session on the same drawing")
        self.window_button.setText("Open in a Window")

    # ------------------------------------------------------------------ following the app

    def set_recognizer(self, recognizer: Recognizer, name: str | None = None) -> None:
        """The model now in use (it joins the comparison); its filters are shown with the next answer."""
        self.models.use(recognizer, name)
        self.comparison.set_cards([(label, None) for label in self.models.labels()], self.models.current_index())
        self._submit()

    @Slot(object)
    def follow(self, prediction: Prediction) -> None:
        """The Draw tab reads a digit: look inside the model for the image it saw."""
        self._image = prediction.image
        self._submit()

    @Slot()
    def clear(self) -> None:
        """Nothing on the paper: answers still in flight are about a drawing that is gone."""
        self._image, self._digit = None, None
        self._valid_from = self._seq + 1
        self._show_idle()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._submit()

    def _submit(self) -> None:
        recognizer = self.models.current
        if self._image is None or recognizer is None:
            return
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self._seq += 1
        query = Query(self._image, self._digit, tuple(self.models.entries))
        self._worker.submit(Request(self._seq, recognizer, Kind.EXPLAIN, query))

    @Slot(int)
    def _pick_digit(self, digit: int) -> None:
        self._digit = None if digit < 0 else digit
        self._submit()

    # ------------------------------------------------------------------ answers

    @Slot(int, object)
    def _on_explained(self, seq: int, reading: NetworkReading) -> None:
        if seq < self._valid_from or seq <= self._shown:
            return
        self._shown = seq
        self.reading = reading
        x = reading.explanation
        if x is None:
            return
        prediction = x.prediction
        label = next((label for label, rec in self.models.entries if rec is reading.recognizer), "The model")
        self.model_caption.setText(f"<b>{label}</b> reads <b>{prediction.digit}</b> "
                                   f"({percent(prediction.confidence)} sure)")
        self.saliency_view.set_saliency(prediction.image, reading.saliency)
        shown = reading.shown_digit
        self.picker.show_state(prediction.digit, shown)
        why = "Why" if shown == prediction.digit else "Why not"
        self.saliency_caption.setText(f"{why} a {shown}? <span style='color:#b2182b'>Red</span>: ink that speaks "
                                      f"for {shown}; <span style='color:#2166ac'>blue</span>: against. "
                                      f"({x.method.value}; pick another digit above)")
        self._show_layers([layer for layer in x.layers if layer[1] in SHOWN_KINDS])
        self.output_view.set_outputs(x.logits, prediction.probabilities)
        if self._filters_of is not reading.recognizer:
            self._filters_of = reading.recognizer
            self._show_filters(x)
        readings = dict(reading.readings)
        self.comparison.set_cards([(label, readings.get(label)) for label in self.models.labels()],
                                  self.models.current_index())
        self._refresh_enlarged()

    @Slot(int, str)
    def _on_failed(self, seq: int, message: str) -> None:
        if seq >= self._valid_from and seq > self._shown:
            self._shown = seq
            self.model_caption.setText(message[:200])

    def _show_layers(self, layers: list[tuple[str, str, np.ndarray]]) -> None:
        """Update the rows in place when the layers are the same as before, else build them anew."""
        if [(n, v.shape) for n, _k, v in layers] != [(n, v.shape) for n, _k, v in self._layers]:
            for _name, label, mosaic in self._rows:
                label.deleteLater()
                mosaic.deleteLater()
            self._rows = []
            for name, _kind, _values in layers:
                label, mosaic = QLabel(self), Mosaic(self)
                mosaic.tileClicked.connect(lambda i, n=name: self._select(n, i))
                self._layer_box.addWidget(label)
                self._layer_box.addWidget(mosaic)
                self._rows.append((name, label, mosaic))
        self._layers = layers
        for (name, kind, values), (_n, label, mosaic) in zip(layers, self._rows, strict=True):
            label.setText(_describe(name, kind, values))
            mosaic.set_values(values, centred=values.ndim == 1)

    def _show_filters(self, x) -> None:
        try:
            filters = x.filters()
        except ValueError as exc:
            self._filters = None
            self.filters_caption.setText(str(exc))
            self.filters_view.set_values(np.zeros((0, 1, 1), np.float32))
            return
        if filters.ndim == 4:  # (out, in, k, k): the first input channel (MNIST has one)
            self._filters = filters[:, 0]
            text = f"The first convolution's {len(filters)} kernels ({filters.shape[2]}×{filters.shape[3]})"
        else:
            self._filters = filters
            text = f"Each of the first dense layer's {len(filters)} units: its 784 weights as a 28×28 image"
        self.filters_caption.setText(f"{text}; <span style='color:#2166ac'>blue</span> below zero, "
                                     f"<span style='color:#b2182b'>red</span> above.")
        self.filters_view.set_values(self._filters, centred=True)

    # ------------------------------------------------------------------ the enlarged tile

    def _select(self, where: str, index: int) -> None:
        self._selected = (where, index)
        for name, _label, mosaic in self._rows:
            mosaic.select(index if name == where else None)
        self.filters_view.select(index if where == "filters" else None)
        self._refresh_enlarged()

    def _refresh_enlarged(self) -> None:
        if self._selected is None:
            return
        where, index = self._selected
        if where == "filters" and self._filters is not None and index < len(self._filters):
            span = self.enlarged.show_map(self._filters[index], centred=True)
            self.enlarged_caption.setText(f"<b>filter {index + 1}</b> of {len(self._filters)} · weights {span}")
            return
        for name, _kind, values in self._layers:
            if name == where and index < len(values):
                if values.ndim == 3:
                    span = self.enlarged.show_map(values[index])
                    text = f"<b>{name}</b> map {index + 1} of {len(values)} · values {span}"
                else:
                    span = self.enlarged.show_map(_square(values), centred=True)
                    text = f"<b>{name}</b> unit {index + 1}: {float(values[index]):.3g} · layer {span}"
                self.enlarged_caption.setText(text)
                return

    def _show_idle(self) -> None:
        self.reading = None
        self._show_layers([])
        self.saliency_view.set_saliency(None, None)
        self.picker.show_state(None, None)
        self.saliency_caption.setText(IDLE_TEXT)
        self.output_view.set_outputs(None, None)
        self.model_caption.setText("")
        self.comparison.set_cards([(label, None) for label in self.models.labels()], self.models.current_index())


class NetworkWindow(QWidget):
    """The Network view in a window of its own, over the main window; closing it puts the view back in its tab."""

    def __init__(self, view: NetworkTab, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Network")  # Qt adds " — digitpad"
        self._view: NetworkTab | None = view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)
        view.window_button.setText("Back to the Tab")
        view.show()
        self.resize(WINDOW_SIZE)

    def release(self) -> None:
        """Give the view back (its tab takes it) and close."""
        self._view = None
        self.close()
        self.deleteLater()

    def closeEvent(self, event) -> None:
        if self._view is not None:
            view, self._view = self._view, None
            QTimer.singleShot(0, view.toggle_window)  # not while this window is closing
        super().closeEvent(event)

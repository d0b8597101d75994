"""Start / Pause / Stop, the progress bar and the run's status lines in a panel of constant height; the message banner.

The buttons never move: the speed line is always there (blank when idle), and the status text
has a fixed number of lines, elided with the whole text in its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from digitpad.train.session import Run, RunStatus
from trainer.durations import format_duration
from trainer.train import BatchEvent

STATUS_LINES = 3  # lines of status text the panel always has room for
MESSAGE_MAX_LINES = 5  # a longer message is cut (all of it in the tooltip)
ERROR_STYLE = "QLabel { background: #fdecea; color: #7f1d1d; border: 1px solid #f5c2c0; border-radius: 4px; padding: 6px; }"
INFO_STYLE = "QLabel { background: #e8f4fd; color: #0b3d62; border: 1px solid #b6dcf7; border-radius: 4px; padding: 6px; }"


def progress_text(event: BatchEvent) -> str:
    """The progress bar's words: epoch, step and time left."""
    return f"epoch {event.epoch}/{event.epochs} · step {event.step}/{event.steps_per_epoch} · ETA {format_duration(event.eta)}"


def speed_text(event: BatchEvent) -> str:
    """The line under the progress bar: loss, speed, time so far."""
    return f"loss {event.loss:.4f} · {event.samples_per_sec:,.0f} samples/s · {format_duration(event.elapsed)} elapsed"


class _FixedLinesLabel(QLabel):
    """A word-wrapped label exactly `lines` lines high; longer text is cut with "…" (all of it in the tooltip)."""

    def __init__(self, lines: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lines = lines
        self._full = ""
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.setFixedHeight(QFontMetrics(self.font()).lineSpacing() * lines + 2)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._fit()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        metrics = QFontMetrics(self.font())
        width, height = max(1, self.width()), self.height()

        def fits(text: str) -> bool:
            return metrics.boundingRect(0, 0, width, 10_000, int(Qt.TextWordWrap), text).height() <= height

        words = self._full.split(" ")
        if fits(self._full):
            self.setText(self._full)
            return
        while len(words) > 1 and not fits(" ".join(words) + "…"):
            words.pop()
        self.setText(" ".join(words) + "…")


class RunControls(QWidget):
    """The buttons and the live state of the current run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch and keep the model trained so far")
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("idle")
        self.progress_bar.setValue(0)
        self.speed_label = QLabel(" ")
        self.status_label = _FixedLinesLabel(STATUS_LINES)
        self.status_label.set_full_text("Set up a run and press Start.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.speed_label)
        layout.addWidget(self.status_label)

    def set_status(self, text: str) -> None:
        self.status_label.set_full_text(text)

    def status(self) -> str:
        return self.status_label.full_text()

    def update_buttons(self, run: Run | None) -> None:
        """Enable what the current run (None: no run going) allows."""
        running = run is not None
        stopping = running and run.status is RunStatus.STOPPING
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running and not stopping)
        self.pause_button.setText("Resume" if running and run.status is RunStatus.PAUSED else "Pause")
        self.stop_button.setEnabled(running and not stopping)

    def show_loading(self, run: Run) -> None:
        self.progress_bar.setRange(0, 0)  # busy until the first event says how long
        self.progress_bar.setFormat("loading data…")
        extra = " (rendering the pen digits takes a few seconds)" if run.config.pen_digits else ""
        self.set_status(f"{run.name}: loading data{extra}…")

    def show_started(self, steps: int, epochs: int) -> None:
        self.progress_bar.setRange(0, steps)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"epoch 1/{epochs} · starting")

    def show_progress(self, run: Run) -> None:
        event = run.last_progress
        if event is None:
            return
        self.progress_bar.setValue(event.global_step)
        paused = "paused · " if run.status is RunStatus.PAUSED else ""
        self.progress_bar.setFormat(paused + progress_text(event))
        self.speed_label.setText(speed_text(event))

    def show_ended(self, text: str, done: bool) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if done else 0)
        self.progress_bar.setFormat(text)
        self.speed_label.setText(" ")


class MessageBanner(QLabel):
    """One message at a time, above the form: an error (red) or a note (blue); hidden when there is none."""

    # the text of each error shown
    errorShown = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.setMaximumHeight(self.fontMetrics().lineSpacing() * MESSAGE_MAX_LINES + 14)
        self.hide()

    def show_error(self, message: str) -> None:
        self._show(ERROR_STYLE, f"⚠ {message}")
        self.errorShown.emit(message)

    def show_info(self, message: str) -> None:
        self._show(INFO_STYLE, message)

    def _show(self, style: str, text: str) -> None:
        self.setStyleSheet(style)
        self.setText(text)
        self.setToolTip(text)
        self.show()

    def clear_message(self) -> None:
        self.clear()
        self.hide()

    def message(self) -> str:
        """The text shown ("" when hidden)."""
        return "" if self.isHidden() else self.text()

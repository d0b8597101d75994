"""The teaching session's small panel: "Write a 4 (5 of 30)", a progress bar, Next and Undo.

It renders a `TeachSession` and forwards intent; the drawing comes from whatever canvas the window
passes in (`take_strokes` returns the strokes drawn and clears the paper). When every prompt is
answered it emits `finished` with the examples; measuring before/after (teach.evaluate) is slow and
belongs on a worker thread, started by the window.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from digitpad.personal.teach import TeachSession, TeachState


class TeachPanel(QWidget):
    """Drives one TeachSession from a canvas."""

    finished = Signal(list)  # the taught Examples, once every prompt is answered
    cancelled = Signal()

    def __init__(self, session: TeachSession, take_strokes: Callable[[], list], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._take_strokes = take_strokes
        self.prompt = QLabel()
        font = self.prompt.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        self.prompt.setFont(font)
        self.progress = QProgressBar()
        self.progress.setRange(0, session.progress[1])
        self.note = QLabel()
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.submit)
        self.undo_button = QPushButton("Undo last")
        self.undo_button.clicked.connect(self.undo)
        self.cancel_button = QPushButton("Stop")
        self.cancel_button.clicked.connect(self.cancelled)
        buttons = QHBoxLayout()
        for button in (self.undo_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.progress)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self._show()

    def _show(self) -> None:
        done, _ = self.session.progress
        self.prompt.setText(self.session.prompt())
        self.progress.setValue(done)
        asking = self.session.state is TeachState.ASKING
        self.next_button.setEnabled(asking)
        self.undo_button.setEnabled(done > 0 and asking)

    def submit(self) -> None:
        """Take the canvas's drawing as the answer to the current prompt."""
        strokes = self._take_strokes()
        try:
            self.session.submit(strokes)
        except ValueError:
            self.note.setText(f"Draw a {self.session.current} first.")
            return
        self.note.setText("")
        self._show()
        if self.session.state is TeachState.DONE:
            self.finished.emit(list(self.session.examples))

    def undo(self) -> None:
        self.session.undo()
        self._show()

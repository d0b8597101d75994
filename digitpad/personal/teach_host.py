"""Hosting "Teach me your handwriting" in the window: the session's panel in a dialog beside the paper.

The user writes each digit asked for on the Draw tab's paper; Next (or Enter on the paper) takes the
drawing off it. At the end the 30 digits are stored as TAUGHT, the personalized model is rebuilt, and
`teach.evaluate` (cross-validated before/after) runs on a worker once that rebuild is done: both at once
would build the same replay features twice, one on each core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from digitpad.personal.store import StoreError
from digitpad.personal.teach import TeachSession, evaluate
from digitpad.personal.teach_panel import TeachPanel
from digitpad.workers import TaskWorker, start_job
from trainer.personal_examples import ExampleKind

if TYPE_CHECKING:
    from digitpad.app import MainWindow
    from digitpad.draw.tab import DrawTab
    from digitpad.personal.controls import PersonalControls

TEACH_THREAD = "digitpad-teach-measure"
STATUS_MESSAGE_MS = 6000
DIALOG_WIDTH = 360  # px: the title "Teach me your handwriting" unelided


class TeachingHost(QObject):
    """One teaching session at a time, for the window's PersonalControls."""

    # The measured before/after of a finished session (a teach.TeachResult).
    measured = Signal(object)

    def __init__(self, controls: PersonalControls, window: MainWindow, tab: DrawTab) -> None:
        super().__init__(controls)
        self._controls, self._window, self._tab = controls, window, tab
        self.dialog: QDialog | None = None
        self._measure: tuple | None = None  # a finished session to measure once the rebuild is done

    def panel(self) -> TeachPanel | None:
        return self.dialog.findChild(TeachPanel) if self.dialog is not None else None

    def submit(self) -> bool:
        """Enter on the paper while a session asks: answer its prompt. False without a session."""
        panel = self.panel()
        if panel is None:
            return False
        panel.submit()
        return True

    def start(self) -> QDialog:
        """Open the session (or raise the one open): the user writes on the paper, Next (or Enter) takes it."""
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        dialog = QDialog(self._window)
        dialog.setWindowTitle("Teach me your handwriting")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        hint = QLabel("Write each digit asked for on the paper, then press Next (or Enter on the paper).", dialog)
        hint.setWordWrap(True)
        panel = TeachPanel(TeachSession(), self._take_strokes, dialog)
        panel.finished.connect(self._taught)
        panel.cancelled.connect(dialog.close)
        layout = QVBoxLayout(dialog)
        layout.addWidget(hint)
        layout.addWidget(panel)
        dialog.destroyed.connect(self._closed)
        self.dialog = dialog
        dialog.setMinimumWidth(DIALOG_WIDTH)
        dialog.adjustSize()
        # Over the model's-eye view: the paper stays free to write on, the reading and the chart in sight.
        corner = self._window.mapToGlobal(self._window.rect().bottomRight())
        dialog.move(corner.x() - dialog.width() - 24, corner.y() - dialog.height() - 60)
        dialog.show()
        self._tab.canvas.setFocus()
        return dialog

    @Slot()
    def _closed(self) -> None:
        self.dialog = None

    def _take_strokes(self) -> list:
        """The drawing for the teaching prompt, taken off the paper (a picture is no answer)."""
        canvas = self._tab.canvas
        if canvas.is_drawing() or canvas.shown_image() is not None:
            return []
        strokes = [s.tolist() for s in canvas.strokes() if len(s)]
        if strokes:
            canvas.clear()
        canvas.setFocus()
        return strokes

    @Slot(list)
    def _taught(self, examples: list) -> None:
        """Keep the taught digits, rebuild, and measure on a worker what teaching changed."""
        earlier = self._controls.state.store.examples()
        base = self._controls.state.base
        model = base.name if base is not None else ""
        try:
            self._controls.state.store.add_many(examples, kind=ExampleKind.TAUGHT, model=model)
        except StoreError as exc:
            self._window.show_error("Could not keep your digits", str(exc))
            return
        self._controls.stored_changed()
        panel = self.panel()
        if base is None or panel is None:
            return
        panel.note.setText("Kept. Measuring how well your digits are read now…")
        self._measure = (base, examples, earlier)
        if not self._controls.state.rebuilding:
            self.rebuild_done()

    def rebuild_done(self) -> None:
        """The personalized model is rebuilt: measure a finished session now, if one waits."""
        if self._measure is None:
            return
        self._start_measuring()

    def _start_measuring(self) -> None:
        """After the rebuild: both would build the same replay features at once, each on a core."""
        base, examples, earlier = self._measure
        self._measure = None
        worker = TaskWorker(lambda: evaluate(base, examples, earlier))
        worker.finished.connect(self._on_measured)
        worker.failed.connect(self._on_measure_failed)
        start_job(worker, TEACH_THREAD)

    @Slot(object)
    def _on_measured(self, result) -> None:
        self._teach_note(result.summary())
        self.measured.emit(result)

    @Slot(str)
    def _on_measure_failed(self, message: str) -> None:
        self._teach_note(f"Your digits are kept, but measuring failed: {message}")

    def _teach_note(self, text: str) -> None:
        panel = self.panel()
        if panel is not None:
            panel.note.setWordWrap(True)
            panel.note.setText(text)
        self._window.statusBar().showMessage(text, STATUS_MESSAGE_MS)

"""The window's side of "learn my handwriting": corrections, the Personal menu, rebuilds on a worker thread.

The state lives in `PersonalState` (Qt-free); this object wires it to the window: the Draw tab's
correction bar (with a "Use my handwriting" check box under it), a click on a probability bar, digit
keys and Enter on the paper, the Personal menu (My Digits, Teach, Export, Import and the two toggles,
each in step with its check box in the Draw tab) and a status-bar line. After every
change the personalized model is rebuilt with `workers.start_job` and handed to the Draw tab's
`set_recognizer`, the path every reading takes, so drawing never waits for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QStandardPaths, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QDialog, QFileDialog, QLabel, QMenu

from digitpad import settings as prefs
from digitpad.numbers.strokes import digit_ink
from digitpad.personal.my_digits import FILE_FILTER, MyDigitsDialog
from digitpad.personal.session import PersonalState, RebuildJob, learned_text
from digitpad.personal.store import Store, StoreError
from digitpad.personal.teach_host import TeachingHost
from digitpad.workers import TaskWorker, start_job
from trainer.personal_examples import Example, ExampleKind
from trainer.personal_file import ExchangeError, export_examples, import_examples

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

    from digitpad.app import MainWindow
    from digitpad.recognizer import Recognizer

STORE_NAME = "my-digits.sqlite"
REBUILD_THREAD = "digitpad-personalize"
STATUS_MESSAGE_MS = 6000
DIGIT_KEYS = {getattr(Qt.Key, f"Key_{d}"): d for d in range(10)}
ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def default_store_path(settings: QSettings | None = None) -> Path:
    """Where the user's digits live: the per-user data location. A window given its own settings file
    (tests, a portable setup) keeps its digits beside that file instead, never in the user's."""
    if settings is not None and settings.fileName():
        return Path(settings.fileName()).with_name(STORE_NAME)
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / STORE_NAME


def open_store(path: Path) -> tuple[Store | None, str]:
    """The store, or None with the reason it cannot be used."""
    try:
        return Store(path), ""
    except StoreError as exc:
        return None, str(exc)


class PersonalControls(QObject):
    """Learning from the user's corrections in one window."""

    # The feedback line after an example was stored ("Learned: that was a 4").
    learned = Signal(str)
    # The status-bar line about personalization changed.
    statusChanged = Signal(str)
    # The personalized (or plain) recognizer now reading the drawings.
    personalApplied = Signal(object)
    # A teaching session's measured before/after (a teach.TeachResult).
    teachMeasured = Signal(object)

    def __init__(self, window: MainWindow, settings: QSettings, store_path: Path, *, prewarm: bool = False) -> None:
        super().__init__(window)
        self._window, self._settings, self._prewarm = window, settings, prewarm
        self._tab = window.draw_tab
        self.bar = self._tab.correction
        store, self.store_problem = open_store(store_path)
        self.state = PersonalState(store, learning=prefs.read(settings, prefs.LEARN_FROM_CORRECTIONS),
                                   use_mine=prefs.read(settings, prefs.USE_MY_HANDWRITING))
        self._applied: Recognizer | None = None
        self._job: RebuildJob | None = None
        self.teaching = TeachingHost(self, window, self._tab)
        self.teaching.measured.connect(self.teachMeasured)
        self.choose_export = lambda: QFileDialog.getSaveFileName(window, "Export my digits", "my-digits.jsonl",
                                                                 FILE_FILTER)[0]
        self.choose_import = lambda: QFileDialog.getOpenFileName(window, "Import digits", "", FILE_FILTER)[0]
        self.status_label = QLabel(window)
        self.status_label.setContentsMargins(6, 0, 6, 0)
        self.status_label.hide()
        self._make_menu()
        self._make_use_box()
        bar = window.menuBar()
        help_menu = bar.actions()[-1] if bar.actions() else None
        bar.insertMenu(help_menu, self.menu)  # before Help
        window.statusBar().addPermanentWidget(self.status_label)
        self.bar.set_learning(self.state.learning)
        self._connect()
        self._show_status()

    def _make_menu(self) -> None:
        w = self._window
        self.menu = QMenu("&Personal", w)
        self.menu.setToolTipsVisible(True)
        self.my_digits_action = self.menu.addAction("My &Digits…", lambda: self.show_my_digits())
        self.my_digits_action.setToolTip("See, relabel or delete the digits you taught or corrected")
        self.teach_action = self.menu.addAction("&Teach Me Your Handwriting…", lambda: self.start_teaching())
        self.teach_action.setToolTip("Write each digit three times (about a minute); then see what it changed")
        self.menu.addSeparator()
        self.export_action = self.menu.addAction("&Export My Digits…", lambda: self.export_digits())
        self.import_action = self.menu.addAction("&Import My Digits…", lambda: self.import_digits())
        self.menu.addSeparator()
        self.learn_action = QAction("&Learn from My Corrections", w, checkable=True, checked=self.state.learning)
        self.learn_action.setToolTip("Keep the digits you correct or confirm (type 0-9 or Enter on the paper)")
        self.use_action = QAction("&Use My Handwriting", w, checkable=True, checked=self.state.use_mine)
        self.use_action.setToolTip("Read with a model adapted to your digits (off: the plain model)")
        self.menu.addActions([self.learn_action, self.use_action])
        usable = self.state.store is not None
        for action in (self.my_digits_action, self.teach_action, self.export_action, self.import_action,
                       self.learn_action):
            action.setEnabled(usable)

    def _make_use_box(self) -> None:
        """The Draw tab's "Use my handwriting" check box, under "Learn from my corrections"."""
        self.use_box = QCheckBox("Use my handwriting", self.bar)
        self.use_box.setToolTip("Read with a model adapted to your digits (off: the plain model); "
                                "also Personal → Use My Handwriting")
        self.use_box.setChecked(self.state.use_mine)
        self.bar.layout().addWidget(self.use_box)

    def _connect(self) -> None:
        tab, canvas = self._tab, self._tab.canvas
        self.bar.corrected.connect(self.correct)
        self.bar.confirmed.connect(self.confirm)
        self.bar.learningToggled.connect(self.set_learning)
        self.learn_action.toggled.connect(self.set_learning)
        self.use_action.toggled.connect(self.set_use_mine)
        self.use_box.toggled.connect(self.set_use_mine)
        tab.bars.clicked.connect(self.correct)
        tab.predictionChanged.connect(lambda p: self.bar.show_reading(p.digit))
        tab.predictionCleared.connect(lambda: self.bar.show_reading(None))
        canvas.contentChanged.connect(self._drawing_changed)
        canvas.installEventFilter(self)
        self._window.recognizerChanged.connect(self.set_base)

    def startup_notice(self) -> None:
        """Tell the user once if their saved digits could not be used or were moved aside."""
        if self.state.store is None:
            self._window.show_error("Your digits cannot be saved", self.store_problem)
        elif self.state.store.notice:
            self._window.show_notice(self.state.store.notice)

    def shutdown(self) -> None:
        if self.state.store is not None:
            self.state.store.close()

    # ------------------------------------------------------------------ the user says what a drawing is

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Digit keys and Enter on the paper (nothing else is taken from it)."""
        if event.type() == QEvent.Type.KeyPress and obj is self._tab.canvas:
            plain = (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier) == Qt.KeyboardModifier.NoModifier
            if plain and event.key() in DIGIT_KEYS:
                return self.correct(DIGIT_KEYS[event.key()])
            if plain and event.key() in ENTER_KEYS:
                if self.teaching.submit():
                    return True
                return self.confirm()
        return super().eventFilter(obj, event)

    @Slot(int)
    def correct(self, digit: int) -> bool:
        """The drawing (or the selected digit of a number) is `digit`; True when there was one to tell about."""
        return self._tell(digit, None)

    @Slot()
    def confirm(self) -> bool:
        """The reading is right: keep the drawing as that digit."""
        prediction = self._tab.prediction()
        return prediction is not None and self._tell(prediction.digit, ExampleKind.CONFIRMATION)

    def _tell(self, label: int, kind: ExampleKind | None) -> bool:
        if self._tab.canvas.shown_image() is not None:
            self._feedback("Only drawings are learned from, not pictures")
            return True
        strokes = self._told_strokes()
        if strokes is None:
            return False
        if not self.state.learning:
            self._feedback("Learning is off: nothing was kept")
            return True
        shown = self._tab.prediction()
        predicted = shown.digit if shown is not None and not self._tab.is_busy() else None
        kind = kind or (ExampleKind.CONFIRMATION if predicted == label else ExampleKind.CORRECTION)
        model = self.state.base.name if self.state.base is not None else ""
        try:
            self.state.record(Example.of(strokes, label), predicted=predicted, model=model, kind=kind)
        except (StoreError, ValueError) as exc:
            self._window.show_error("Could not keep that digit", str(exc))
            return True
        self._feedback(learned_text(label, kind))
        self.rebuild()
        return True

    def _told_strokes(self) -> list | None:
        """What a correction is about: the drawing's strokes, or the selected digit's; None for nothing
        (empty paper, a picture, a stroke still being drawn)."""
        canvas = self._tab.canvas
        if canvas.is_empty() or canvas.is_drawing() or canvas.shown_image() is not None:
            return None
        strokes = canvas.strokes()
        reading = self._tab.reading()
        if reading is not None:  # the selected digit's own ink, its part of a stroke cut between two digits
            strokes = digit_ink(reading, min(self._tab.number_strip.selected(), len(reading) - 1), strokes)
        strokes = [s for s in strokes if len(s)]
        return strokes or None

    def _feedback(self, text: str) -> None:
        self.bar.show_feedback(text)
        self.learned.emit(text)

    @Slot()
    def _drawing_changed(self) -> None:
        self.state.forget_drawing()
        self.bar.show_feedback("")

    # ------------------------------------------------------------------ toggles

    @Slot(bool)
    def set_learning(self, on: bool) -> None:
        self.state.learning = on
        self.learn_action.setChecked(on)
        self.bar.set_learning(on)
        prefs.write(self._settings, prefs.LEARN_FROM_CORRECTIONS, on)

    @Slot(bool)
    def set_use_mine(self, on: bool) -> None:
        self.state.use_mine = on
        self.use_action.setChecked(on)
        self.use_box.setChecked(on)
        prefs.write(self._settings, prefs.USE_MY_HANDWRITING, on)
        self._apply()
        self._show_status()

    # ------------------------------------------------------------------ the personalized model

    @Slot(object)
    def set_base(self, base: Recognizer) -> None:
        """The window uses a new model: read with it now, and personalize it behind the scenes."""
        self.state.set_base(base)
        self._applied = base  # the window handed it to the Draw tab itself
        if self.state.count() or self._prewarm:
            self.rebuild()
        self._show_status()

    def rebuild(self) -> None:
        """Personalize for the current state on a worker thread (after the running rebuild, if one runs)."""
        job = self.state.want_rebuild()
        if job is not None:
            self._start(job)
        self._show_status()

    def _start(self, job: RebuildJob) -> None:
        self._job = job
        worker = TaskWorker(job.run)
        worker.finished.connect(self._on_rebuilt)  # queued: this object lives on the GUI thread
        worker.failed.connect(self._on_rebuild_failed)
        start_job(worker, REBUILD_THREAD)

    @Slot(object)
    def _on_rebuilt(self, personal: Recognizer | None) -> None:
        if self.state.rebuilt(self._job, personal):
            self._apply()
        self._next()

    @Slot(str)
    def _on_rebuild_failed(self, message: str) -> None:
        self.state.rebuild_failed(message)
        self._apply()
        self._next()

    def _next(self) -> None:
        job = self.state.follow_up()
        if job is not None:
            self._start(job)
        else:
            self.teaching.rebuild_done()
        self._show_status()

    def _apply(self) -> None:
        """Hand the Draw tab the model it should read with now (it reads the paper again)."""
        active = self.state.active()
        if active is not None and active is not self._applied:
            self._applied = active
            self._tab.set_recognizer(active)
            self.personalApplied.emit(active)

    def active_recognizer(self) -> Recognizer | None:
        """The recognizer reading the drawings now (personalized or plain)."""
        return self._applied

    def _show_status(self) -> None:
        text = self.state.status_text()
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))
        self.status_label.setToolTip(f"Turn it {'off' if self.state.use_mine else 'on'} with \"Use my handwriting\" "
                                     "in the Draw tab or Personal → Use My Handwriting")
        self.statusChanged.emit(text)

    @Slot()
    def start_teaching(self) -> QDialog | None:
        """The guided session beside the window (see digitpad.personal.teach_host)."""
        return self.teaching.start() if self.state.store is not None else None

    @property
    def teach_dialog(self) -> QDialog | None:
        return self.teaching.dialog

    @Slot()
    def stored_changed(self) -> None:
        """The stored examples changed (My Digits, an import, a teaching session)."""
        self.state.changed()
        self.rebuild()

    # ------------------------------------------------------------------ menu commands

    @Slot()
    def show_my_digits(self) -> MyDigitsDialog | None:
        if self.state.store is None:
            return None
        dialog = MyDigitsDialog(self.state.store, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.changed.connect(self.stored_changed)
        dialog.show()
        return dialog

    @Slot()
    def export_digits(self, path: str | Path | None = None) -> int:
        """Write the stored digits to a file (chosen in a dialog when no path is given); how many."""
        path = path or self.choose_export()
        if not path or self.state.store is None:
            return 0
        try:
            count = export_examples(Path(path), self.state.store.examples())
        except ExchangeError as exc:
            self._window.show_error("Could not export your digits", str(exc))
            return 0
        self._window.statusBar().showMessage(f"{count} digits exported to {Path(path).name}", STATUS_MESSAGE_MS)
        return count

    @Slot()
    def import_digits(self, path: str | Path | None = None) -> int:
        """Add the digits in an export file; bad lines are named in a dialog with their line numbers."""
        path = path or self.choose_import()
        if not path or self.state.store is None:
            return 0
        try:
            report = import_examples(Path(path))
            self.state.store.add_many(report.examples, kind=ExampleKind.IMPORTED)
        except (ExchangeError, StoreError) as exc:
            self._window.show_error("Could not import digits", str(exc))
            return 0
        summary = f"{Path(path).name}: {report.summary()}."
        if report.problems:
            more = report.bad_lines - len(report.problems)
            lines = report.problems + ([f"… and {more} more"] if more > 0 else [])
            self._window.show_notice("\n".join([summary, *lines]), "Some lines could not be imported")
        else:
            self._window.statusBar().showMessage(summary, STATUS_MESSAGE_MS)
        if report.examples:
            self.stored_changed()
        return len(report.examples)

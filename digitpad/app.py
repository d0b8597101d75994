"""The digitpad main window: the Draw and Train tabs, menus, status bar, settings and model loading.

    window = MainWindow(Recognizer.load())      # tests and scripts: a ready model
    run_app(model=None, device="auto")          # the `digitpad` command: window first, model loads behind it

Startup stays quick because torch is imported on the recognition thread while the window is
already on screen ("Loading model…"). The Train tab needs torch too: a window made with a
recognizer builds it at once; one started by `launch` builds it the first time the tab is
opened after torch is in (`train_tab` is None until then; `ensure_train_tab()` forces it), so
building it never interrupts someone drawing.

The window ends its threads however the program ends: closing it, QApplication quitting, the
window being destroyed, the interpreter exiting with the window still open, Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import socket
import sys
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QSize, QSocketNotifier, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QWidget,
)

from digitpad import __version__
from digitpad import settings as prefs
from digitpad.about import AboutDialog
from digitpad.draw.canvas import image_suffixes, is_model_file
from digitpad.draw.recognition import LoadOutcome, start_worker, stop_worker
from digitpad.draw.tab import DrawTab
from digitpad.draw.views import app_icon
from digitpad.network.tab import NetworkTab
from digitpad.personal.controls import PersonalControls, default_store_path
from digitpad.window_chrome import make_actions, make_menus, make_status_bar

if TYPE_CHECKING:
    from digitpad.recognizer import Prediction, Recognizer

ORG_NAME = APP_NAME = "digitpad"
DEFAULT_SIZE = QSize(1060, 720)
MESSAGE_WIDTH = (380, 560)      # px of text in message boxes: at least, at most (longer text wraps)
MESSAGE_DETAILS_OVER = 400      # characters: a longer message shows its start, all of it under "Show Details…"
STATUS_MESSAGE_MS = 6000        # how long transient status-bar messages stay
FIRST_PAINT_FALLBACK_MS = 300   # start loading the model after the first paint, or after this at worst
IMAGE_FILTER = "Images ({})".format(" ".join(f"*{s}" for s in image_suffixes()))
MODEL_FILTER = "digitpad models (*.pt *.pth)"
TAB_DRAW, TAB_TRAIN, TAB_NETWORK = 0, 1, 2
QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def default_settings() -> QSettings:
    """The user's settings store (tests pass their own, in a temporary directory)."""
    return QSettings(ORG_NAME, APP_NAME)


def describe_model(recognizer: Recognizer, name: str | None = None) -> str:
    """One status-bar line: the models that read drawings ("digitnet + penseq"), the architecture where the
    name does not already say it ("mine (cnn)"), checkpoint test accuracy, device (or a given display name)."""
    if name:
        return f"Model: {name} · {recognizer.device_name}"
    acc = recognizer.test_accuracy
    acc_text = f"test accuracy {acc:.2%}" if acc is not None else "test accuracy unknown"
    arch = f" ({recognizer.arch})" if recognizer.arch != recognizer.name else ""
    return f"Model: {recognizer.drawing_models}{arch} · {acc_text} · {recognizer.device_name}"


def _breakable(text: str, longest: int = 40) -> str:
    """Let long unbroken words (paths) wrap: a zero-width space after each / or _ in them."""
    words = []
    for word in text.split(" "):
        if len(word) > longest:
            word = word.replace("/", "/\u200b").replace("_", "_\u200b")
        words.append(word)
    return " ".join(words)


def message_box(parent: QWidget, icon: QMessageBox.Icon, headline: str, message: str) -> QMessageBox:
    """A non-blocking message box whose text wraps; a long message's full text goes under "Show Details…".

    The message is the box's informative text: QMessageBox always wraps that one, while its main
    text is sized by a heuristic that cut long lines off ("…or it is da").
    """
    box = QMessageBox(icon, "digitpad", headline, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    shown = message if len(message) <= MESSAGE_DETAILS_OVER else message[:MESSAGE_DETAILS_OVER].rstrip() + "…"
    box.setInformativeText(_breakable(shown))
    if shown != message:
        box.setDetailedText(message)
    # Neither ragged-narrow nor screen-wide (the labels' object names are QMessageBox's own).
    low, high = MESSAGE_WIDTH
    box.setStyleSheet(f"QLabel#qt_msgbox_label {{ font-weight: bold; }} QLabel#qt_msgbox_informativelabel "
                      f"{{ min-width: {low}px; max-width: {high}px; }}")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # window-modal, returns at once: nothing blocks the event loop
    return box


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setEnabled(False)
    return label


def _pick_file(parent: QWidget, title: str, folder: str, file_filter: str) -> str:
    """A file chosen in an Open dialog that starts in `folder` (home if none); "" if cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, title, folder or str(Path.home()), f"{file_filter};;All files (*)")
    return path


def _remember_folder(store: QSettings, key: prefs.Key[str], path: Path) -> None:
    folder = path.resolve().parent
    if folder.is_dir():
        prefs.write(store, key, str(folder))


def _quit_question(parent: QWidget) -> tuple[QMessageBox, QPushButton]:
    """The question asked when quitting during a training run, and its "stop" button."""
    box = QMessageBox(QMessageBox.Icon.Question, "digitpad", "A training run is in progress: stop it and keep "
                      "the model trained so far, or keep training?", QMessageBox.StandardButton.NoButton, parent)
    stop = box.addButton("Stop and keep the model", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole))
    return box, stop


class MainWindow(QMainWindow):
    """The digitpad window. `recognizer` may be None: the window then waits for `load_model`."""

    # The Prediction now shown on the Draw tab.
    predictionChanged = Signal(object)
    # The Draw tab shows no prediction any more (paper cleared).
    predictionCleared = Signal()
    # A new Recognizer is in use (hot swap, launch load, Train tab's "use this model").
    recognizerChanged = Signal(object)
    # An error was reported to the user in a dialog (the text shown).
    errorShown = Signal(str)
    # A warning/notice was reported in a dialog (e.g. fell back to the bundled model or the CPU).
    noticeShown = Signal(str)
    # The question asked when quitting during a training run (the QMessageBox, before it runs: tests answer it).
    quitQuestionShown = Signal(object)

    def __init__(self, recognizer: Recognizer | None = None, *, settings: QSettings | None = None,
                 device: str = "auto", personal_store: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else default_settings()
        self._device = device
        self._recognizer: Recognizer | None = None
        self._load_ticket = 0
        self._launch_ticket = -1
        self._closed = False
        self._torch_ready = recognizer is not None
        self.train_tab = None
        self._worker, self._thread = start_worker()
        self._worker.loaded.connect(self._on_loaded)
        self._worker.loadFailed.connect(self._on_load_failed)

        self.setWindowTitle("digitpad")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.draw_tab = DrawTab(self._worker, self)
        self.canvas = self.draw_tab.canvas
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.draw_tab, "Draw")
        self.tabs.addTab(_placeholder("Loading the training panel…"), "Train")
        self.tabs.setTabToolTip(TAB_DRAW, "Draw a digit and see what the model reads (Ctrl+1)")
        self.tabs.setTabToolTip(TAB_TRAIN, "Train or retrain a model on MNIST (Ctrl+2)")
        self.network_tab = NetworkTab.add_to(self.tabs, self._worker, self.draw_tab)
        self.setCentralWidget(self.tabs)
        make_actions(self)
        make_menus(self)
        make_status_bar(self)
        # The user's digits; a window given its own settings (tests) keeps them beside those and warms nothing up.
        self.personal = PersonalControls(self, self._settings, Path(personal_store) if personal_store else
                                         default_store_path(settings), prewarm=settings is None)
        self._connect()
        self._restore_settings()
        _end_with_the_program(self)
        QTimer.singleShot(0, self.personal.startup_notice)
        if recognizer is not None:
            self.set_recognizer(recognizer)
            self.ensure_train_tab()

    # ------------------------------------------------------------------ construction

    def ensure_train_tab(self) -> None:
        """Build the Train tab now if it is not built yet (it imports torch: slow the first time)."""
        if self.train_tab is not None or self._closed:
            return
        try:
            from digitpad.train.tab import TrainTab

            tab = TrainTab(self, settings=self._settings)
        except Exception as exc:  # keep drawing usable even if training cannot work here
            label = QLabel(f"The training panel could not start:\n{type(exc).__name__}: {exc}")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            self._replace_train_widget(label)
            return
        tab.useModelRequested.connect(lambda rec: self.set_recognizer(rec, name=tab.model_name(rec)))
        tab.activityChanged.connect(self._show_run_activity)
        tab.set_personal_source(self.personal.state.count, self.personal.export_digits)
        self.train_tab = tab
        self._replace_train_widget(tab)  # the tab fits the window itself: its form scrolls, its panes shrink

    @Slot(str)
    def _show_run_activity(self, text: str) -> None:
        """The status bar's run indicator (hidden when no run goes); clicking it shows the Train tab."""
        self.run_indicator.setText(text)
        self.run_indicator.setVisible(bool(text))

    def _replace_train_widget(self, widget: QWidget) -> None:
        current = self.tabs.currentIndex()
        old = self.tabs.widget(TAB_TRAIN)
        self.tabs.blockSignals(True)
        self.tabs.removeTab(TAB_TRAIN)
        self.tabs.insertTab(TAB_TRAIN, widget, "Train")
        self.tabs.setTabToolTip(TAB_TRAIN, "Train or retrain a model on MNIST (Ctrl+2)")
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        if old is not None:
            old.deleteLater()

    def _connect(self) -> None:
        self.open_image_action.triggered.connect(self.open_image_dialog)
        self.open_model_action.triggered.connect(self.open_model_dialog)
        self.bundled_model_action.triggered.connect(lambda: self.load_model(None))
        self.paste_action.triggered.connect(self.paste)
        self.quit_action.triggered.connect(self.close)
        self.draw_view_action.triggered.connect(lambda: self.tabs.setCurrentIndex(TAB_DRAW))
        self.train_view_action.triggered.connect(lambda: self.tabs.setCurrentIndex(TAB_TRAIN))
        self.network_view_action.triggered.connect(lambda: self.tabs.setCurrentIndex(TAB_NETWORK))
        self.about_action.triggered.connect(self.show_about)
        self.about_qt_action.triggered.connect(QApplication.aboutQt)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.draw_tab.predictionChanged.connect(self.predictionChanged)
        self.draw_tab.predictionCleared.connect(self.predictionCleared)
        self.draw_tab.messageRaised.connect(self._status_message)
        self.draw_tab.penWidthChanged.connect(lambda w: prefs.write(self._settings, prefs.PEN_WIDTH, w))
        self.canvas.filesDropped.connect(self.open_paths)
        self.canvas.imageDropped.connect(self.open_qimage)

    # ------------------------------------------------------------------ models

    @property
    def recognizer(self) -> Recognizer | None:
        """The Recognizer in use (None while the first model is loading)."""
        return self._recognizer

    @property
    def prediction(self) -> Prediction | None:
        """The Prediction shown on the Draw tab, or None."""
        return self.draw_tab.prediction()

    def set_recognizer(self, recognizer: Recognizer, name: str | None = None) -> None:
        """Use `recognizer` from now on (hot swap): the status bar and the Draw tab follow.

        `name` is how the status bar calls it (the Train tab names a run: "run 2 · cnn · 98.0%").
        """
        self._recognizer = recognizer
        self._device = recognizer.device.type
        self.model_label.setText(describe_model(recognizer, name))
        path = recognizer.checkpoint.path
        where = str(path) if path else "a model trained in this session"
        self.model_label.setToolTip(f"{where}\n{recognizer.sequence_note}" if recognizer.sequence_note else where)
        self.draw_tab.set_recognizer(recognizer)
        self.network_tab.set_recognizer(recognizer, name)
        self._status_message(f"Using model {name or recognizer.name} on {recognizer.device_name}")
        self.recognizerChanged.emit(recognizer)

    def load_model(self, path: str | Path | None = None, *, fallback: bool = False) -> int:
        """Load a model in the background (None = the bundled one); returns the request's ticket.

        On success it is used (`recognizerChanged`); a bad file shows an error and keeps the
        current model (`errorShown`), or with `fallback` loads the bundled model and says so.
        """
        self._load_ticket += 1
        self._busy.show()
        if self._recognizer is None:
            self.model_label.setText("Loading model…")
        else:
            self._status_message(f"Loading {Path(path).name if path else 'the bundled model'}…")
        self._worker.request_load(self._load_ticket, None if path is None else str(path), self._device, fallback)
        return self._load_ticket

    def launch_load(self, path: str | Path | None, device: str) -> None:
        """The first load at startup: problems also go to stderr, and a bad file falls back."""
        self._device = device
        self._launch_ticket = self.load_model(path, fallback=True)

    def open_model(self, path: str | Path) -> int:
        """Switch to the model in `path` (a dialog tells of a bad file; the current model stays)."""
        _remember_folder(self._settings, prefs.LAST_MODEL_DIR, Path(path))
        return self.load_model(path)

    @Slot(int, object)
    def _on_loaded(self, ticket: int, outcome: LoadOutcome) -> None:
        if ticket == self._load_ticket:
            self._busy.hide()
        self.set_recognizer(outcome.recognizer)
        self._recent.add(outcome.recognizer.checkpoint.path)
        if outcome.notes:
            text = "\n\n".join(outcome.notes)
            if ticket == self._launch_ticket:
                print(f"digitpad: {text}", file=sys.stderr)
            self.show_notice(text)
        self._torch_loaded()

    @Slot(int, str)
    def _on_load_failed(self, ticket: int, message: str) -> None:
        if ticket == self._load_ticket:
            self._busy.hide()
        if ticket == self._launch_ticket:
            print(f"digitpad: error: {message}", file=sys.stderr)
        if self._recognizer is None:
            self.model_label.setText("No model: use File → Open Model…")
            self.draw_tab.show_no_model()
        self.show_error("Could not load the model", message + (
            "\n\nThe current model stays in use." if self._recognizer is not None else ""))
        self._torch_loaded()

    def _torch_loaded(self) -> None:
        """A load attempt ended, so torch is imported: the Train tab can be built when wanted."""
        self._torch_ready = True
        if self.tabs.currentIndex() == TAB_TRAIN:
            QTimer.singleShot(0, self.ensure_train_tab)

    def recent_models(self) -> list[Path]:
        """Model files opened before, newest first (those that still exist)."""
        return self._recent.paths()

    # ------------------------------------------------------------------ images

    def open_image(self, path: str | Path) -> bool:
        """Show the picture in `path` on the paper and read it; False (and a dialog) if unreadable."""
        path = Path(path)
        _remember_folder(self._settings, prefs.LAST_IMAGE_DIR, path)
        from trainer.errors import DataError
        from trainer.images import check_image_path

        try:
            check_image_path(path)  # a FIFO would block QImage, and the GUI with it
        except DataError as exc:
            self.show_error("Could not open the image", str(exc))
            return False
        image = QImage(str(path))
        if image.isNull():
            self.show_error("Could not open the image", f"{path}: not a readable image file.")
            return False
        self.tabs.setCurrentIndex(TAB_DRAW)
        self.draw_tab.show_image(image, str(path))
        self._status_message(f"Opened {path.name}")
        return True

    @Slot(QImage)
    def open_qimage(self, image: QImage) -> bool:
        """Read a picture that is not a file (pasted or dropped from another app)."""
        if image.isNull():
            return False
        self.tabs.setCurrentIndex(TAB_DRAW)
        self.draw_tab.show_image(image)
        return True

    @Slot(list)
    def open_paths(self, paths: list) -> None:
        """Files dropped or pasted: a .pt becomes the model, a picture gets read."""
        for path in paths:
            if is_model_file(path):
                self.open_model(path)
            else:
                self.open_image(path)
                break  # one picture at a time on the paper

    @Slot()
    def paste(self) -> None:
        """Ctrl+V: read a picture from the clipboard (an image, or a copied image file)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasImage():
            self.open_qimage(QImage(mime.imageData()))
        elif mime is not None and any(u.isLocalFile() for u in mime.urls()):
            self.open_paths([u.toLocalFile() for u in mime.urls() if u.isLocalFile()])
        else:
            self._status_message("The clipboard holds no picture to read")

    # ------------------------------------------------------------------ dialogs

    @Slot()
    def open_image_dialog(self) -> None:
        if path := _pick_file(self, "Open Image", prefs.read(self._settings, prefs.LAST_IMAGE_DIR), IMAGE_FILTER):
            self.open_image(path)

    @Slot()
    def open_model_dialog(self) -> None:
        if path := _pick_file(self, "Open Model", prefs.read(self._settings, prefs.LAST_MODEL_DIR), MODEL_FILTER):
            self.open_model(path)

    def show_error(self, title: str, message: str) -> QMessageBox:
        """A non-blocking error dialog; `errorShown` carries the text (tests watch it)."""
        self.errorShown.emit(message)
        return message_box(self, QMessageBox.Icon.Critical, title, message)

    def show_notice(self, message: str, headline: str = "Please note") -> QMessageBox:
        """A non-blocking warning dialog; `noticeShown` carries the text."""
        self.noticeShown.emit(message)
        return message_box(self, QMessageBox.Icon.Warning, headline, message)

    @Slot()
    def show_about(self) -> AboutDialog:
        """The About box: version, a short summary of the model in use, and its full card a click away."""
        dialog = AboutDialog(self._recognizer, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MESSAGE_MS)

    # ------------------------------------------------------------------ window events

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        on_draw = index == TAB_DRAW
        if index == TAB_TRAIN and self._torch_ready and self.train_tab is None:
            QTimer.singleShot(0, self.ensure_train_tab)  # not while QTabWidget is still switching
        self.draw_tab.set_editing_enabled(on_draw)
        self.paste_action.setEnabled(on_draw)

    def dragEnterEvent(self, event) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def _restore_settings(self) -> None:
        """Window size and layout, pen width: each checked, so a damaged settings file costs only its values."""
        geometry = prefs.read(self._settings, prefs.WINDOW_GEOMETRY)
        if not (geometry and self.restoreGeometry(QByteArray(geometry))):
            self.resize(DEFAULT_SIZE)
        state = prefs.read(self._settings, prefs.WINDOW_STATE)
        if state:
            self.restoreState(QByteArray(state))
        self.draw_tab.set_pen_width(prefs.read(self._settings, prefs.PEN_WIDTH))

    def save_settings(self) -> None:
        prefs.write(self._settings, prefs.WINDOW_GEOMETRY, self.saveGeometry())
        prefs.write(self._settings, prefs.WINDOW_STATE, self.saveState())
        prefs.write(self._settings, prefs.PEN_WIDTH, self.draw_tab.pen_width())
        self._settings.sync()

    @Slot()
    def shutdown(self) -> None:
        """Save the settings and stop the background threads (closing the window does this)."""
        if self._closed:
            return
        self._closed = True
        self.save_settings()
        if self.train_tab is not None:
            kept = self.train_tab.stop_and_keep()  # a run going: stopped, its model saved
            if kept is not None:
                print(f"digitpad: the model trained so far is saved in {kept}", file=sys.stderr)
            self.train_tab.shutdown()
        self.hide()  # gone at once, even if a model load still has to finish
        stop_worker(self._thread)
        self.personal.shutdown()

    def closeEvent(self, event) -> None:
        if not self._closed and not self.confirm_quit_during_run():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def confirm_quit_during_run(self) -> bool:
        """While a run trains, ask before quitting; True to quit (the run is then stopped and its model kept)."""
        if self.train_tab is None or not self.train_tab.is_running:
            return True
        box, stop = _quit_question(self)
        self.quitQuestionShown.emit(box)
        box.exec()
        return box.clickedButton() is stop


# ---------------------------------------------------------------------------------------- ending


_open_windows: weakref.WeakSet[MainWindow] = weakref.WeakSet()


def _end_with_the_program(window: MainWindow) -> None:
    """However the program ends, the window saves its settings and its threads end before Qt is torn down.

    A QThread destroyed while it runs aborts the process ("QThread: Destroyed while thread ... is
    still running", exit 134): a script that exits with the window open, or drops the window, hit it.
    """
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(window.shutdown)
    thread = window._thread
    window.destroyed.connect(lambda *_: stop_worker(thread))  # the window object is gone: only the thread is left
    if not _open_windows:
        atexit.register(_shutdown_open_windows)
    _open_windows.add(window)


def _shutdown_open_windows() -> None:
    """At interpreter exit, before workers.stop_all (registered earlier, so run later): windows still open shut down."""
    for window in list(_open_windows):
        with contextlib.suppress(RuntimeError):  # its C++ object is gone already; stop_all ends its thread
            window.shutdown()


class QuitOnSignals(QObject):
    """Ctrl+C and SIGTERM end the app as closing the window does (settings saved, a run stopped and kept).

    Python runs a signal handler only when the interpreter gets control, and Qt's event loop keeps
    it in C++: the C-level handler writes to a socket (`signal.set_wakeup_fd`), whose notifier
    brings Python in to run the handler and act on it.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._received: list[int] = []
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._wake)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous = {s: signal.signal(s, self._note) for s in QUIT_SIGNALS}

    def _note(self, signum: int, _frame: object) -> None:
        self._received.append(signum)

    @Slot()
    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._reader.recv(64)
        if self._received:
            signum = self._received[0]
            self.restore()
            self._window.shutdown()
            QApplication.exit(128 + signum)  # as a shell reports a program ended by this signal

    def restore(self) -> None:
        """Give the signals back to their previous handlers (the app is ending)."""
        self._notifier.setEnabled(False)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)


class _FirstPaint(QObject):
    """Calls `callback` once, right after the watched window first paints (or after a fallback delay)."""

    def __init__(self, window: QWidget, callback) -> None:
        super().__init__(window)
        self._callback = callback
        self._done = False
        window.installEventFilter(self)
        QTimer.singleShot(FIRST_PAINT_FALLBACK_MS, self._fire)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and not self._done:
            QTimer.singleShot(0, self._fire)  # after this paint has reached the screen
        return False

    def _fire(self) -> None:
        if not self._done:
            self._done = True
            self.parent().removeEventFilter(self)
            self._callback()


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with digitpad's names, icon and HiDPI policy (reuses one that exists)."""
    app = QApplication.instance()
    if app is None:
        # Fractional scale factors (125 %, 150 %) render sharp instead of being rounded.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("digitpad")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("digitpad")
    app.setWindowIcon(app_icon())
    return app


def launch(model: str | Path | None = None, device: str = "auto", *, settings: QSettings | None = None) -> MainWindow:
    """Show the window at once, then load the model behind it (after the first paint)."""
    window = MainWindow(None, settings=settings, device=device)
    window.show()
    _FirstPaint(window, lambda: window.launch_load(model, device))
    return window


def run_app(model: str | Path | None = None, device: str = "auto", *, settings: QSettings | None = None) -> int:
    """The `digitpad` command: open the window and run until it is closed; returns the exit status.

    Ctrl+C and SIGTERM quit as closing the window does, with status 130 and 143.
    """
    app = create_application()
    window = launch(model, device, settings=settings)
    quit_on_signals = QuitOnSignals(window)
    status = app.exec()
    quit_on_signals.restore()
    window.shutdown()
    return status

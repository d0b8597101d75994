"""The digitpad main window: the Draw and Train tabs, menus, status bar, settings and model loading.

    window = MainWindow(Recognizer.load())      # tests and scripts: a ready model
    run_app(model=None, device="auto")          # the `digitpad` command: window first, model loads behind it

Startup stays quick because torch is imported on the recognition thread while the window is
already on screen ("Loading model…"). The Train tab needs torch too: a window made with a
recognizer builds it at once; one started by `launch` builds it the first time the tab is
opened after torch is in (`train_tab` is None until then; `ensure_train_tab()` forces it), so
building it never interrupts someone drawing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from digitpad import __version__
from digitpad.draw.canvas import image_suffixes, is_model_file
from digitpad.draw.recognition import LoadOutcome, start_worker, stop_worker
from digitpad.draw.tab import DrawTab
from digitpad.draw.views import app_icon

ORG_NAME = APP_NAME = "digitpad"
DEFAULT_SIZE = QSize(1060, 720)
MESSAGE_MIN_WIDTH = 380        # px of text in message boxes
STATUS_MESSAGE_MS = 6000        # how long transient status-bar messages stay
FIRST_PAINT_FALLBACK_MS = 300   # start loading the model after the first paint, or after this at worst
MODEL_CARD = "MODEL_CARD.md"
IMAGE_FILTER = "Images ({})".format(" ".join(f"*{s}" for s in image_suffixes()))
MODEL_FILTER = "digitpad models (*.pt *.pth)"
TAB_DRAW, TAB_TRAIN = 0, 1
# QSettings keys
KEY_GEOMETRY, KEY_STATE, KEY_TAB = "window/geometry", "window/state", "window/tab"
KEY_PEN, KEY_IMAGE_DIR, KEY_MODEL_DIR = "draw/pen_width", "paths/last_image_dir", "paths/last_model_dir"


def default_settings() -> QSettings:
    """The user's settings store (tests pass their own, in a temporary directory)."""
    return QSettings(ORG_NAME, APP_NAME)


def qimage_to_rgba(image: QImage) -> np.ndarray:
    """A QImage as an (H, W, 4) uint8 RGBA array (a copy), for the recognizer's image path."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = rgba.height(), rgba.width()
    buffer = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=rgba.sizeInBytes())
    return buffer.reshape(h, rgba.bytesPerLine())[:, : w * 4].reshape(h, w, 4).copy()


def describe_model(recognizer) -> str:
    """One status-bar line: name, architecture, checkpoint test accuracy, device."""
    acc = recognizer.test_accuracy
    acc_text = f"test accuracy {acc:.2%}" if acc is not None else "test accuracy unknown"
    return f"Model: {recognizer.name} ({recognizer.arch}) · {acc_text} · {recognizer.device_name}"


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

    def __init__(self, recognizer=None, *, settings: QSettings | None = None, device: str = "auto",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else default_settings()
        self._device = device
        self._recognizer = None
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
        self.tabs.addTab(self._train_placeholder(), "Train")
        self.tabs.setTabToolTip(TAB_DRAW, "Draw a digit and see what the model reads (Ctrl+1)")
        self.tabs.setTabToolTip(TAB_TRAIN, "Train or retrain a model on MNIST (Ctrl+2)")
        self.setCentralWidget(self.tabs)
        self._make_actions()
        self._make_menus()
        self._make_status_bar()
        self._connect()
        self._restore_settings()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        if recognizer is not None:
            self.set_recognizer(recognizer)
            self.ensure_train_tab()

    # ------------------------------------------------------------------ construction

    def _train_placeholder(self) -> QWidget:
        placeholder = QLabel("Loading the training panel…")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setEnabled(False)
        return placeholder

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
        tab.useModelRequested.connect(self.set_recognizer)
        self.train_tab = tab
        # Scrollable, so the form, charts and results never force the window wider than a laptop screen.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(tab)
        self._replace_train_widget(scroll)

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

    def _make_actions(self) -> None:
        self.open_image_action = QAction("Open &Image…", self)
        self.open_image_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_image_action.setToolTip("Read the digit in a picture file (Ctrl+O; or drop it on the paper)")
        self.open_model_action = QAction("Open &Model…", self)
        self.open_model_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_model_action.setToolTip("Use another trained model, a .pt checkpoint (or drop it on the window)")
        self.paste_action = QAction("&Paste Image", self)
        self.paste_action.setShortcut(QKeySequence.StandardKey.Paste)
        self.paste_action.setToolTip("Read the digit in the picture on the clipboard (Ctrl+V)")
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.draw_view_action = QAction("&Draw", self)
        self.draw_view_action.setShortcut(QKeySequence("Ctrl+1"))
        self.train_view_action = QAction("&Train", self)
        self.train_view_action.setShortcut(QKeySequence("Ctrl+2"))
        self.about_action = QAction("&About digitpad", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_qt_action = QAction("About &Qt", self)
        self.about_qt_action.setMenuRole(QAction.MenuRole.AboutQtRole)
        self.draw_tab.open_image_button.setDefaultAction(self.open_image_action)
        self.draw_tab.open_image_button.setText("Open Image…")

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open_image_action, self.open_model_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.draw_tab.undo_action, self.draw_tab.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([self.draw_tab.clear_action, self.paste_action])
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.draw_view_action, self.train_view_action])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.about_action, self.about_qt_action])
        for menu in (file_menu, edit_menu, view_menu, help_menu):
            menu.setToolTipsVisible(True)

    def _make_status_bar(self) -> None:
        status = self.statusBar()
        self._busy = QProgressBar(self)
        self._busy.setRange(0, 0)
        self._busy.setMaximumSize(90, 12)
        self._busy.setTextVisible(False)
        self._busy.hide()
        self.model_label = QLabel("Loading model…", self)
        self.model_label.setContentsMargins(6, 0, 6, 0)
        status.addPermanentWidget(self._busy)
        status.addPermanentWidget(self.model_label)

    def _connect(self) -> None:
        self.open_image_action.triggered.connect(self.open_image_dialog)
        self.open_model_action.triggered.connect(self.open_model_dialog)
        self.paste_action.triggered.connect(self.paste)
        self.quit_action.triggered.connect(self.close)
        self.draw_view_action.triggered.connect(lambda: self.tabs.setCurrentIndex(TAB_DRAW))
        self.train_view_action.triggered.connect(lambda: self.tabs.setCurrentIndex(TAB_TRAIN))
        self.about_action.triggered.connect(self.show_about)
        self.about_qt_action.triggered.connect(QApplication.aboutQt)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.draw_tab.predictionChanged.connect(self.predictionChanged)
        self.draw_tab.predictionCleared.connect(self.predictionCleared)
        self.draw_tab.messageRaised.connect(self._status_message)
        self.draw_tab.penWidthChanged.connect(lambda w: self._settings.setValue(KEY_PEN, w))
        self.canvas.filesDropped.connect(self.open_paths)
        self.canvas.imageDropped.connect(self.open_qimage)

    # ------------------------------------------------------------------ models

    @property
    def recognizer(self):
        """The Recognizer in use (None while the first model is loading)."""
        return self._recognizer

    @property
    def prediction(self):
        """The Prediction shown on the Draw tab, or None."""
        return self.draw_tab.prediction()

    @Slot(object)
    def set_recognizer(self, recognizer) -> None:
        """Use `recognizer` from now on (hot swap): the status bar and the Draw tab follow."""
        self._recognizer = recognizer
        self._device = recognizer.device.type if hasattr(recognizer, "device") else self._device
        self.model_label.setText(describe_model(recognizer))
        path = getattr(recognizer.checkpoint, "path", None)
        self.model_label.setToolTip(f"{path}" if path else "a model trained in this session")
        self.draw_tab.set_recognizer(recognizer)
        self._status_message(f"Using model {recognizer.name} on {recognizer.device_name}")
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
        self._settings.setValue(KEY_MODEL_DIR, str(Path(path).resolve().parent))
        return self.load_model(path)

    @Slot(int, object)
    def _on_loaded(self, ticket: int, outcome: LoadOutcome) -> None:
        if ticket == self._load_ticket:
            self._busy.hide()
        self.set_recognizer(outcome.recognizer)
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

    # ------------------------------------------------------------------ images

    def open_image(self, path: str | Path) -> bool:
        """Show the picture in `path` on the paper and read it; False (and a dialog) if unreadable."""
        path = Path(path)
        self._settings.setValue(KEY_IMAGE_DIR, str(path.resolve().parent))
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
        self.draw_tab.show_image(image, qimage_to_rgba(image))
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
        start = str(self._settings.value(KEY_IMAGE_DIR, str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open Image", start, f"{IMAGE_FILTER};;All files (*)")
        if path:
            self.open_image(path)

    @Slot()
    def open_model_dialog(self) -> None:
        start = str(self._settings.value(KEY_MODEL_DIR, str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open Model", start, f"{MODEL_FILTER};;All files (*)")
        if path:
            self.open_model(path)

    def show_error(self, title: str, message: str) -> QMessageBox:
        """A non-blocking error dialog; `errorShown` carries the text (tests watch it)."""
        self.errorShown.emit(message)
        return self._message_box(QMessageBox.Icon.Critical, title, message)

    def show_notice(self, message: str) -> QMessageBox:
        """A non-blocking warning dialog; `noticeShown` carries the text."""
        self.noticeShown.emit(message)
        return self._message_box(QMessageBox.Icon.Warning, "", message)

    def _message_box(self, icon: QMessageBox.Icon, headline: str, message: str) -> QMessageBox:
        box = QMessageBox(icon, "digitpad", headline or message, QMessageBox.StandardButton.Ok, self)
        if headline:
            box.setText(f"<b>{headline}</b>")
            box.setInformativeText(message)
        box.setTextFormat(Qt.TextFormat.AutoText)
        # No narrow, ragged text columns (the labels' object names are QMessageBox's own).
        box.setStyleSheet(f"QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel "
                          f"{{ min-width: {MESSAGE_MIN_WIDTH}px; }}")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, returns at once: nothing blocks the event loop
        return box

    @Slot()
    def show_about(self) -> QDialog:
        """The About box: version, and the model card (or what the checkpoint says)."""
        dialog = AboutDialog(self._about_markdown(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _about_markdown(self) -> str:
        rec = self._recognizer
        parts = []
        if rec is not None:
            acc = f"{rec.test_accuracy:.2%}" if rec.test_accuracy is not None else "unknown"
            ckpt = rec.checkpoint
            where = f"`{ckpt.path}`" if ckpt.path else "trained in this session"
            parts.append(
                f"## Model in use\n\n- **name:** {rec.name}\n- **architecture:** {rec.arch}\n"
                f"- **test accuracy:** {acc}\n- **device:** {rec.device_name}\n"
                f"- **created:** {ckpt.created or '—'}\n- **file:** {where}\n"
            )
        card = self._model_card_path()
        if card is not None:
            parts.append(card.read_text(encoding="utf-8", errors="replace"))
        else:
            parts.append("*No model card found (assets/MODEL_CARD.md).*")
        return "\n\n".join(parts)

    @staticmethod
    def _model_card_path() -> Path | None:
        from digitpad.recognizer import bundled_model_path  # torch is loaded by now

        card = bundled_model_path().parent / MODEL_CARD
        return card if card.is_file() else None

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
        self.open_image_action.setEnabled(True)

    def dragEnterEvent(self, event) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def _restore_settings(self) -> None:
        geometry = self._settings.value(KEY_GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(DEFAULT_SIZE)
        state = self._settings.value(KEY_STATE)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        pen = self._settings.value(KEY_PEN)
        if pen is not None:
            try:
                self.draw_tab.set_pen_width(float(pen))
            except (TypeError, ValueError):
                pass  # a hand-edited settings file: keep the default

    def save_settings(self) -> None:
        self._settings.setValue(KEY_GEOMETRY, self.saveGeometry())
        self._settings.setValue(KEY_STATE, self.saveState())
        self._settings.setValue(KEY_PEN, self.draw_tab.pen_width())
        self._settings.sync()

    @Slot()
    def shutdown(self) -> None:
        """Save the settings and stop the background threads (closing the window does this)."""
        if self._closed:
            return
        self._closed = True
        self.save_settings()
        if self.train_tab is not None:
            self.train_tab.shutdown()
        self.hide()  # gone at once, even if a model load still has to finish
        stop_worker(self._thread)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


class AboutDialog(QDialog):
    """Version and the model card, rendered from markdown."""

    def __init__(self, markdown: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About digitpad")
        self.resize(620, 560)
        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel(f"<h2 style='margin:0'>digitpad {__version__}</h2>"
                       "<p>Draw a digit, see what a neural network reads, and retrain it in the same window.</p>"
                       f"<p>Python {sys.version.split()[0]} · Qt {_qt_version()}</p>", self)
        title.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(title, 1)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)


def _qt_version() -> str:
    from PySide6.QtCore import qVersion

    return qVersion()


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


def run_app(model: str | Path | None = None, device: str = "auto") -> int:
    """The `digitpad` command: open the window and run until it is closed; returns the exit status."""
    app = create_application()
    window = launch(model, device)
    status = app.exec()
    del window
    return status

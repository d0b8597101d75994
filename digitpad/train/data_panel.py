"""The data viewer's source: samples read in the background, and the missing-data panel when MNIST is not there.

Shown by the Train tab when a run or the data viewer finds no MNIST files; hidden again as soon
as the directory holds them. "Download" is offered only when the download server answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from digitpad.train.results import ResultsView
from digitpad.train.worker import Samples, load_samples
from digitpad.workers import TaskWorker, start_job

THREAD_PREFIX = "digitpad-train"  # the Train tab's worker threads, so its shutdown waits for its own only
PANEL_STYLE = ("#dataPanel { background: palette(alternate-base); border: 1px solid palette(mid); "
               "border-radius: 4px; }")


def expected_files() -> list[str]:
    from trainer.data import FILE_NAMES

    return [names[0] for names in FILE_NAMES.values()]


def mnist_present(data_dir: str | None) -> bool:
    """Whether the four MNIST files are in `data_dir` (a few stat calls: fine on the GUI thread)."""
    from trainer.data import default_data_dir, find_mnist_files

    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return find_mnist_files(root) is not None


def missing_text(data_dir: str | None) -> str:
    """The one wording for missing data, in this panel and in the data viewer."""
    return f"MNIST is not in {data_dir or 'the data folder'}."


class MissingDataPanel(QFrame):
    """What is missing, the file names expected, and "Choose folder…" / "Download" buttons."""

    # the user wants to pick another MNIST folder
    chooseFolderRequested = Signal()
    # the user wants MNIST downloaded into the shown folder
    downloadRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataPanel")
        self.setStyleSheet(PANEL_STYLE)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextSelectableByMouse)
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        names = "".join(f"<br>&nbsp;&nbsp;{name}[.gz]" for name in expected_files())
        self.files = QLabel(f"It needs these four files, in that folder or its MNIST/raw/ subfolder:{names}")
        self.files.setWordWrap(True)
        self.files.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.choose_button = QPushButton("Choose folder…")
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Fetch MNIST (about 11 MB) into this folder")
        self.download_button.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.download_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.headline)
        layout.addWidget(self.files)
        layout.addLayout(buttons)
        self.choose_button.clicked.connect(self.chooseFolderRequested)
        self.download_button.clicked.connect(self.downloadRequested)
        self.hide()

    def show_missing(self, data_dir: str | None, note: str = "") -> None:
        self.headline.setText(missing_text(data_dir) + (f" {note}" if note else ""))
        self.show()

    def set_online(self, online: bool) -> None:
        """Offer "Download" only when the download server answered."""
        self.download_button.setVisible(online)

    def text(self) -> str:
        """What the panel says ("" when hidden)."""
        return "" if self.isHidden() else self.headline.text()


class DataWatcher(QObject):
    """Fills the data viewer from the form's folder in the background, and shows the panel while MNIST is missing."""

    # the number of dataset samples shown (0: none could be read)
    samplesLoaded = Signal(int)

    def __init__(self, panel: MissingDataPanel, results: ResultsView, data_dir: Callable[[], str | None]) -> None:
        super().__init__(panel)
        self.panel = panel
        self.results = results
        self.data_dir = data_dir
        self._requested_for: str | None = None
        panel.downloadRequested.connect(self.download)

    @property
    def requested(self) -> bool:
        return self._requested_for is not None

    def load_samples(self) -> None:
        """Read a few training images for the data viewer in the background (once per folder)."""
        data_dir = self.data_dir()
        if self._requested_for == (data_dir or ""):
            return
        self._requested_for = data_dir or ""
        background(lambda: load_samples(data_dir), self._on_samples, self._on_samples_failed, "samples")

    def folder_changed(self) -> None:
        if not self.panel.isHidden() and mnist_present(self.data_dir()):
            self.panel.hide()

    @Slot(object)
    def _on_samples(self, samples: Samples) -> None:
        self.panel.hide()
        self.results.set_samples(samples.images, samples.labels, samples.source)
        self.samplesLoaded.emit(len(samples.labels))

    @Slot(str)
    def _on_samples_failed(self, message: str) -> None:
        if mnist_present(self.data_dir()):
            self.results.show_samples_error(message)  # there, but unreadable: say why
        else:
            self.show_missing(self.data_dir())
        self.samplesLoaded.emit(0)

    def show_missing(self, data_dir: str | None) -> None:
        """The one panel for missing data, above the (empty) samples; "Download" once the server answers."""
        self.panel.show_missing(data_dir)
        self.results.show_samples_error("")
        self.results.setCurrentIndex(0)
        from trainer.data import _network_reachable

        background(_network_reachable, self.panel.set_online, lambda _message: None, "probe")

    @Slot()
    def download(self) -> None:
        """Fetch MNIST into the form's folder in the background; the samples show once it is there."""
        from trainer.data import default_data_dir, download_mnist

        root = Path(self.data_dir()) if self.data_dir() else default_data_dir()
        self.panel.show_missing(self.data_dir(), "Downloading…")
        self.panel.download_button.setEnabled(False)
        background(lambda: download_mnist(root), self._on_downloaded, self._on_download_failed, "download")

    @Slot(object)
    def _on_downloaded(self, _value) -> None:
        self.panel.download_button.setEnabled(True)
        self._requested_for = None
        self.folder_changed()
        self.load_samples()

    @Slot(str)
    def _on_download_failed(self, message: str) -> None:
        self.panel.download_button.setEnabled(True)
        self.panel.show_missing(self.data_dir(), "The download failed.")
        self.panel.setToolTip(message)


def background(fn: Callable[[], object], finished, failed, what: str) -> None:
    """Run `fn` on a Train-tab worker thread; `finished(value)` or `failed(message)` on the GUI thread."""
    worker = TaskWorker(fn)
    worker.finished.connect(finished)
    worker.failed.connect(failed)
    start_job(worker, f"{THREAD_PREFIX}-{what}")

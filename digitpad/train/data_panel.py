"""The missing-data panel: MNIST is not where the form points, said once, with the way out next to it.

Shown by the Train tab when a run or the data viewer finds no MNIST files; hidden again as soon
as the directory holds them. "Download" is offered only when the download server answers.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

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

"""The About box: digitpad's version and a short summary of the model in use, with a link to its full card.

The summary is read from the checkpoint itself (its metrics and training settings), so it is right
for any model, not only the bundled one. The bundled model's card (assets/MODEL_CARD.md, with the
development notes) opens in the user's viewer from a button instead of filling the box.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from digitpad import __version__
from digitpad.draw.views import app_icon
from trainer.durations import format_duration

if TYPE_CHECKING:
    from digitpad.recognizer import Recognizer

MODEL_CARD = "MODEL_CARD.md"
MAX_FIELD = 200  # characters of any checkpoint value shown (a model file is untrusted input)


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_FIELD else text[: MAX_FIELD - 1] + "…"


def _number(value: object) -> float | None:
    """A finite number from checkpoint metadata, or None (metadata may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if abs(value) < 1e18 else None


def model_summary(recognizer: Recognizer) -> list[tuple[str, str]]:
    """(label, text) rows a user wants to know: model, data, accuracy, size, training."""
    ckpt = recognizer.checkpoint
    metrics, hparams = ckpt.metrics, ckpt.hparams
    params = sum(p.numel() for p in recognizer.model.parameters())
    rows = [("Model", f"{_short(recognizer.name)} ({_short(recognizer.arch)}), on {recognizer.device_name}")]
    n_train = _number(metrics.get("n_train"))
    data = "MNIST" + (" and pen-drawn digits" if hparams.get("pen_digits") is True else "")
    if n_train is not None:
        data = f"{int(n_train):,} training images: {data}"
    if hparams.get("augment") is True:
        data += ", randomly rotated, scaled and shifted"
    rows.append(("Data", data))
    acc, n_test = _number(metrics.get("test_accuracy")), _number(metrics.get("n_test"))
    if acc is not None and 0 <= acc <= 1:
        tested = f" of {int(n_test):,} MNIST test images" if n_test is not None else " on MNIST's test images"
        rows.append(("Accuracy", f"{acc:.2%}{tested}"))
    else:
        rows.append(("Accuracy", "not recorded in the file"))
    size = f"{params:,} parameters"
    if ckpt.path is not None and ckpt.path.is_file():
        size += f", {ckpt.path.stat().st_size / 1e6:.2f} MB file"
    rows.append(("Size", size))
    rows.append(("Trained", _training_text(metrics, ckpt.created)))
    rows.append(("File", _short(ckpt.path) if ckpt.path is not None else "trained in this session, not saved"))
    return rows


def _training_text(metrics: dict, created: str) -> str:
    parts = []
    epochs, seconds = _number(metrics.get("epochs_completed")), _number(metrics.get("train_seconds"))
    if epochs is not None:
        parts.append(f"{int(epochs)} epochs")
    if seconds is not None and seconds >= 0:
        parts.append(f"in {format_duration(seconds)}")
    if isinstance(metrics.get("device"), str):
        parts.append(f"on {_short(metrics['device'])}")
    if created:
        parts.append(f"({_short(created)[:10]})")
    return " ".join(parts) or "—"


def summary_html(rows: list[tuple[str, str]]) -> str:
    """The rows as a small two-column table."""
    from html import escape

    cells = "".join(f"<tr><td style='padding-right:12px'><b>{escape(k)}</b></td><td>{escape(v)}</td></tr>"
                    for k, v in rows)
    return f"<table cellspacing='4'>{cells}</table>"


def model_card_path() -> Path | None:
    """The bundled model's card beside it, if installed."""
    from digitpad.recognizer import bundled_model_path  # torch is loaded when a model is

    card = bundled_model_path().parent / MODEL_CARD
    return card if card.is_file() else None


class AboutDialog(QDialog):
    """Version, the model in use in a few lines, and a button that opens the full model card."""

    def __init__(self, recognizer: Recognizer | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About digitpad")
        self.resize(560, 400)
        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel(f"<h2 style='margin:0'>digitpad {__version__}</h2>"
                       "<p>Draw a digit, see what a neural network reads, and retrain it in the same window.</p>"
                       f"<p>Python {sys.version.split()[0]} · Qt {qVersion()}</p>", self)
        title.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(title, 1)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        if recognizer is None:
            self.browser.setPlainText("No model is loaded yet.")
        else:
            self.browser.setHtml("<h3>Model in use</h3>" + summary_html(model_summary(recognizer)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.card_path = self._card_for(recognizer)
        self.card_button: QPushButton | None = None
        if self.card_path is not None:
            self.card_button = buttons.addButton("Open the Model Card", QDialogButtonBox.ButtonRole.ActionRole)
            self.card_button.setToolTip(f"The full card of the bundled model: {self.card_path}")
            self.card_button.clicked.connect(self.open_card)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)

    @staticmethod
    def _card_for(recognizer: Recognizer | None) -> Path | None:
        """The card describes the bundled model only; another model has none."""
        if recognizer is None or recognizer.checkpoint.path is None:
            return None
        from digitpad.recognizer import bundled_model_path

        if recognizer.checkpoint.path.resolve() != bundled_model_path().resolve():
            return None
        return model_card_path()

    def open_card(self) -> bool:
        """Open the model card in the user's viewer for .md files (a browser or an editor)."""
        return self.card_path is not None and QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.card_path)))

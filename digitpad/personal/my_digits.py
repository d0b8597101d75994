"""The "My digits" dialog: the stored personal examples as a grid of 28x28 renderings, to review and tidy.

Filter by digit, relabel, delete, clear all (after a confirmation), export to and import from a file.
It renders what the store holds and forwards the user's intent to it; `changed` tells the window to
rebuild the personalized model. The question and the file choosers are injectable callables, so tests
(and other front ends) need no modal dialog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from digitpad.personal.store import Store, StoredExample, StoreError
from trainer.personal_file import ExchangeError, export_examples, import_examples
from trainer.preprocess import strokes_to_mnist, to_uint8
from trainer.sizes import IMAGE_SIZE, NUM_CLASSES

THUMB_SCALE = 2          # a 28x28 rendering shown at 56x56 logical px
ALL_DIGITS = "All digits"
FILE_FILTER = "digitpad digits (*.jsonl);;All files (*)"


def thumbnail(stored: StoredExample) -> QPixmap:
    """The example as the model sees it: the 28x28 rendering, white ink on black, enlarged."""
    pixels = np.ascontiguousarray(to_uint8(strokes_to_mnist(stored.example.arrays())))
    image = QImage(pixels.data, IMAGE_SIZE, IMAGE_SIZE, IMAGE_SIZE, QImage.Format.Format_Grayscale8).copy()
    side = IMAGE_SIZE * THUMB_SCALE
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation))


def ask_user(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "digitpad", question)
    return answer == QMessageBox.StandardButton.Yes


class MyDigitsDialog(QDialog):
    """Review the stored examples; every change goes straight to the store."""

    changed = Signal()  # the stored examples changed: rebuild the personalized model

    def __init__(self, store: Store, parent: QWidget | None = None, *,
                 confirm: Callable[[str], bool] | None = None,
                 choose_export: Callable[[], str] | None = None,
                 choose_import: Callable[[], str] | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._confirm = confirm or (lambda question: ask_user(self, question))
        self._choose_export = choose_export or (
            lambda: QFileDialog.getSaveFileName(self, "Export my digits", "my-digits.jsonl", FILE_FILTER)[0])
        self._choose_import = choose_import or (
            lambda: QFileDialog.getOpenFileName(self, "Import digits", "", FILE_FILTER)[0])
        self.setWindowTitle("My digits")
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.filter_box = QComboBox()
        self.filter_box.addItems([ALL_DIGITS] + [str(d) for d in range(NUM_CLASSES)])
        self.filter_box.currentIndexChanged.connect(self.refresh)
        self.count_label = QLabel()
        self.grid = QListWidget()
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(QSize(IMAGE_SIZE * THUMB_SCALE, IMAGE_SIZE * THUMB_SCALE))
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setMovement(QListWidget.Movement.Static)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.itemSelectionChanged.connect(self._update_buttons)
        self.relabel_buttons = []
        relabel_row = QHBoxLayout()
        relabel_row.addWidget(QLabel("Relabel as:"))
        for digit in range(NUM_CLASSES):
            button = QPushButton(str(digit))
            button.setToolTip(f"Say the selected drawings are {digit}s")
            button.clicked.connect(lambda _checked=False, d=digit: self.relabel_selected(d))
            relabel_row.addWidget(button)
            self.relabel_buttons.append(button)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.clear_button = QPushButton("Clear all…")
        self.clear_button.clicked.connect(self.clear_all)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.export_file)
        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self.import_file)
        self.message = QLabel()
        self.message.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.filter_box)
        top.addStretch(1)
        top.addWidget(self.count_label)
        actions = QHBoxLayout()
        for button in (self.delete_button, self.clear_button):
            actions.addWidget(button)
        actions.addStretch(1)
        for button in (self.import_button, self.export_button):
            actions.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.grid, 1)
        layout.addLayout(relabel_row)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        self.resize(640, 480)

    # ------------------------------------------------------------------ showing

    @property
    def digit_filter(self) -> int | None:
        index = self.filter_box.currentIndex()
        return None if index <= 0 else index - 1

    def refresh(self) -> None:
        """Show the store's examples again (after any change, here or elsewhere)."""
        self.grid.clear()
        shown = self.store.list(label=self.digit_filter)
        for stored in shown:
            item = QListWidgetItem(QIcon(thumbnail(stored)), str(stored.label))
            item.setData(Qt.ItemDataRole.UserRole, stored.id)
            said = "" if stored.predicted is None else f", the model said {stored.predicted}"
            item.setToolTip(f"{stored.label} ({stored.kind.value}{said}; {stored.created})")
            self.grid.addItem(item)
        total = self.store.count()
        self.count_label.setText(f"{len(shown)} shown of {total}" if self.digit_filter is not None else f"{total} digits")
        self.clear_button.setEnabled(total > 0)
        self.export_button.setEnabled(total > 0)
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = bool(self.grid.selectedItems())
        for button in [*self.relabel_buttons, self.delete_button]:
            button.setEnabled(selected)

    def selected_ids(self) -> list[int]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.grid.selectedItems()]

    # ------------------------------------------------------------------ changing

    def _apply(self, action: Callable[[], str]) -> None:
        try:
            self.message.setText(action())
        except (StoreError, ExchangeError, KeyError) as exc:
            self.message.setText(f"Nothing changed: {exc}")
            return
        finally:
            self.refresh()
        self.changed.emit()

    def relabel_selected(self, digit: int) -> None:
        ids = self.selected_ids()

        def relabel() -> str:
            for example_id in ids:
                self.store.relabel(example_id, digit)
            return f"{len(ids)} relabelled as {digit}."
        self._apply(relabel)

    def delete_selected(self) -> None:
        ids = self.selected_ids()

        def delete() -> str:
            for example_id in ids:
                self.store.delete(example_id)
            return f"{len(ids)} deleted."
        self._apply(delete)

    def clear_all(self) -> None:
        total = self.store.count()
        if total and self._confirm(f"Delete all {total} of your digits? This cannot be undone."):
            self._apply(lambda: f"{self.store.clear()} deleted.")

    def export_file(self) -> None:
        path = self._choose_export()
        if not path:
            return
        try:
            count = export_examples(Path(path), self.store.examples())
        except ExchangeError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"{count} digits exported to {Path(path).name}.")

    def import_file(self) -> None:
        path = self._choose_import()
        if not path:
            return
        try:
            report = import_examples(Path(path))
        except ExchangeError as exc:
            self.message.setText(str(exc))
            return

        def add() -> str:
            self.store.add_many(report.examples)
            return "; ".join([report.summary() + "."] + report.problems[:3])
        self._apply(add)

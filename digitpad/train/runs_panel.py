"""The runs list with the selected run's accuracy and what can be done with its model."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from digitpad.train.runs_model import COL_SETTINGS, RunsModel
from digitpad.train.session import Run, Session


class RunsPanel(QWidget):
    """A table of the session's runs (tick to overlay curves, select to see results) and the model actions."""

    # the selected run changed (None: no selection)
    selectionChanged = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RunsModel(session, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(COL_SETTINGS, QHeaderView.Stretch)
        self.table.setToolTip("Tick runs to overlay their curves; select a run to see its results")
        self.accuracy_label = QLabel("No finished run yet.")
        font = self.accuracy_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.accuracy_label.setFont(font)
        self.use_button = QPushButton("Use in Draw tab")
        self.use_button.setToolTip("Recognize drawings with the selected run's model")
        self.save_button = QPushButton("Save…")
        self.export_button = QPushButton("Export ONNX…")
        actions = QHBoxLayout()
        for button in (self.use_button, self.save_button, self.export_button):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.accuracy_label)
        layout.addLayout(actions)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

    def add(self, run: Run) -> None:
        self.model.add(run)

    def select(self, run_id: int) -> None:
        row = self.model.row_of(run_id)
        if row >= 0:
            self.table.selectRow(row)

    def selected(self) -> Run | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.run_at(min(index.row() for index in rows)) if rows else None

    def show_accuracy(self, run: Run | None) -> None:
        if run is None or run.outcome is None:
            self.accuracy_label.setText("No finished run selected.")
        else:
            self.accuracy_label.setText(f"{run.name}: test accuracy {100 * run.outcome.accuracy:.2f}%")

    def set_model_actions_enabled(self, enabled: bool) -> None:
        for button in (self.use_button, self.save_button, self.export_button):
            button.setEnabled(enabled)

    @Slot()
    def _on_selection_changed(self) -> None:
        self.selectionChanged.emit(self.selected())

"""The runs list: a table model over the session's runs, one row each, ticked rows shown in the charts."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from digitpad.train.session import Run, RunStatus, Session, settings_text, settings_tooltip

COL_SHOW, COL_NAME, COL_SETTINGS, COL_ACCURACY, COL_TIME, COL_STATUS = range(6)
RUN_COLUMNS = ("show", "run", "settings", "test acc", "time", "status")

Index = QModelIndex | QPersistentModelIndex


def accuracy_text(run: Run) -> str:
    return f"{100 * run.accuracy:.2f}%" if run.accuracy is not None else ""


class RunsModel(QAbstractTableModel):
    """Rows in the session's order; a dict finds a run's row. Column 0's check box shows a run's curves."""

    # the ids of the ticked runs, after a tick changed
    checkedChanged = Signal(list)

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self._rows: dict[int, int] = {}  # run id -> row
        self._checked: set[int] = set()

    # ------------------------------------------------------------ the model's API

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008  Qt's default argument
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(RUN_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole and 0 <= section < len(RUN_COLUMNS):
            return RUN_COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        run = self.run_at(index.row())
        if index.column() == COL_SHOW and run is not None and run.status is not RunStatus.FAILED:
            flags |= Qt.ItemIsUserCheckable
        return flags

    def data(self, index: Index, role: int = Qt.DisplayRole):
        run = self.run_at(index.row())
        if run is None:
            return None
        col = index.column()
        if role == Qt.CheckStateRole and col == COL_SHOW:
            return Qt.Checked if run.id in self._checked else Qt.Unchecked
        if role == Qt.DisplayRole:
            return self._text(run, col)
        if role == Qt.ToolTipRole:
            if col == COL_SETTINGS:
                return settings_tooltip(run.config)
            if col == COL_STATUS:
                return run.error or ""
        return None

    def setData(self, index: Index, value, role: int = Qt.EditRole) -> bool:
        run = self.run_at(index.row())
        if run is None or role != Qt.CheckStateRole or index.column() != COL_SHOW:
            return False
        self.set_checked(run.id, Qt.CheckState(value) == Qt.Checked)
        return True

    @staticmethod
    def _text(run: Run, col: int) -> str:
        if col == COL_NAME:
            return run.name
        if col == COL_SETTINGS:
            return settings_text(run.config)
        if col == COL_ACCURACY:
            return accuracy_text(run)
        if col == COL_TIME:
            return run.time_text
        if col == COL_STATUS:
            return str(run.status)
        return ""

    # ------------------------------------------------------------ runs

    def add(self, run: Run, *, checked: bool = True) -> None:
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows[run.id] = row
        if checked:
            self._checked.add(run.id)
        self.endInsertRows()
        self.checkedChanged.emit(self.checked_ids())

    def refresh(self, run: Run) -> None:
        """The run's row shows its current state (status, accuracy, time)."""
        row = self.row_of(run.id)
        if row >= 0:
            if run.status is RunStatus.FAILED:
                self.set_checked(run.id, False)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(RUN_COLUMNS) - 1))

    def row_of(self, run_id: int) -> int:
        return self._rows.get(run_id, -1)

    def run_at(self, row: int) -> Run | None:
        runs = self.session.runs
        return runs[row] if 0 <= row < len(self._rows) else None

    def checked_ids(self) -> list[int]:
        return [run.id for run in self.session.runs if run.id in self._checked]

    def set_checked(self, run_id: int, checked: bool) -> None:
        if (run_id in self._checked) == checked or run_id not in self._rows:
            return
        if checked:
            self._checked.add(run_id)
        else:
            self._checked.discard(run_id)
        index = self.index(self.row_of(run_id), COL_SHOW)
        self.dataChanged.emit(index, index, [Qt.CheckStateRole])
        self.checkedChanged.emit(self.checked_ids())

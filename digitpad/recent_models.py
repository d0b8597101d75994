"""File > Recent Models: the model files opened before, newest first, validated through the settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Slot
from PySide6.QtWidgets import QMenu

from digitpad import settings as prefs


class RecentModels(QObject):
    """File > Recent Models: model files opened before, remembered in the settings (never the bundled one)."""

    def __init__(self, store: QSettings, menu: QMenu, open_model: Callable[[Path], object]) -> None:
        super().__init__(menu)
        self._store, self._menu, self._open = store, menu, open_model
        menu.aboutToShow.connect(self.fill)
        self.fill()

    def paths(self) -> list[Path]:
        """Newest first, those that still exist."""
        return [Path(p) for p in prefs.read(self._store, prefs.RECENT_MODELS) if Path(p).is_file()]

    def add(self, path: Path | None) -> None:
        """Remember a model file just loaded (a model trained in this session has none)."""
        from digitpad.recognizer import bundled_model_path  # torch is in: a model just loaded

        if path is None or path.resolve() == bundled_model_path().resolve():
            return
        known = [str(p) for p in self.paths() if p.resolve() != path.resolve()]
        prefs.write(self._store, prefs.RECENT_MODELS, (str(path.resolve()), *known))
        self.fill()

    @Slot()
    def fill(self) -> None:
        self._menu.clear()
        for path in self.paths():
            action = self._menu.addAction(path.name)
            action.setToolTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self._open(p))
        self._menu.setEnabled(bool(self._menu.actions()))

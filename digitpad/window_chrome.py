"""The main window's menus, actions and status bar: declarative layout, kept out of MainWindow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QProgressBar, QToolButton

from digitpad.recent_models import RecentModels

if TYPE_CHECKING:
    from digitpad.app import MainWindow


def _action(parent: QObject, text: str, tip: str = "", shortcut: QKeySequence | None = None) -> QAction:
    action = QAction(text, parent)
    action.setToolTip(tip)
    if shortcut is not None:
        action.setShortcut(shortcut)
    return action



def make_actions(self: MainWindow) -> None:
    """The window's own actions (the Draw tab brings its editing ones)."""
    self.open_image_action = _action(self, "Open &Image…", "Read the digit in a picture file (Ctrl+O; or drop it "
                                          "on the paper)", QKeySequence(QKeySequence.StandardKey.Open))
    self.open_model_action = _action(self, "Open &Model…", "Use another trained model, a .pt checkpoint (or drop "
                                          "it on the window)", QKeySequence("Ctrl+Shift+O"))
    self.bundled_model_action = _action(self, "Use the &Bundled Model", "Go back to the model that comes with "
                                             "digitpad (assets/digitnet.pt)")
    self.paste_action = _action(self, "&Paste Image", "Read the digit in the picture on the clipboard (Ctrl+V)",
                                     QKeySequence(QKeySequence.StandardKey.Paste))
    self.quit_action = _action(self, "&Quit", shortcut=QKeySequence(QKeySequence.StandardKey.Quit))
    self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    self.draw_view_action = _action(self, "&Draw", shortcut=QKeySequence("Ctrl+1"))
    self.train_view_action = _action(self, "&Train", shortcut=QKeySequence("Ctrl+2"))
    self.network_view_action = _action(self, "&Network", shortcut=QKeySequence("Ctrl+3"))
    self.about_action = _action(self, "&About digitpad")
    self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
    self.about_qt_action = _action(self, "About &Qt")
    self.about_qt_action.setMenuRole(QAction.MenuRole.AboutQtRole)
    self.draw_tab.open_image_button.setDefaultAction(self.open_image_action)
    self.draw_tab.open_image_button.setText("Open Image…")

def make_menus(self: MainWindow) -> None:
    """File, Edit, View and Help (the Personal menu is added by digitpad.personal.controls)."""
    bar = self.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([self.open_image_action, self.open_model_action])
    self.recent_menu = file_menu.addMenu("&Recent Models")
    self._recent = RecentModels(self._settings, self.recent_menu, self.open_model)
    file_menu.addAction(self.bundled_model_action)
    file_menu.addSeparator()
    file_menu.addAction(self.quit_action)
    edit_menu = bar.addMenu("&Edit")
    edit_menu.addActions([self.draw_tab.undo_action, self.draw_tab.redo_action])
    edit_menu.addSeparator()
    edit_menu.addActions([self.draw_tab.clear_action, self.draw_tab.copy_action, self.paste_action])
    view_menu = bar.addMenu("&View")
    view_menu.addActions([self.draw_view_action, self.train_view_action, self.network_view_action])
    help_menu = bar.addMenu("&Help")
    help_menu.addActions([self.about_action, self.about_qt_action])
    for menu in (file_menu, self.recent_menu, edit_menu, view_menu, help_menu):
        menu.setToolTipsVisible(True)

def make_status_bar(self: MainWindow) -> None:
    """Busy indicator, a run indicator that leads to the Train tab, and the model in use."""
    status = self.statusBar()
    self._busy = QProgressBar(self)
    self._busy.setRange(0, 0)
    self._busy.setMaximumSize(90, 12)
    self._busy.setTextVisible(False)
    self._busy.hide()
    self.model_label = QLabel("Loading model…", self)
    self.model_label.setContentsMargins(6, 0, 6, 0)
    self.run_indicator = QToolButton(self)
    self.run_indicator.setAutoRaise(True)
    self.run_indicator.setToolTip("A training run is going: show the Train tab (Ctrl+2)")
    self.run_indicator.clicked.connect(self.train_view_action.trigger)
    self.run_indicator.hide()
    status.addPermanentWidget(self.run_indicator)
    status.addPermanentWidget(self._busy)
    status.addPermanentWidget(self.model_label)


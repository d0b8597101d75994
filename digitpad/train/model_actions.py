"""What can be done with a finished run's model: use it in the Draw tab, save it, export it to ONNX."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog

from digitpad.train.controls import MessageBanner
from digitpad.train.runs_panel import RunsPanel
from digitpad.train.session import Run
from digitpad.train.worker import RunOutcome, export_checkpoint
from digitpad.workers import TaskWorker, start_job

ONNX_HINT = 'ONNX export needs the onnx package: pip install onnx onnxruntime (or pip install -e ".[onnx]" in a checkout)'
EXPORT_THREAD = "digitpad-train-export"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


class ModelActions(QObject):
    """The runs panel's Use / Save… / Export ONNX… buttons, acting on the selected run."""

    # a Recognizer built from a run's checkpoint, for the Draw tab
    useModelRequested = Signal(object)
    # the path of a finished ONNX export
    exported = Signal(object)

    def __init__(self, panel: RunsPanel, banner: MessageBanner, log_dir: Callable[[], str]) -> None:
        super().__init__(panel)
        self.panel = panel
        self.banner = banner
        self.log_dir = log_dir
        self._model_names: dict[int, str] = {}  # id(recognizer) -> the run it came from
        panel.use_button.clicked.connect(self.use_selected_run)
        panel.save_button.clicked.connect(self.save_dialog)
        panel.export_button.clicked.connect(self.export_dialog)

    def _selected_outcome(self) -> tuple[Run, RunOutcome] | None:
        run = self.panel.selected()
        if run is None or run.outcome is None:
            self.banner.show_error("Select a finished run first.")
            return None
        return run, run.outcome

    @Slot()
    def use_selected_run(self) -> None:
        """Build a Recognizer from the selected run and hand it to the Draw tab."""
        chosen = self._selected_outcome()
        if chosen is None:
            return
        run, outcome = chosen
        from digitpad.recognizer import Recognizer

        try:
            recognizer = Recognizer.from_checkpoint(outcome.checkpoint, device="auto")
        except Exception as exc:  # a broken checkpoint must not take the app down
            self.banner.show_error(f"cannot use {run.name}: {exc}")
            return
        self._model_names[id(recognizer)] = run.display_name
        self.banner.show_info(f"The Draw tab now recognizes with {run.display_name}.")
        self.useModelRequested.emit(recognizer)

    def model_name(self, recognizer) -> str | None:
        """The run a recognizer handed out by "Use in Draw tab" came from, e.g. "run 2 · cnn · 98.0%"."""
        return self._model_names.get(id(recognizer))

    def _suggested_name(self, run: Run, suffix: str) -> str:
        return str(Path(self.log_dir() or Path.home()) / f"{slug(run.name)}-{run.config.arch}{suffix}")

    @Slot()
    def save_dialog(self) -> None:
        chosen = self._selected_outcome()
        if chosen is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.panel, "Save checkpoint", self._suggested_name(chosen[0], ".pt"), "Checkpoints (*.pt)")
        if path:
            self.save_to(path)

    def save_to(self, path) -> Path | None:
        """Write the selected run's checkpoint to `path` atomically; returns the path or None on error."""
        chosen = self._selected_outcome()
        return None if chosen is None else self.save(chosen[0], path)

    def save(self, run: Run, path) -> Path | None:
        """Write `run`'s checkpoint to `path` (its folder made when missing); the path, or None after an error message."""
        from trainer.checkpoint import save_checkpoint

        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            saved = Path(save_checkpoint(run.outcome.checkpoint, path))
        except Exception as exc:  # disk full, read-only directory, ...
            self.banner.show_error(f"could not save {run.name} to {path}: {exc}")
            return None
        self.banner.show_info(f"Saved {run.name} to {saved}")
        return saved

    @Slot()
    def export_dialog(self) -> None:
        if importlib.util.find_spec("onnx") is None:  # say so before the user picks a file
            self.banner.show_error(ONNX_HINT)
            return
        chosen = self._selected_outcome()
        if chosen is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.panel, "Export ONNX", self._suggested_name(chosen[0], ".onnx"), "ONNX models (*.onnx)")
        if path:
            self.export_to(path)

    def export_to(self, path) -> None:
        """Export the selected run to ONNX at `path` in the background; `exported` fires when done."""
        chosen = self._selected_outcome()
        if chosen is None:
            return
        run, outcome = chosen
        target = Path(path)
        worker = TaskWorker(lambda: export_checkpoint(outcome.checkpoint, target))
        worker.finished.connect(self._on_exported)
        worker.failed.connect(self._on_export_failed)
        self.panel.export_button.setEnabled(False)
        self.banner.show_info(f"Exporting {run.name} to {target}…")
        start_job(worker, EXPORT_THREAD)

    @Slot(object)
    def _on_exported(self, result) -> None:
        check = "verified with onnxruntime" if result.verified else "not verified (onnxruntime missing)"
        self.banner.show_info(f"Exported ONNX to {result.path} ({check}).")
        self.panel.set_model_actions_enabled(True)
        self.exported.emit(result.path)

    @Slot(str)
    def _on_export_failed(self, message: str) -> None:
        self.panel.set_model_actions_enabled(True)
        self.banner.show_error(f"ONNX export failed: {message}")


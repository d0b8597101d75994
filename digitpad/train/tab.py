"""The Train tab: the settings form, the run controls, live plots, the session's runs and their results.

It composes the parts (form.py, controls.py, charts.py, runs_panel.py, results.py,
data_panel.py) and carries intent between them and the `Session` (session.py, the runs' state).
Training runs in `digitpad.train.worker.TrainWorker` on its own thread through `trainer.train.train`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, QStandardPaths, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QScrollArea, QSplitter, QVBoxLayout, QWidget

from digitpad.train.charts import TrainingCharts
from digitpad.train.controls import MessageBanner, RunControls
from digitpad.train.data_panel import (
    THREAD_PREFIX,
    DataWatcher,
    MissingDataPanel,
    background,
    missing_text,
    mnist_present,
)
from digitpad.train.form import TrainForm
from digitpad.train.model_actions import EXPORT_THREAD, ModelActions, slug
from digitpad.train.results import ResultsView
from digitpad.train.runs_panel import RunsPanel
from digitpad.train.session import Run, RunResult, RunStatus, Session, finished_text
from digitpad.train.worker import RunOutcome, TrainWorker, warm_up
from digitpad.workers import running_threads, start_job
from trainer.config import TrainConfig
from trainer.events import BatchEvent, EpochEvent, StartEvent

FORM_MIN_WIDTH, FORM_MAX_WIDTH = 250, 340  # pixels of the settings column
SHUTDOWN_WAIT_MS = 10_000  # how long closing the app waits for a cancelled run to stop
RUN_THREAD = f"{THREAD_PREFIX}-run"
PERSONAL_EXPORT_PREFIX = "digitpad-run-"  # temporary folders holding a run's copy of the personal digits


def default_runs_dir() -> Path:
    """Where models kept on quit go when no log dir is set: ~/.local/share/digitpad/runs and the like."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.GenericDataLocation)) / "digitpad" / "runs"


def log_paths(log_dir: str, tensorboard: bool, run: Run) -> tuple[Path | None, Path | None]:
    """The run's JSON-lines log and TensorBoard folder under the form's log folder (none without one)."""
    if not log_dir:
        return None, None
    stem = slug(f"{time.strftime('%Y%m%d-%H%M%S')}-{run.name}-{run.config.arch}")
    root = Path(log_dir).expanduser()
    return root / f"{stem}.jsonl", root / "tensorboard" / stem if tensorboard else None


def remove_personal_export(config: TrainConfig) -> None:
    """The run has read its export of the personal digits (training data is loaded first): drop the copy."""
    folder = Path(config.personal).parent if config.personal else None
    if folder is not None and folder.name.startswith(PERSONAL_EXPORT_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


def with_personal_digits(config: TrainConfig, export: Callable[[Path], int]) -> TrainConfig:
    """The run reads a fresh export of the window's personal digits (the trainer knows no database)."""
    path = Path(tempfile.mkdtemp(prefix=PERSONAL_EXPORT_PREFIX)) / "my-digits.jsonl"
    export(path)
    return replace(config, personal=str(path))


class TrainTab(QWidget):
    """Panel for training models; emits ``useModelRequested(Recognizer)``."""

    # a Recognizer built from a run's checkpoint, for the Draw tab (`model_name` names it)
    useModelRequested = Signal(object)
    # a run's id, once its worker thread started
    runStarted = Signal(int)
    # each BatchEvent of the running run, after the progress bar and plots took it
    progressed = Signal(object)
    # the Run, once it finished or was stopped and its results are shown
    runFinished = Signal(object)
    # the message of a failed run
    runFailed = Signal(str)
    # any message shown in the error banner
    errorShown = Signal(str)
    # the path of a finished ONNX export
    exported = Signal(object)
    # the number of dataset samples shown by the data viewer
    samplesLoaded = Signal(int)
    # seconds the one-off background warm-up of the training machinery took
    warmedUp = Signal(float)
    # one line on the run going ("run 2 · epoch 1/3 · 40%"), "" once none is: for the app's status bar
    activityChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("digitpad", "digitpad")
        self.session = Session()
        self._personal_count: Callable[[], int] | None = None
        self._personal_export: Callable[[Path], int] | None = None
        self._warm_up_started = False
        self._build()
        self._wire()
        self._update_buttons()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ================================================================ layout

    def _build(self) -> None:
        self.form = TrainForm(self.settings)
        self.controls = RunControls()
        self.data_panel = MissingDataPanel()
        self.message_label = MessageBanner()
        self._form_scroll = scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.NoFrame)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.addWidget(self.message_label)
        column_layout.addWidget(scroll, 1)
        column_layout.addWidget(self.controls)
        # room for the form and the scroll bar beside it, so no field is ever cut
        fit = self.form.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 2
        column.setMinimumWidth(max(FORM_MIN_WIDTH, fit))
        column.setMaximumWidth(max(FORM_MAX_WIDTH, fit))

        self.charts = TrainingCharts()
        self.results = ResultsView()
        self.results.set_samples_notice(self.data_panel)
        self.runs_panel = RunsPanel(self.session)
        self.actions = ModelActions(self.runs_panel, self.message_label, self.form.log_dir)
        self.data = DataWatcher(self.data_panel, self.results, self.form.data_dir)
        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(self.runs_panel)
        bottom.addWidget(self.results)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.charts)
        right.addWidget(bottom)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        for splitter in (bottom, right):
            splitter.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(column)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)
        self._alias_widgets()

    def _alias_widgets(self) -> None:
        """The parts' widgets under the names scripts and tests have always used."""
        for name in ("start_button", "pause_button", "stop_button", "progress_bar", "speed_label", "status_label"):
            setattr(self, name, getattr(self.controls, name))
        for name in ("use_button", "save_button", "export_button", "accuracy_label"):
            setattr(self, name, getattr(self.runs_panel, name))
        self.runs_model = self.runs_panel.model
        self.runs_table = self.runs_panel.table
        self.log_dir_edit = self.form.log_dir_edit
        self.more_panel, self.more_button = self.form.more_panel, self.form.more_button

    def _wire(self) -> None:
        self.controls.start_button.clicked.connect(self.start)
        self.controls.pause_button.clicked.connect(self.toggle_pause)
        self.controls.stop_button.clicked.connect(self.stop)
        self.runs_panel.selectionChanged.connect(self._on_run_selected)
        self.runs_panel.model.checkedChanged.connect(self.charts.set_shown_runs)
        self.actions.useModelRequested.connect(self.useModelRequested)
        self.actions.exported.connect(self.exported)
        self.message_label.errorShown.connect(self.errorShown)
        self.data.samplesLoaded.connect(self.samplesLoaded)
        self.form.dataDirChanged.connect(self._on_data_dir_changed)
        self.form.moreOptionsToggled.connect(self._on_more_options_toggled)
        self.data_panel.chooseFolderRequested.connect(self.form._browse_data_dir)

    @Slot(bool)
    def _on_more_options_toggled(self, shown: bool) -> None:
        if shown:  # once the layout has made room for them, scroll the new rows into view
            QTimer.singleShot(0, self._reveal_more_options)

    @Slot()
    def _reveal_more_options(self) -> None:
        self._form_scroll.ensureWidgetVisible(self.form.more_panel)
        self._form_scroll.ensureWidgetVisible(self.form.more_fields_end())  # down to the last row

    # ================================================================ the form

    def config_from_form(self) -> TrainConfig:
        """The TrainConfig the form describes (validated; ConfigError names a bad field)."""
        return self.form.config()

    def set_data_dir(self, path) -> None:
        """Use `path` as the MNIST directory (remembered for the next session)."""
        self.form.set_data_dir(path)

    def data_dir(self) -> str | None:
        return self.form.data_dir()

    @Slot(str)
    def _on_data_dir_changed(self, _path: str) -> None:
        self.data.folder_changed()
        if self.isVisible():
            self.load_samples()

    # ================================================================ running

    @property
    def runs(self) -> list[Run]:
        return self.session.runs

    @property
    def is_running(self) -> bool:
        return self.session.is_running

    @Slot()
    def start(self) -> None:
        """Start a run with the form's settings (ignored while one is running)."""
        if self.is_running:
            return
        self.clear_message()
        try:
            config = self.form.config()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.form.remember()
        if self.form.wants_personal() and self._personal_export is not None:
            config = with_personal_digits(config, self._personal_export)
        run = self.session.start(config)
        log_path, tb_dir = log_paths(self.form.log_dir(), self.form.tensorboard_check.isChecked(), run)
        worker = TrainWorker(config, self.session.control, log_path=log_path, tensorboard_dir=tb_dir)
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.epochEnded.connect(self._on_epoch)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self.charts.add_run(run.id, run.name, config.epochs)
        self.runs_panel.add(run)
        self.controls.show_loading(run)
        start_job(worker, RUN_THREAD)
        self._update_buttons()
        self.activityChanged.emit(f"Training {run.name}…")
        self.runStarted.emit(run.id)

    def set_personal_source(self, count: Callable[[], int], export: Callable[[Path], int]) -> None:
        """Where the window's personal digits come from: offered as "+ my digits" in the form."""
        self._personal_count, self._personal_export = count, export
        self.refresh_personal_count()

    def refresh_personal_count(self) -> None:
        if self._personal_count is not None:
            self.form.set_personal_count(self._personal_count())

    @Slot()
    def toggle_pause(self) -> None:
        run = self.session.toggle_pause()
        if run is None:
            return
        if run.status is RunStatus.PAUSED:
            self.controls.set_status(f"{run.name}: paused after the current batch — press Resume to go on")
        else:
            self.controls.set_status(f"{run.name}: running")
        self.controls.show_progress(run)
        self._run_changed(run)

    @Slot()
    def stop(self) -> None:
        """Stop after the current batch; the model trained so far is kept (and evaluated)."""
        run = self.session.stop()
        if run is not None:
            self.controls.set_status(f"{run.name}: stopping — evaluating the model trained so far…")
            self._run_changed(run)

    def _run_changed(self, run: Run) -> None:
        self.runs_panel.model.refresh(run)
        self._update_buttons()

    @Slot(object)
    def _on_started(self, event: StartEvent) -> None:
        run = self.session.started(event.steps_per_epoch)
        if run is None:
            return
        self.controls.show_started(event.steps_per_epoch * event.config.epochs, event.config.epochs)
        self.controls.set_status(
            f"{run.name}: {event.config.arch} ({event.n_params:,} parameters) on {event.device} — "
            f"{event.n_train:,} training / {event.n_test:,} test images"
        )
        self._run_changed(run)

    @Slot(object)
    def _on_progress(self, event: BatchEvent) -> None:
        run = self.session.progressed(event)
        if run is None:
            return
        self.charts.add_batch(run.id, (event.epoch - 1) + event.step / event.steps_per_epoch, event.loss)
        self.controls.show_progress(run)
        self.runs_panel.model.refresh(run)
        total = max(1, event.epochs * event.steps_per_epoch)
        self.activityChanged.emit(f"Training {run.name} · epoch {event.epoch}/{event.epochs} · "
                                  f"{100 * event.global_step / total:.0f}%")
        self.progressed.emit(event)

    @Slot(object)
    def _on_epoch(self, event: EpochEvent) -> None:
        run = self.session.epoch_ended(event.test_accuracy)
        if run is None:
            return
        self.charts.add_epoch(
            run.id, event.epoch, event.train_loss, event.test_loss, event.train_accuracy, event.test_accuracy
        )
        self.runs_panel.model.refresh(run)

    @Slot(object)
    def _on_finished(self, outcome: RunOutcome) -> None:
        result = outcome.result
        run = self.session.finished(outcome, RunResult(outcome.accuracy, result.seconds, result.cancelled))
        if run is None:
            return
        self._end_run(run)
        self.controls.show_ended(f"{run.status} · test accuracy {100 * outcome.accuracy:.2f}%", done=True)
        self.controls.set_status(finished_text(run))
        self.runs_panel.select(run.id)
        self.runFinished.emit(run)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        run = self.session.failed(message)
        if run is None:
            return
        self._end_run(run)
        self.charts.remove_run(run.id)  # a failed run's curves (often NaN) and legend entries go
        self.controls.show_ended("failed", done=False)
        self.controls.set_status(f"{run.name} failed.")
        if not mnist_present(run.config.data_dir):
            self.data.show_missing(run.config.data_dir)
            self.show_error(f"{run.name} failed: {missing_text(run.config.data_dir)} See Data samples.")
        else:
            self.show_error(f"{run.name} failed: {message}")
        self.runFailed.emit(message)

    def _end_run(self, run: Run) -> None:
        remove_personal_export(run.config)
        self.charts.flush()
        self._run_changed(run)
        self.activityChanged.emit("")

    def stop_and_keep(self, timeout_ms: int = SHUTDOWN_WAIT_MS, directory: Path | None = None) -> Path | None:
        """Stop the current run, wait up to `timeout_ms` for it, and save its model; the file, or None.

        The model goes to `directory`, else the log dir, else `default_runs_dir()`. For quitting
        (menu, Ctrl+Q, SIGTERM): the events of the run's end are handled while waiting.
        """
        run = self.session.current
        if run is None:
            return None
        loop = QEventLoop()
        self.runFinished.connect(loop.quit)
        self.runFailed.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        self.stop()
        loop.exec()
        self.runFinished.disconnect(loop.quit)
        self.runFailed.disconnect(loop.quit)
        if run.outcome is None:
            return None
        root = Path(directory) if directory is not None else Path(self.form.log_dir() or default_runs_dir())
        stem = slug(f"{time.strftime('%Y%m%d-%H%M%S')}-{run.name}-{run.config.arch}")
        return self.actions.save(run, root.expanduser() / f"{stem}.pt")

    @Slot()
    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> None:
        """Cancel a running run and wait for it and an export (call before the app exits).

        The read-only jobs (samples, warm-up, the network probe, which may wait seconds for DNS
        offline) are left to `digitpad.workers.stop_all`, which the app runs as it quits.
        """
        if self.session.control is not None:
            self.session.control.cancel()
        self.form.remember()
        for thread in running_threads():
            if thread.objectName() in (RUN_THREAD, EXPORT_THREAD):
                thread.wait(timeout_ms)

    # ================================================================ runs list

    def checked_runs(self) -> list[int]:
        """Ids of the runs whose curves are shown."""
        return self.runs_panel.model.checked_ids()

    def set_run_checked(self, run_id: int, checked: bool) -> None:
        self.runs_panel.model.set_checked(run_id, checked)

    def select_run(self, run_id: int) -> None:
        self.runs_panel.select(run_id)

    def selected_run(self) -> Run | None:
        return self.runs_panel.selected()

    @Slot(object)
    def _on_run_selected(self, run: Run | None) -> None:
        self._update_buttons()
        self.runs_panel.show_accuracy(run)
        self.results.show_run(run)

    def _update_buttons(self) -> None:
        self.form.setEnabled(not self.is_running)
        self.controls.update_buttons(self.session.current)
        selected = self.selected_run()
        self.runs_panel.set_model_actions_enabled(selected is not None and selected.outcome is not None)

    # ================================================================ data

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_personal_count()  # digits taught or corrected since the tab was last shown
        if not self.data.requested:
            self.load_samples()  # the data viewer fills in the first time the tab is shown
        self.warm_up()

    def load_samples(self) -> None:
        """Read a few training images for the data viewer in the background (`samplesLoaded` tells how many)."""
        self.data.load_samples()

    def warm_up(self) -> None:
        """Once per tab: pay torch's first-optimizer import cost in the background, before any run."""
        if not self._warm_up_started:
            self._warm_up_started = True
            background(warm_up, self._on_warmed_up, self._on_warm_up_failed, "warm-up")

    @Slot(object)
    def _on_warmed_up(self, seconds: float) -> None:
        self.warmedUp.emit(float(seconds))

    @Slot(str)
    def _on_warm_up_failed(self, message: str) -> None:
        self.warmedUp.emit(float("nan"))  # a run will meet (and report) the same problem itself

    # ================================================================ a run's model, messages

    def use_selected_run(self) -> None:
        """Build a Recognizer from the selected run and hand it to the Draw tab."""
        self.actions.use_selected_run()

    def model_name(self, recognizer) -> str | None:
        """The run a recognizer handed out by "Use in Draw tab" came from, e.g. "run 2 · cnn · 98.0%"."""
        return self.actions.model_name(recognizer)

    def save_to(self, path) -> Path | None:
        """Write the selected run's checkpoint to `path` atomically; returns the path or None on error."""
        return self.actions.save_to(path)

    def export_to(self, path) -> None:
        """Export the selected run to ONNX at `path` in the background; `exported` fires when done."""
        self.actions.export_to(path)

    def show_error(self, message: str) -> None:
        """A clear, visible error in the panel (the app keeps running)."""
        self.message_label.show_error(message)

    def show_info(self, message: str) -> None:
        self.message_label.show_info(message)

    def clear_message(self) -> None:
        self.message_label.clear_message()

    def message(self) -> str:
        """The text of the message banner ("" when hidden)."""
        return self.message_label.message()

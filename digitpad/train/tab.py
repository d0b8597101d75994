"""The Train tab: a form to (re)train MNIST models, live plots, the session's runs and their results.

Layout and wiring only. Training runs in `digitpad.train.worker.TrainWorker` on its own thread
through `trainer.train.train`; this widget turns the worker's signals into plots, a progress bar,
a runs list and result views.
"""

from __future__ import annotations

import importlib.util
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from PySide6.QtCore import QCoreApplication, QSettings, QSignalBlocker, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QDoubleValidator, QShowEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from digitpad.train.charts import TrainingCharts
from digitpad.train.results import ResultsView
from digitpad.train.worker import (
    RunOutcome,
    Samples,
    TrainWorker,
    export_checkpoint,
    load_samples,
    warm_up,
)
from digitpad.workers import TaskWorker, start_job
from trainer.train import BatchEvent, ConfigError, EpochEvent, StartEvent, TrainConfig, TrainControl

FORM_WIDTH = 330  # pixels of the settings column
OPTIMIZERS = (("Adam", "adam"), ("AdamW", "adamw"), ("SGD", "sgd"), ("SGD + momentum", "momentum"))
DEVICES = (("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda"))
DATASETS = (("MNIST", False), ("MNIST + pen digits", True))
SCHEDULES = (("Constant", "none"), ("One-cycle", "onecycle"), ("Cosine", "cosine"))
MAX_PEN_COPIES = 20
MAX_SUBSET = 60_000  # the MNIST training set
SUBSET_STEP = 1_000
MAX_TEST_SUBSET = 10_000
SETTINGS_DATA_DIR = "train/data_dir"
SETTINGS_LOG_DIR = "train/log_dir"
SETTINGS_MORE_OPTIONS = "train/more_options"  # whether "More options" is unfolded
SHUTDOWN_WAIT_MS = 10_000  # how long closing the app waits for a cancelled run to stop
ERROR_STYLE = "QLabel { background: #fdecea; color: #7f1d1d; border: 1px solid #f5c2c0; border-radius: 4px; padding: 6px; }"
INFO_STYLE = "QLabel { background: #e8f4fd; color: #0b3d62; border: 1px solid #b6dcf7; border-radius: 4px; padding: 6px; }"
# runs-table columns
COL_SHOW, COL_NAME, COL_SETTINGS, COL_ACCURACY, COL_TIME, COL_STATUS = range(6)
RUN_COLUMNS = ("show", "run", "settings", "test acc", "time", "status")


@dataclass
class Architecture:
    name: str
    description: str
    parameters: int


@lru_cache(maxsize=1)
def architectures() -> tuple[Architecture, ...]:
    """Every registered model with its one-line description and parameter count."""
    from trainer.models import REGISTRY, count_parameters, create_model

    return tuple(
        Architecture(name, spec.description, count_parameters(create_model(name))) for name, spec in REGISTRY.items()
    )


def format_duration(seconds: float) -> str:
    """1:05 / 1:02:03 style, for ETAs and run times."""
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(event: BatchEvent) -> str:
    """The progress bar's words: epoch, step and time left."""
    return f"epoch {event.epoch}/{event.epochs} · step {event.step}/{event.steps_per_epoch} · ETA {format_duration(event.eta)}"


def speed_text(event: BatchEvent) -> str:
    """The line under the progress bar: loss, speed, time so far."""
    return f"loss {event.loss:.4f} · {event.samples_per_sec:,.0f} samples/s · {format_duration(event.elapsed)} elapsed"


def settings_text(config: TrainConfig) -> str:
    """The hyperparameters of a run in one line, e.g. "cnn · adam lr 0.0005 · batch 128 · 2 ep"."""
    parts = [config.arch, f"{config.optimizer} lr {config.lr:g}"]
    if config.optimizer == "momentum":
        parts[-1] += f" m {config.momentum:g}"
    if config.weight_decay:
        parts[-1] += f" wd {config.weight_decay:g}"
    if config.schedule != "none":
        parts.append(config.schedule)
    parts.append(f"batch {config.batch_size}")
    parts.append(f"{config.epochs} ep")
    if config.subset:
        parts.append(f"{config.subset:,} imgs")
    if config.augment:
        parts.append("aug")
    if config.label_smoothing:
        parts.append(f"ls {config.label_smoothing:g}")
    if config.ema:
        parts.append(f"ema {config.ema:g}")
    if config.pen_digits:
        parts.append("+pen" if config.pen_copies == TrainConfig.pen_copies else f"+pen ×{config.pen_copies}")
    return " · ".join(parts)


def _number_edit(value: float, tooltip: str) -> QLineEdit:
    """A field for a non-negative number typed as 0.01 or 5e-4 (a spin box cannot show both)."""
    edit = QLineEdit(f"{value:g}")
    validator = QDoubleValidator(0.0, 1e12, 12, edit)
    validator.setNotation(QDoubleValidator.ScientificNotation)
    edit.setValidator(validator)
    edit.setToolTip(tooltip)
    return edit


def _fraction_spin(
    value: float, maximum: float, decimals: int, step: float, tooltip: str = "", *, zero_text: str = ""
) -> QDoubleSpinBox:
    """A spin box for a value in [0, maximum]; `zero_text` (e.g. "off") is shown for 0."""
    spin = QDoubleSpinBox()
    spin.setRange(0.0, maximum)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setSpecialValueText(zero_text)
    spin.setToolTip(tooltip)
    return spin


def _read_number(edit: QLineEdit, what: str, example: str) -> float:
    text = edit.text().strip().replace(",", ".")  # a decimal comma is what some locales type
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"the {what} {text!r} is not a number (e.g. {example})") from None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


def _cuda_unavailable_reason() -> str | None:
    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build of PyTorch"
    return f"No CUDA GPU is visible to PyTorch here ({build})."


def _auto_device_name() -> str:
    from trainer.train import resolve_device

    return resolve_device("auto").type.upper()


def _pen_digits_unavailable_reason() -> str | None:
    try:
        from trainer.pendigits import default_pendigits_path
    except ImportError:
        return "Pen-digit support (trainer.pendigits) is not installed."
    if default_pendigits_path() is None:
        return "The UNIPEN pen-digits file was not found: set $DIGITPAD_PENDIGITS."
    return None


def _tensorboard_unavailable_reason() -> str | None:
    if importlib.util.find_spec("tensorboard") is None:
        return "Needs the tensorboard package: pip install digitpad[tensorboard]"
    return None


def _default_data_dir() -> str:
    from trainer.data import default_data_dir

    return str(default_data_dir())


@dataclass
class Run:
    """One training run of this session."""

    id: int
    name: str
    config: TrainConfig
    status: str = "starting"  # starting, running, paused, stopping, done, stopped, failed
    started: float = 0.0  # time.monotonic()
    seconds: float = 0.0  # training time (pauses excluded), once known
    outcome: RunOutcome | None = None
    error: str | None = None
    steps_per_epoch: int = 0
    last_progress: BatchEvent | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None


class TrainTab(QWidget):
    """Panel for training models; emits ``useModelRequested(Recognizer)``."""

    # a Recognizer built from a run's checkpoint, for the Draw tab
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

    def __init__(self, parent: QWidget | None = None, *, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("digitpad", "digitpad")
        self.runs: list[Run] = []
        self._current: Run | None = None
        self._control: TrainControl | None = None
        self._jobs: list[tuple[QThread, object]] = []  # (thread, worker) kept alive until the thread ends
        self._samples_requested_for: str | None = None
        self._warm_up_started = False
        self._build()
        self._wire()
        self._update_buttons()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ================================================================ layout

    def _build(self) -> None:
        form_column = QWidget()
        form_layout = QVBoxLayout(form_column)
        form_layout.setContentsMargins(0, 0, 0, 0)
        self.form = QWidget()
        inner = QVBoxLayout(self.form)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self._build_model_group())
        inner.addWidget(self._build_optimizer_group())
        inner.addWidget(self._build_data_group())
        inner.addWidget(self._build_more_options())
        inner.addWidget(self._build_output_group())
        inner.addStretch(1)
        self._compact_combos()
        self._form_scroll = scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.NoFrame)
        form_layout.addWidget(scroll, 1)
        form_layout.addWidget(self._build_controls())
        form_column.setFixedWidth(FORM_WIDTH)

        self.charts = TrainingCharts()
        self.results = ResultsView()
        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(self._build_runs_panel())
        bottom.addWidget(self.results)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.charts)
        right.addWidget(bottom)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)

        layout = QHBoxLayout(self)
        layout.addWidget(form_column)
        layout.addWidget(right, 1)

    def _build_model_group(self) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.arch_combo = QComboBox()
        for arch in architectures():
            self.arch_combo.addItem(f"{arch.name}  ({arch.parameters:,} parameters)", arch.name)
            self.arch_combo.setItemData(self.arch_combo.count() - 1, arch.description, Qt.ToolTipRole)
        self.arch_description = QLabel()
        self.arch_description.setWordWrap(True)
        self.arch_description.setStyleSheet("color: palette(placeholder-text);")
        form.addRow("Architecture", self.arch_combo)
        form.addRow(self.arch_description)
        return box

    def _build_optimizer_group(self) -> QGroupBox:
        defaults = TrainConfig()
        box = QGroupBox("Optimization")
        form = QFormLayout(box)
        self.optimizer_combo = QComboBox()
        for label, value in OPTIMIZERS:
            self.optimizer_combo.addItem(label, value)
        self.lr_edit = _number_edit(defaults.lr, "Learning rate, e.g. 5e-4 for Adam or 0.01 for SGD")
        self.momentum_spin = _fraction_spin(defaults.momentum, 0.999, 3, 0.05, "Used by SGD + momentum only")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 8192)
        self.batch_spin.setValue(defaults.batch_size)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 200)
        self.epochs_spin.setValue(defaults.epochs)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(defaults.seed)
        self.augment_check = QCheckBox("random affine distortions")
        self.augment_check.setChecked(defaults.augment)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Learning rate", self.lr_edit)
        form.addRow("Momentum", self.momentum_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Augment", self.augment_check)
        self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData(defaults.optimizer))
        return box

    def _build_data_group(self) -> QGroupBox:
        box = QGroupBox("Data and device")
        form = QFormLayout(box)
        self.dataset_combo = QComboBox()
        for label, pen in DATASETS:
            self.dataset_combo.addItem(label, pen)
        self._disable_item(self.dataset_combo, 1, _pen_digits_unavailable_reason())
        self.subset_spin = QSpinBox()
        self.subset_spin.setRange(0, MAX_SUBSET)
        self.subset_spin.setSingleStep(SUBSET_STEP)
        self.subset_spin.setSpecialValueText("all")
        self.subset_spin.setToolTip("Train on a class-balanced subset of this many images (for quick runs); 0 = all 60,000")
        self.test_subset_spin = QSpinBox()
        self.test_subset_spin.setRange(0, MAX_TEST_SUBSET)
        self.test_subset_spin.setSingleStep(SUBSET_STEP)
        self.test_subset_spin.setSpecialValueText("all")
        self.test_subset_spin.setToolTip("Evaluate on this many test images; 0 = all 10,000")
        self.data_dir_edit = QLineEdit(str(self.settings.value(SETTINGS_DATA_DIR, "") or _default_data_dir()))
        self.data_dir_edit.setToolTip("Directory with the four MNIST IDX files (downloaded there when missing)")
        self.browse_button = QToolButton()
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose the MNIST directory")
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir_edit, 1)
        data_row.addWidget(self.browse_button)
        self.device_combo = QComboBox()
        for label, value in DEVICES:
            self.device_combo.addItem(label, value)
        self.device_combo.setItemText(0, f"Auto ({_auto_device_name()})")
        self._disable_item(self.device_combo, self.device_combo.findData("cuda"), _cuda_unavailable_reason())
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Train subset", self.subset_spin)
        form.addRow("Test subset", self.test_subset_spin)
        form.addRow("Data dir", data_row)
        form.addRow("Device", self.device_combo)
        return box

    def _build_more_options(self) -> QWidget:
        """Regularization, schedule, weight averaging, pen-digit weight: folded away until asked for."""
        defaults = TrainConfig()
        self.more_button = QToolButton()
        self.more_button.setText("More options")
        self.more_button.setCheckable(True)
        self.more_button.setAutoRaise(True)
        self.more_button.setStyleSheet("QToolButton { border: none; padding: 2px 0; }")  # a fold, not a pressed button
        self.more_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.more_panel = QGroupBox()
        form = QFormLayout(self.more_panel)
        self.weight_decay_edit = _number_edit(
            defaults.weight_decay, "Weight decay, e.g. 0.01 with AdamW or 5e-4 with SGD; 0 = none"
        )
        self.schedule_combo = QComboBox()
        for label, value in SCHEDULES:
            self.schedule_combo.addItem(label, value)
        self.schedule_combo.setCurrentIndex(self.schedule_combo.findData(defaults.schedule))
        self.schedule_combo.setToolTip("How the learning rate changes over the run, batch by batch")
        self.label_smoothing_spin = _fraction_spin(defaults.label_smoothing, 0.5, 2, 0.05, zero_text="off")
        self.ema_spin = _fraction_spin(
            defaults.ema, 0.9999, 4, 0.001,
            "Evaluate and save a moving average of the weights with this decay, e.g. 0.999", zero_text="off",
        )
        self.pen_copies_spin = QSpinBox()
        self.pen_copies_spin.setRange(1, MAX_PEN_COPIES)
        self.pen_copies_spin.setValue(defaults.pen_copies)
        self.pen_copies_spin.setToolTip(
            "With MNIST + pen digits: renders of each pen digit at random sizes and places; "
            "more weigh drawn digits more against MNIST"
        )
        form.addRow("Weight decay", self.weight_decay_edit)
        form.addRow("LR schedule", self.schedule_combo)
        form.addRow("Label smoothing", self.label_smoothing_spin)
        form.addRow("Weight average", self.ema_spin)
        form.addRow("Pen copies", self.pen_copies_spin)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.more_button)
        layout.addWidget(self.more_panel)
        self._show_more_options(self.settings.value(SETTINGS_MORE_OPTIONS, False, type=bool))
        return box

    def _build_output_group(self) -> QGroupBox:
        box = QGroupBox("Logs")
        form = QFormLayout(box)
        self.log_dir_edit = QLineEdit(str(self.settings.value(SETTINGS_LOG_DIR, "") or ""))
        self.log_dir_edit.setPlaceholderText("none (no log files)")
        self.log_dir_edit.setToolTip("Each run writes <run>.jsonl here, like digitpad-train --log")
        self.tensorboard_check = QCheckBox("TensorBoard (in the log dir)")
        reason = _tensorboard_unavailable_reason()
        if reason:
            self.tensorboard_check.setEnabled(False)
            self.tensorboard_check.setToolTip(reason)
        form.addRow("Log dir", self.log_dir_edit)
        form.addRow(self.tensorboard_check)
        return box

    def _build_controls(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 4, 0, 0)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch and keep the model trained so far")
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("idle")
        self.progress_bar.setValue(0)
        self.speed_label = QLabel()
        self.speed_label.hide()
        self.status_label = QLabel("Set up a run and press Start.")
        self.status_label.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.message_label.hide()
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.speed_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.message_label)
        return panel

    def _build_runs_panel(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        self.runs_table = QTableWidget(0, len(RUN_COLUMNS))
        self.runs_table.setHorizontalHeaderLabels(RUN_COLUMNS)
        self.runs_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.runs_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.runs_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.runs_table.verticalHeader().hide()
        header = self.runs_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(COL_SETTINGS, QHeaderView.Stretch)
        self.runs_table.setToolTip("Tick runs to overlay their curves; select a run to see its results")
        self.accuracy_label = QLabel("No finished run yet.")
        font = self.accuracy_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.accuracy_label.setFont(font)
        actions = QHBoxLayout()
        self.use_button = QPushButton("Use in Draw tab")
        self.use_button.setToolTip("Recognize drawings with the selected run's model")
        self.save_button = QPushButton("Save…")
        self.export_button = QPushButton("Export ONNX…")
        for button in (self.use_button, self.save_button, self.export_button):
            actions.addWidget(button)
        actions.addStretch(1)
        layout.addWidget(self.runs_table, 1)
        layout.addWidget(self.accuracy_label)
        layout.addLayout(actions)
        return panel

    def _compact_combos(self) -> None:
        """Combos as wide as the column, not as their longest item (which would clip the form)."""
        for combo in self.form.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)

    @staticmethod
    def _disable_item(combo: QComboBox, index: int, reason: str | None) -> None:
        """Grey out a choice the machine cannot do, saying why in its tooltip."""
        if reason is None or index < 0:
            return
        model = combo.model()
        if isinstance(model, QStandardItemModel):
            model.item(index).setEnabled(False)
        combo.setItemData(index, reason, Qt.ToolTipRole)

    # ================================================================ wiring

    def _wire(self) -> None:
        self.arch_combo.currentIndexChanged.connect(self._on_arch_changed)
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer_changed)
        self.browse_button.clicked.connect(self._browse_data_dir)
        self.data_dir_edit.editingFinished.connect(self._on_data_dir_edited)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.runs_table.itemSelectionChanged.connect(self._on_run_selected)
        self.runs_table.itemChanged.connect(self._on_run_item_changed)
        self.use_button.clicked.connect(self.use_selected_run)
        self.save_button.clicked.connect(self._save_dialog)
        self.export_button.clicked.connect(self._export_dialog)
        self.more_button.toggled.connect(self._on_more_options_toggled)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData(TrainConfig().arch)))
        self._on_arch_changed()
        self._on_optimizer_changed()
        self._on_dataset_changed()

    @Slot()
    def _on_arch_changed(self) -> None:
        arch = next((a for a in architectures() if a.name == self.arch_combo.currentData()), None)
        self.arch_description.setText(arch.description if arch else "")

    @Slot()
    def _on_optimizer_changed(self) -> None:
        self.momentum_spin.setEnabled(self.optimizer_combo.currentData() == "momentum")

    @Slot()
    def _on_dataset_changed(self) -> None:
        self.pen_copies_spin.setEnabled(bool(self.dataset_combo.currentData()))

    @Slot(bool)
    def _on_more_options_toggled(self, shown: bool) -> None:
        self._show_more_options(shown)
        self.settings.setValue(SETTINGS_MORE_OPTIONS, shown)
        if shown:  # once the layout has made room for them, scroll the new rows into view
            QTimer.singleShot(0, self._reveal_more_options)

    @Slot()
    def _reveal_more_options(self) -> None:
        self._form_scroll.ensureWidgetVisible(self.more_panel)

    def _show_more_options(self, shown: bool) -> None:
        self.more_button.setChecked(shown)
        self.more_button.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)
        self.more_panel.setVisible(shown)

    # ================================================================ the form

    def set_data_dir(self, path) -> None:
        """Use `path` as the MNIST directory (remembered for the next session)."""
        self.data_dir_edit.setText(str(path))
        self._on_data_dir_edited()

    def data_dir(self) -> str | None:
        text = self.data_dir_edit.text().strip()
        return str(Path(text).expanduser()) if text else None

    @Slot()
    def _browse_data_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "MNIST data directory", self.data_dir_edit.text())
        if path:
            self.set_data_dir(path)

    @Slot()
    def _on_data_dir_edited(self) -> None:
        self.settings.setValue(SETTINGS_DATA_DIR, self.data_dir_edit.text().strip())
        if self.isVisible():
            self.load_samples()

    def config_from_form(self) -> TrainConfig:
        """The TrainConfig the form describes (validated; ConfigError names a bad field)."""
        pen_digits = bool(self.dataset_combo.currentData())
        config = TrainConfig(
            arch=self.arch_combo.currentData(),
            optimizer=self.optimizer_combo.currentData(),
            lr=_read_number(self.lr_edit, "learning rate", "5e-4"),
            momentum=self.momentum_spin.value(),
            weight_decay=_read_number(self.weight_decay_edit, "weight decay", "0.01"),
            schedule=self.schedule_combo.currentData(),
            label_smoothing=self.label_smoothing_spin.value(),
            ema=self.ema_spin.value(),
            batch_size=self.batch_spin.value(),
            epochs=self.epochs_spin.value(),
            seed=self.seed_spin.value(),
            augment=self.augment_check.isChecked(),
            device=self.device_combo.currentData(),
            data_dir=self.data_dir(),
            subset=self.subset_spin.value() or None,
            test_subset=self.test_subset_spin.value() or None,
            pen_digits=pen_digits,
            pen_copies=self.pen_copies_spin.value() if pen_digits else TrainConfig.pen_copies,
        )
        config.validate()
        return config

    # ================================================================ running

    @property
    def is_running(self) -> bool:
        return self._current is not None

    @Slot()
    def start(self) -> None:
        """Start a run with the form's settings (ignored while one is running)."""
        if self.is_running:
            return
        self.clear_message()
        try:
            config = self.config_from_form()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        run = Run(id=len(self.runs) + 1, name=f"run {len(self.runs) + 1}", config=config, started=time.monotonic())
        self.runs.append(run)
        self._current = run
        self._control = TrainControl()
        log_path, tb_dir = self._log_paths(run)
        worker = TrainWorker(config, self._control, log_path=log_path, tensorboard_dir=tb_dir)
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.epochEnded.connect(self._on_epoch)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self.charts.add_run(run.id, run.name, config.epochs)
        self._add_run_row(run)
        self.progress_bar.setRange(0, 0)  # busy until the first event says how long
        self.progress_bar.setFormat("loading data…")
        extra = " (rendering the pen digits takes a few seconds)" if config.pen_digits else ""
        self.status_label.setText(f"{run.name}: loading data{extra}…")
        self._launch(worker)
        self._update_buttons()
        self.runStarted.emit(run.id)

    def _log_paths(self, run: Run) -> tuple[Path | None, Path | None]:
        text = self.log_dir_edit.text().strip()
        self.settings.setValue(SETTINGS_LOG_DIR, text)
        if not text:
            return None, None
        stem = _slug(f"{time.strftime('%Y%m%d-%H%M%S')}-{run.name}-{run.config.arch}")
        root = Path(text).expanduser()
        tb = root / "tensorboard" / stem if self.tensorboard_check.isChecked() else None
        return root / f"{stem}.jsonl", tb

    @Slot()
    def toggle_pause(self) -> None:
        run, control = self._current, self._control
        if run is None or control is None or run.status == "stopping":
            return
        if control.paused:
            control.resume()
            run.status = "running"
            self.status_label.setText(f"{run.name}: running")
        else:
            control.pause()
            run.status = "paused"
            self.status_label.setText(f"{run.name}: paused after the current batch — press Resume to go on")
        self._show_progress_text(run)
        self._update_run_row(run)
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        """Stop after the current batch; the model trained so far is kept (and evaluated)."""
        run, control = self._current, self._control
        if run is None or control is None:
            return
        control.cancel()
        run.status = "stopping"
        self.status_label.setText(f"{run.name}: stopping — evaluating the model trained so far…")
        self._update_run_row(run)
        self._update_buttons()

    @Slot(object)
    def _on_started(self, event: StartEvent) -> None:
        run = self._current
        if run is None:
            return
        run.status = "paused" if self._control and self._control.paused else "running"
        run.steps_per_epoch = event.steps_per_epoch
        self.progress_bar.setRange(0, event.steps_per_epoch * event.config.epochs)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"epoch 1/{event.config.epochs} · starting")
        self.status_label.setText(
            f"{run.name}: {event.config.arch} ({event.n_params:,} parameters) on {event.device} — "
            f"{event.n_train:,} training / {event.n_test:,} test images"
        )
        self._update_run_row(run)

    @Slot(object)
    def _on_progress(self, event: BatchEvent) -> None:
        run = self._current
        if run is None:
            return
        run.last_progress = event
        self.charts.add_batch(run.id, (event.epoch - 1) + event.step / event.steps_per_epoch, event.loss)
        self.progress_bar.setValue(event.global_step)
        self._show_progress_text(run)
        self.speed_label.setText(speed_text(event))
        self.speed_label.show()
        run.seconds = event.elapsed
        self._set_cell(run, COL_TIME, format_duration(event.elapsed))
        self.progressed.emit(event)

    def _show_progress_text(self, run: Run) -> None:
        event = run.last_progress
        if event is None:
            return
        paused = "paused · " if run.status == "paused" else ""
        self.progress_bar.setFormat(paused + progress_text(event))

    @Slot(object)
    def _on_epoch(self, event: EpochEvent) -> None:
        run = self._current
        if run is None:
            return
        self.charts.add_epoch(
            run.id, event.epoch, event.train_loss, event.test_loss, event.train_accuracy, event.test_accuracy
        )
        self._set_cell(run, COL_ACCURACY, f"{100 * event.test_accuracy:.2f}%")

    @Slot(object)
    def _on_finished(self, outcome: RunOutcome) -> None:
        run = self._current
        if run is None:
            return
        run.outcome = outcome
        run.seconds = outcome.result.seconds
        run.status = "stopped" if outcome.result.cancelled else "done"
        self._end_run()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.progress_bar.setFormat(f"{run.status} · test accuracy {100 * outcome.accuracy:.2f}%")
        self.status_label.setText(self._finished_text(run))
        self._update_run_row(run)
        self.select_run(run.id)
        self.runFinished.emit(run)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        run = self._current
        if run is None:
            return
        run.status = "failed"
        run.error = message
        self._end_run()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("failed")
        self.status_label.setText(f"{run.name} failed.")
        self._update_run_row(run)
        self.show_error(f"{run.name} failed: {message}")
        self.runFailed.emit(message)

    def _end_run(self) -> None:
        self.speed_label.hide()
        self._current = None
        self._control = None
        self.charts.flush()
        self._update_buttons()

    def _finished_text(self, run: Run) -> str:
        result = run.outcome.result
        epochs = result.metrics.get("epochs_completed", len(result.history))
        how = "stopped early — kept the model trained so far" if result.cancelled else "finished"
        return (
            f"{run.name} {how}: test accuracy {100 * run.outcome.accuracy:.2f}% after {epochs} full epoch(s), "
            f"{result.metrics.get('steps', 0)} steps in {format_duration(result.seconds)} on {result.metrics.get('device', result.device)}."
        )

    def _launch(self, worker) -> QThread:
        thread = start_job(worker)
        self._jobs.append((thread, worker))
        thread.finished.connect(self._reap_threads)
        return thread

    @Slot()
    def _reap_threads(self) -> None:
        """Drop finished threads and their workers (waiting is immediate: they have ended)."""
        alive = []
        for thread, worker in self._jobs:
            if thread.isFinished():
                thread.wait()
            else:
                alive.append((thread, worker))
        self._jobs = alive

    @Slot()
    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> None:
        """Cancel a running run and wait for the background threads (call before the app exits)."""
        if self._control is not None:
            self._control.cancel()
        for thread, _worker in list(self._jobs):
            thread.quit()
            thread.wait(timeout_ms)
        self._reap_threads()

    # ================================================================ runs list

    def _add_run_row(self, run: Run) -> None:
        row = self.runs_table.rowCount()
        with QSignalBlocker(self.runs_table):
            self.runs_table.insertRow(row)
            show = QTableWidgetItem()
            show.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            show.setCheckState(Qt.Checked)
            show.setData(Qt.UserRole, run.id)
            self.runs_table.setItem(row, COL_SHOW, show)
            for col in range(1, len(RUN_COLUMNS)):
                self.runs_table.setItem(row, col, QTableWidgetItem())
        self._update_run_row(run)
        self.charts.set_shown_runs(self.checked_runs())

    def _row_of(self, run_id: int) -> int:
        for row in range(self.runs_table.rowCount()):
            if self.runs_table.item(row, COL_SHOW).data(Qt.UserRole) == run_id:
                return row
        return -1

    def _set_cell(self, run: Run, col: int, text: str, tooltip: str | None = None) -> None:
        row = self._row_of(run.id)
        if row < 0:
            return
        with QSignalBlocker(self.runs_table):
            item = self.runs_table.item(row, col)
            item.setText(text)
            if tooltip is not None:
                item.setToolTip(tooltip)

    def _update_run_row(self, run: Run) -> None:
        self._set_cell(run, COL_NAME, run.name)
        self._set_cell(run, COL_SETTINGS, settings_text(run.config), tooltip="\n".join(
            f"{k}: {v}" for k, v in run.config.to_dict().items() if k not in ("model_args",)
        ))
        if run.outcome is not None:
            self._set_cell(run, COL_ACCURACY, f"{100 * run.outcome.accuracy:.2f}%")
            self._set_cell(run, COL_TIME, format_duration(run.seconds))
        self._set_cell(run, COL_STATUS, run.status, tooltip=run.error or "")

    def checked_runs(self) -> list[int]:
        """Ids of the runs whose curves are shown."""
        ids = []
        for row in range(self.runs_table.rowCount()):
            item = self.runs_table.item(row, COL_SHOW)
            if item.checkState() == Qt.Checked:
                ids.append(item.data(Qt.UserRole))
        return ids

    def set_run_checked(self, run_id: int, checked: bool) -> None:
        row = self._row_of(run_id)
        if row >= 0:
            self.runs_table.item(row, COL_SHOW).setCheckState(Qt.Checked if checked else Qt.Unchecked)

    @Slot(QTableWidgetItem)
    def _on_run_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == COL_SHOW:
            self.charts.set_shown_runs(self.checked_runs())

    def select_run(self, run_id: int) -> None:
        row = self._row_of(run_id)
        if row >= 0:
            self.runs_table.selectRow(row)

    def selected_run(self) -> Run | None:
        rows = {index.row() for index in self.runs_table.selectionModel().selectedRows()}
        if not rows:
            return None
        run_id = self.runs_table.item(min(rows), COL_SHOW).data(Qt.UserRole)
        return next((r for r in self.runs if r.id == run_id), None)

    @Slot()
    def _on_run_selected(self) -> None:
        run = self.selected_run()
        self._update_buttons()
        if run is None or run.outcome is None:
            what = "is still running" if run is not None and run.status not in ("failed",) else "failed"
            self.results.clear_evaluation("No run selected." if run is None else f"{run.name} {what}.")
            self.accuracy_label.setText("No finished run selected.")
            return
        outcome = run.outcome
        gallery = outcome.gallery
        self.accuracy_label.setText(f"{run.name}: test accuracy {100 * outcome.accuracy:.2f}%")
        n_test = int(outcome.confusion.sum())
        summary = (
            f"{run.name} ({settings_text(run.config)}): {100 * outcome.accuracy:.2f}% of {n_test:,} test images "
            f"right, {gallery.total_wrong:,} wrong; test loss {outcome.loss:.4f}."
        )
        self.results.set_evaluation(
            summary, outcome.confusion, gallery.images, gallery.true_labels, gallery.predicted, gallery.indices, gallery.total_wrong
        )

    # ================================================================ results actions

    def _update_buttons(self) -> None:
        running = self.is_running
        paused = running and self._control is not None and self._control.paused
        stopping = self._current is not None and self._current.status == "stopping"
        self.form.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running and not stopping)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.stop_button.setEnabled(running and not stopping)
        selected = self.selected_run()
        has_model = selected is not None and selected.outcome is not None
        for button in (self.use_button, self.save_button, self.export_button):
            button.setEnabled(has_model)

    def _selected_outcome(self) -> tuple[Run, RunOutcome] | None:
        run = self.selected_run()
        if run is None or run.outcome is None:
            self.show_error("Select a finished run first.")
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
            self.show_error(f"cannot use {run.name}: {exc}")
            return
        self.show_info(f"The Draw tab now recognizes with {run.name} ({100 * outcome.accuracy:.2f}% test accuracy).")
        self.useModelRequested.emit(recognizer)

    def _suggested_name(self, run: Run, suffix: str) -> str:
        return str(Path(self.log_dir_edit.text().strip() or Path.home()) / f"{_slug(run.name)}-{run.config.arch}{suffix}")

    @Slot()
    def _save_dialog(self) -> None:
        chosen = self._selected_outcome()
        if chosen is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint", self._suggested_name(chosen[0], ".pt"), "Checkpoints (*.pt)")
        if path:
            self.save_to(path)

    def save_to(self, path) -> Path | None:
        """Write the selected run's checkpoint to `path` atomically; returns the path or None on error."""
        chosen = self._selected_outcome()
        if chosen is None:
            return None
        run, outcome = chosen
        from trainer.checkpoint import save_checkpoint

        try:
            saved = Path(save_checkpoint(outcome.checkpoint, path))
        except Exception as exc:  # disk full, read-only directory, ...
            self.show_error(f"could not save {run.name} to {path}: {exc}")
            return None
        self.show_info(f"Saved {run.name} to {saved}")
        return saved

    @Slot()
    def _export_dialog(self) -> None:
        chosen = self._selected_outcome()
        if chosen is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export ONNX", self._suggested_name(chosen[0], ".onnx"), "ONNX models (*.onnx)")
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
        self.export_button.setEnabled(False)
        self.show_info(f"Exporting {run.name} to {target}…")
        self._launch(worker)

    @Slot(object)
    def _on_exported(self, value) -> None:
        result, _seconds = value
        check = "verified with onnxruntime" if result.verified else "not verified (onnxruntime missing)"
        self.show_info(f"Exported ONNX to {result.path} ({check}).")
        self._update_buttons()
        self.exported.emit(result.path)

    @Slot(str)
    def _on_export_failed(self, message: str) -> None:
        self._update_buttons()
        self.show_error(f"ONNX export failed: {message}")

    # ================================================================ data viewer

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._samples_requested_for is None:
            self.load_samples()  # the data viewer fills in the first time the tab is shown
        self.warm_up()

    def warm_up(self) -> None:
        """Once per tab: pay torch's first-optimizer import cost in the background, before any run."""
        if self._warm_up_started:
            return
        self._warm_up_started = True
        worker = TaskWorker(warm_up)
        worker.finished.connect(self._on_warmed_up)
        worker.failed.connect(self._on_warm_up_failed)
        self._launch(worker)

    @Slot(object)
    def _on_warmed_up(self, seconds: float) -> None:
        self.warmedUp.emit(float(seconds))

    @Slot(str)
    def _on_warm_up_failed(self, message: str) -> None:
        self.warmedUp.emit(float("nan"))  # a run will meet (and report) the same problem itself

    def load_samples(self) -> None:
        """Read a few training images for the data viewer in the background."""
        data_dir = self.data_dir()
        if self._samples_requested_for == (data_dir or ""):
            return
        self._samples_requested_for = data_dir or ""
        worker = TaskWorker(lambda: load_samples(data_dir))
        worker.finished.connect(self._on_samples)
        worker.failed.connect(self._on_samples_failed)
        self._launch(worker)

    @Slot(object)
    def _on_samples(self, samples: Samples) -> None:
        self.results.set_samples(samples.images, samples.labels, samples.source)
        self.samplesLoaded.emit(len(samples.labels))

    @Slot(str)
    def _on_samples_failed(self, message: str) -> None:
        self.results.show_samples_error(message)
        self.samplesLoaded.emit(0)

    # ================================================================ messages

    def show_error(self, message: str) -> None:
        """A clear, visible error in the panel (the app keeps running)."""
        self.message_label.setStyleSheet(ERROR_STYLE)
        self.message_label.setText(f"⚠ {message}")
        self.message_label.show()
        self.errorShown.emit(message)

    def show_info(self, message: str) -> None:
        self.message_label.setStyleSheet(INFO_STYLE)
        self.message_label.setText(message)
        self.message_label.show()

    def clear_message(self) -> None:
        self.message_label.clear()
        self.message_label.hide()

    def message(self) -> str:
        """The text of the message banner ("" when hidden)."""
        return self.message_label.text() if not self.message_label.isHidden() else ""

"""The Train tab's settings form: every TrainConfig knob the window offers, read with `config()`, set with `set_config()`.

Each field's widget is looked up by the TrainConfig field it edits (`editors`), so reading,
setting and remembering the form are loops over fields, not one line per widget. The "More
options" fold is built from `MORE_FIELDS`, a table of field specs.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QDoubleValidator, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from digitpad.train.session import config_from_stored, remembered_values
from trainer.train import ConfigError, TrainConfig

OPTIMIZERS = (("Adam", "adam"), ("AdamW", "adamw"), ("SGD", "sgd"), ("SGD + momentum", "momentum"))
DEVICES = (("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda"))
DATASETS = (("MNIST", False), ("MNIST + pen digits", True))
SCHEDULES = (("Constant", "none"), ("One-cycle", "onecycle"), ("Cosine", "cosine"))
MAX_SUBSET = 60_000  # the MNIST training set
SUBSET_STEP = 1_000
MAX_TEST_SUBSET = 10_000
# the bounds of the form's integer fields (TrainConfig.validate has the lower ones too)
LIMITS = {"batch_size": (1, 8192), "epochs": (1, 200), "seed": (0, 2**31 - 1), "pen_copies": (1, 20),
          "subset": (0, MAX_SUBSET), "test_subset": (0, MAX_TEST_SUBSET)}
SETTINGS_DATA_DIR = "train/data_dir"
SETTINGS_LOG_DIR = "train/log_dir"
SETTINGS_CONFIG = "train/config"  # the form's other fields, as JSON
SETTINGS_MORE_OPTIONS = "train/more_options"  # whether "More options" is unfolded
COMBO_MIN_CHARS = 10


@dataclass(frozen=True)
class FieldSpec:
    """How the form edits one TrainConfig field: a number typed freely, a bounded spin box, or a choice."""

    name: str
    label: str
    help: str = ""
    high: float | None = None  # spin boxes: the upper bound (the lower one is 0)
    decimals: int = 2
    step: float = 0.05
    zero_text: str = ""  # shown for 0, e.g. "off"
    choices: tuple[tuple[str, object], ...] = ()  # (label, value)
    example: str = ""  # number fields: an example for the error message


# Regularization, schedule, weight averaging, pen-digit weight: folded away until asked for.
MORE_FIELDS = (
    FieldSpec("weight_decay", "Weight decay", "Weight decay, e.g. 0.01 with AdamW or 5e-4 with SGD; 0 = none",
              example="0.01"),
    FieldSpec("schedule", "LR schedule", "How the learning rate changes over the run, batch by batch",
              choices=SCHEDULES),
    FieldSpec("label_smoothing", "Label smoothing", high=0.5, zero_text="off"),
    FieldSpec("ema", "Weight average", "Evaluate and save a moving average of the weights with this decay, e.g. 0.999",
              high=0.9999, decimals=4, step=0.001, zero_text="off"),
    FieldSpec("pen_copies", "Pen copies", "With MNIST + pen digits: renders of each pen digit at random sizes and "
              "places; more weigh drawn digits more against MNIST"),
)


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


def _number_edit(value: float, tooltip: str) -> QLineEdit:
    """A field for a non-negative number typed as 0.01 or 5e-4 (a spin box cannot show both)."""
    edit = QLineEdit(f"{value:g}")
    validator = QDoubleValidator(0.0, 1e12, 12, edit)
    validator.setNotation(QDoubleValidator.ScientificNotation)
    edit.setValidator(validator)
    edit.setToolTip(tooltip)
    return edit


def _fraction_spin(spec: FieldSpec, value: float) -> QDoubleSpinBox:
    """A spin box for a value in [0, spec.high]; `spec.zero_text` (e.g. "off") is shown for 0."""
    spin = QDoubleSpinBox()
    spin.setRange(0.0, spec.high)
    spin.setDecimals(spec.decimals)
    spin.setSingleStep(spec.step)
    spin.setValue(value)
    spin.setSpecialValueText(spec.zero_text)
    spin.setToolTip(spec.help)
    return spin


def _int_spin(name: str, value: int, tooltip: str = "", *, step: int = 1, zero_text: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(*LIMITS[name])
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setSpecialValueText(zero_text)
    spin.setToolTip(tooltip)
    return spin


def _combo(choices, current, tooltip: str = "") -> QComboBox:
    combo = QComboBox()
    for label, value in choices:
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.setToolTip(tooltip)
    return combo


def _editor_for(spec: FieldSpec, default) -> QWidget:
    """The widget a spec asks for, by the field's type."""
    if spec.choices:
        return _combo(spec.choices, default, spec.help)
    if isinstance(default, bool):
        check = QCheckBox(spec.help)
        check.setChecked(default)
        return check
    if isinstance(default, int):
        return _int_spin(spec.name, default, spec.help)
    if spec.high is not None:
        return _fraction_spin(spec, default)
    return _number_edit(default, spec.help)


def _read_number(edit: QLineEdit, what: str, example: str) -> float:
    text = edit.text().strip().replace(",", ".")  # a decimal comma is what some locales type
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"the {what} {text!r} is not a number (e.g. {example})") from None


def _disable_item(combo: QComboBox, index: int, reason: str | None) -> None:
    """Grey out a choice the machine cannot do, saying why in its tooltip."""
    if reason is None or index < 0:
        return
    model = combo.model()
    if isinstance(model, QStandardItemModel):
        model.item(index).setEnabled(False)
    combo.setItemData(index, reason, Qt.ToolTipRole)


def _cuda_unavailable_reason() -> str | None:
    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build of PyTorch"
    return f"No CUDA GPU is visible to PyTorch here ({build})."


def _auto_device_name() -> str:
    from trainer.train import resolve_device

    return resolve_device("auto").type.upper()


def _pen_digits_unavailable_reason() -> str | None:
    from trainer.pendigits import default_pendigits_path

    if default_pendigits_path() is None:
        return "The UNIPEN pen-digits file was not found: set $DIGITPAD_PENDIGITS."
    return None


def tensorboard_unavailable_reason() -> str | None:
    if importlib.util.find_spec("tensorboard") is None:
        return 'Needs the tensorboard package: pip install tensorboard (or pip install -e ".[tensorboard]" in a checkout)'
    return None


def _default_data_dir() -> str:
    from trainer.data import default_data_dir

    return str(default_data_dir())


class TrainForm(QWidget):
    """The settings of the next run, grouped; remembered in `settings` between sessions."""

    # the MNIST directory changed (typed, chosen or set)
    dataDirChanged = Signal(str)
    # "More options" was unfolded (True) or folded
    moreOptionsToggled = Signal(bool)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.editors: dict[str, QWidget] = {}  # TrainConfig field -> its widget
        defaults = TrainConfig()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_model_group(defaults))
        layout.addWidget(self._build_optimizer_group(defaults))
        layout.addWidget(self._build_data_group(defaults))
        layout.addWidget(self._build_more_options(defaults))
        layout.addWidget(self._build_output_group())
        layout.addStretch(1)
        self._compact_combos()
        self._wire()
        self.set_config(config_from_stored(self._stored_values(), defaults))
        self._on_arch_changed()
        self._on_optimizer_changed()
        self._on_dataset_changed()

    # ------------------------------------------------------------ layout

    def _build_model_group(self, defaults: TrainConfig) -> QGroupBox:
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
        self.editors["arch"] = self.arch_combo
        return box

    def _build_optimizer_group(self, defaults: TrainConfig) -> QGroupBox:
        box = QGroupBox("Optimization")
        form = QFormLayout(box)
        self.optimizer_combo = _combo(OPTIMIZERS, defaults.optimizer)
        self.lr_edit = _number_edit(defaults.lr, "Learning rate, e.g. 5e-4 for Adam or 0.01 for SGD")
        self.momentum_spin = _fraction_spin(FieldSpec("momentum", "Momentum", "Used by SGD + momentum only",
                                                      high=0.999, decimals=3), defaults.momentum)
        self.batch_spin = _int_spin("batch_size", defaults.batch_size)
        self.epochs_spin = _int_spin("epochs", defaults.epochs)
        self.seed_spin = _int_spin("seed", defaults.seed)
        self.augment_check = QCheckBox("random affine distortions")
        self.augment_check.setChecked(defaults.augment)
        rows = (("Optimizer", "optimizer", self.optimizer_combo), ("Learning rate", "lr", self.lr_edit),
                ("Momentum", "momentum", self.momentum_spin), ("Batch size", "batch_size", self.batch_spin),
                ("Epochs", "epochs", self.epochs_spin), ("Seed", "seed", self.seed_spin),
                ("Augment", "augment", self.augment_check))
        for label, name, widget in rows:
            form.addRow(label, widget)
            self.editors[name] = widget
        return box

    def _build_data_group(self, defaults: TrainConfig) -> QGroupBox:
        box = QGroupBox("Data and device")
        form = QFormLayout(box)
        self.dataset_combo = _combo(DATASETS, defaults.pen_digits)
        _disable_item(self.dataset_combo, 1, _pen_digits_unavailable_reason())
        self.subset_spin = _int_spin("subset", 0, "Train on a class-balanced subset of this many images (for quick "
                                     "runs); 0 = all 60,000", step=SUBSET_STEP, zero_text="all")
        self.test_subset_spin = _int_spin("test_subset", 0, "Evaluate on this many test images; 0 = all 10,000",
                                          step=SUBSET_STEP, zero_text="all")
        self.data_dir_edit = QLineEdit(str(self.settings.value(SETTINGS_DATA_DIR, "") or _default_data_dir()))
        self.data_dir_edit.setToolTip("Directory with the four MNIST IDX files (downloaded there when missing)")
        self.browse_button = QToolButton()
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose the MNIST directory")
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir_edit, 1)
        data_row.addWidget(self.browse_button)
        self.device_combo = _combo(DEVICES, defaults.device)
        self.device_combo.setItemText(0, f"Auto ({_auto_device_name()})")
        _disable_item(self.device_combo, self.device_combo.findData("cuda"), _cuda_unavailable_reason())
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Train subset", self.subset_spin)
        form.addRow("Test subset", self.test_subset_spin)
        form.addRow("Data dir", data_row)
        form.addRow("Device", self.device_combo)
        self.editors.update(pen_digits=self.dataset_combo, subset=self.subset_spin,
                            test_subset=self.test_subset_spin, device=self.device_combo)
        return box

    def _build_more_options(self, defaults: TrainConfig) -> QWidget:
        self.more_button = QToolButton()
        self.more_button.setText("More options")
        self.more_button.setCheckable(True)
        self.more_button.setAutoRaise(True)
        self.more_button.setStyleSheet("QToolButton { border: none; padding: 2px 0; }")  # a fold, not a pressed button
        self.more_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.more_panel = QGroupBox()
        form = QFormLayout(self.more_panel)
        for spec in MORE_FIELDS:
            editor = _editor_for(spec, getattr(defaults, spec.name))
            self.editors[spec.name] = editor
            form.addRow(spec.label, editor)
        self.weight_decay_edit = self.editors["weight_decay"]
        self.schedule_combo = self.editors["schedule"]
        self.label_smoothing_spin = self.editors["label_smoothing"]
        self.ema_spin = self.editors["ema"]
        self.pen_copies_spin = self.editors["pen_copies"]
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
        reason = tensorboard_unavailable_reason()
        if reason:
            self.tensorboard_check.setEnabled(False)
            self.tensorboard_check.setToolTip(reason)
        form.addRow("Log dir", self.log_dir_edit)
        form.addRow(self.tensorboard_check)
        return box

    def _compact_combos(self) -> None:
        """Combos as wide as the column, not as their longest item (which would clip the form)."""
        for combo in self.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(COMBO_MIN_CHARS)

    def _wire(self) -> None:
        self.arch_combo.currentIndexChanged.connect(self._on_arch_changed)
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer_changed)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self.browse_button.clicked.connect(self._browse_data_dir)
        self.data_dir_edit.editingFinished.connect(self._on_data_dir_edited)
        self.more_button.toggled.connect(self._on_more_options_toggled)

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
        self.moreOptionsToggled.emit(shown)

    def more_fields_end(self) -> QWidget:
        """The last row's widget of "More options"."""
        return self.editors[MORE_FIELDS[-1].name]

    def _show_more_options(self, shown: bool) -> None:
        self.more_button.setChecked(shown)
        self.more_button.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)
        self.more_panel.setVisible(shown)

    # ------------------------------------------------------------ data directory

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
        self.dataDirChanged.emit(self.data_dir() or "")

    def log_dir(self) -> str:
        return self.log_dir_edit.text().strip()

    # ------------------------------------------------------------ reading and setting

    def config(self) -> TrainConfig:
        """The TrainConfig the form describes (validated; ConfigError names a bad field)."""
        values = {name: self._read(name, widget) for name, widget in self.editors.items()}
        values["subset"] = values["subset"] or None
        values["test_subset"] = values["test_subset"] or None
        if not values["pen_digits"]:
            values["pen_copies"] = TrainConfig.pen_copies
        config = TrainConfig(**values, data_dir=self.data_dir())
        config.validate()
        return config

    def set_config(self, config: TrainConfig) -> None:
        """Show `config` in the form (data_dir included when set; spin boxes clamp to their range)."""
        for name, widget in self.editors.items():
            value = getattr(config, name)
            if name in ("subset", "test_subset"):
                value = value or 0
            _write(widget, value)
        if config.data_dir is not None:
            self.set_data_dir(config.data_dir)

    def remember(self) -> None:
        """Store the form's settings for the next session (fields that do not parse are not stored)."""
        self.settings.setValue(SETTINGS_LOG_DIR, self.log_dir())
        try:
            values = remembered_values(self.config())
        except ValueError:
            return
        self.settings.setValue(SETTINGS_CONFIG, json.dumps(values))

    def _stored_values(self) -> dict | None:
        text = self.settings.value(SETTINGS_CONFIG, "")
        try:
            values = json.loads(text) if isinstance(text, str) and text else None
        except json.JSONDecodeError:
            return None  # a hand-edited settings file: the defaults
        return values if isinstance(values, dict) else None

    def _read(self, name: str, widget: QWidget):
        if isinstance(widget, QLineEdit):
            label = next((s.label.lower() for s in MORE_FIELDS if s.name == name), "learning rate")
            example = next((s.example for s in MORE_FIELDS if s.name == name), "5e-4")
            return _read_number(widget, label, example)
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        return widget.value()


def _write(widget: QWidget, value) -> None:
    if isinstance(widget, QLineEdit):
        widget.setText(f"{value:g}")
    elif isinstance(widget, QComboBox):
        index = widget.findData(value)
        model = widget.model()
        usable = not isinstance(model, QStandardItemModel) or (index >= 0 and model.item(index).isEnabled())
        if index >= 0 and usable:  # never a choice this machine cannot do (a remembered CUDA, say)
            widget.setCurrentIndex(index)
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    else:
        widget.setValue(value)

"""The Train tab's settings form: every TrainConfig knob the window offers, read with `config()`, set with `set_config()`.

The rows are built from TrainConfig's field metadata (trainer.config: label, tooltip, range,
choices, group): a field added there appears in its group's box, "More options" included, with
no edit here. Each widget is found by the field it edits (`editors`), so reading, setting and
remembering the form are loops over fields. Only the model, dataset and device choices have
widgets of their own (parameter counts, a pen-digits file that may be missing, CUDA that may be).
"""

from __future__ import annotations

import contextlib
import dataclasses
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

from digitpad import settings as prefs
from digitpad.train.session import config_from_stored, remembered_values
from trainer.config import Group, Param, TrainConfig, is_optional, params, value_type
from trainer.errors import ConfigError

DATASETS = (("MNIST", False), ("MNIST + pen digits", True))
DEVICES = (("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda"))
INT_MAX = 2**31 - 1  # a QSpinBox holds a C int
COMBO_MIN_CHARS = 10
GROUP_TITLES = {Group.MODEL: "Model", Group.OPTIMIZER: "Optimization", Group.DATA: "Data and device"}
ROW_LABELS = {"pen_digits": "Dataset"}  # where the form's row says more than the field's label
# the names scripts and tests have used for the form's widgets
WIDGET_NAMES = {"arch_combo": "arch", "optimizer_combo": "optimizer", "lr_edit": "lr", "momentum_spin": "momentum",
                "batch_spin": "batch_size", "epochs_spin": "epochs", "seed_spin": "seed", "augment_check": "augment",
                "dataset_combo": "pen_digits", "subset_spin": "subset", "test_subset_spin": "test_subset",
                "device_combo": "device", "weight_decay_edit": "weight_decay", "schedule_combo": "schedule",
                "label_smoothing_spin": "label_smoothing", "ema_spin": "ema", "pen_copies_spin": "pen_copies"}


def form_params(group: Group) -> list[tuple[str, Param, dataclasses.Field]]:
    """The fields of `group` the form shows, in TrainConfig's order."""
    return [(name, meta, f) for name, meta, f in params() if meta.group is group and meta.form and name != "data_dir"]


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


def _decimals(*values: float | None) -> int:
    """Enough decimals to show each of `values` exactly (0.05 -> 2, 0.9999 -> 4)."""
    return max((len(f"{v:g}".partition(".")[2]) for v in values if v is not None), default=2)


def _float_spin(meta: Param, value: float) -> QDoubleSpinBox:
    """A spin box over the field's range; `none_text` (e.g. "off") is shown for 0."""
    spin = QDoubleSpinBox()
    high = meta.form_high if meta.form_high is not None else meta.high
    spin.setRange(meta.low or 0.0, high)
    spin.setDecimals(max(2, _decimals(meta.step, high)))
    spin.setSingleStep(meta.step or 0.05)
    spin.setValue(value)
    spin.setSpecialValueText(meta.none_text)
    spin.setToolTip(meta.tooltip)
    return spin


def _int_spin(meta: Param, value: int | None, optional: bool) -> QSpinBox:
    """A spin box over the field's range; an optional field's None is 0, shown as `none_text` ("all")."""
    spin = QSpinBox()
    high = meta.form_high if meta.form_high is not None else meta.high
    spin.setRange(0 if optional else int(meta.low or 0), int(min(high if high is not None else INT_MAX, INT_MAX)))
    spin.setSingleStep(int(meta.step or 1))
    spin.setValue(value or 0)
    if optional:
        spin.setSpecialValueText(meta.none_text)
    spin.setToolTip(meta.tooltip + (f"; {meta.none_text} = 0" if optional and meta.none_text else ""))
    return spin


def _combo(choices, current, tooltip: str = "") -> QComboBox:
    combo = QComboBox()
    for label, value in choices:
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.setToolTip(tooltip)
    return combo


def editor_for(meta: Param, f: dataclasses.Field, default) -> QWidget:
    """The widget for a field, chosen by its type and metadata: a choice, a check box, a spin box or a number."""
    kind = value_type(f)
    choices = meta.choice_values()
    if choices is not None:
        return _combo([(meta.choice_label(c), c) for c in choices], default, meta.tooltip)
    if kind is bool:
        check = QCheckBox(meta.tooltip)
        check.setChecked(default)
        return check
    if kind is int:
        return _int_spin(meta, default, is_optional(f))
    if meta.form_high is not None or meta.high is not None:
        return _float_spin(meta, default)
    return _number_edit(default, meta.tooltip)


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
    """The settings of the next run, one row per TrainConfig field of the form's groups; remembered between sessions."""

    # the MNIST directory changed (typed, chosen or set)
    dataDirChanged = Signal(str)
    # "More options" was unfolded (True) or folded
    moreOptionsToggled = Signal(bool)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.editors: dict[str, QWidget] = {}  # TrainConfig field -> its widget
        self._nouns: dict[str, str] = {}  # number fields: how an error names them
        defaults = TrainConfig()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for group in (Group.MODEL, Group.OPTIMIZER, Group.DATA):
            box = QGroupBox(GROUP_TITLES[group])
            self._add_rows(_form_layout(box), group, defaults)
            layout.addWidget(box)
        layout.addWidget(self._build_more_options(defaults))
        layout.addWidget(self._build_output_group())
        layout.addStretch(1)
        self._compact_combos()
        self._wire()
        self.set_config(config_from_stored(self._stored_values(), defaults))
        self._on_arch_changed()
        self._on_optimizer_changed()
        self._on_dataset_changed()

    def __getattr__(self, name: str):
        # lr_edit, batch_spin, ...: the editor of a field under its widget name
        field_name = WIDGET_NAMES.get(name)
        editors = self.__dict__.get("editors")
        if field_name is None or editors is None or field_name not in editors:
            raise AttributeError(name)
        return editors[field_name]

    # ------------------------------------------------------------ layout

    def _add_rows(self, form: QFormLayout, group: Group, defaults: TrainConfig) -> None:
        for name, meta, f in form_params(group):
            editor = self._special_editor(name, defaults) or editor_for(meta, f, getattr(defaults, name))
            self.editors[name] = editor
            if isinstance(editor, QLineEdit):
                self._nouns[name] = meta.noun
            form.addRow(ROW_LABELS.get(name, meta.label), editor)
            if name == "arch":
                form.addRow(self.arch_description)
            if name == "test_subset":
                form.addRow("Data dir", self._build_data_dir_row())
            if name == "pen_digits":
                form.addRow("", self._build_personal_check())

    def _special_editor(self, name: str, defaults: TrainConfig) -> QWidget | None:
        """The fields whose widget knows more than the field's metadata (models, devices, data sets)."""
        if name == "arch":
            combo = QComboBox()
            for arch in architectures():
                combo.addItem(f"{arch.name}  ({arch.parameters:,} parameters)", arch.name)
                combo.setItemData(combo.count() - 1, arch.description, Qt.ToolTipRole)
            self.arch_description = QLabel()
            self.arch_description.setWordWrap(True)
            self.arch_description.setStyleSheet("color: palette(placeholder-text);")
            return combo
        if name == "pen_digits":
            combo = _combo(DATASETS, defaults.pen_digits)
            _disable_item(combo, 1, _pen_digits_unavailable_reason())
            return combo
        if name == "device":
            combo = _combo(DEVICES, defaults.device)
            combo.setItemText(0, f"Auto ({_auto_device_name()})")
            _disable_item(combo, combo.findData("cuda"), _cuda_unavailable_reason())
            return combo
        return None

    def _build_personal_check(self) -> QCheckBox:
        # shown once the window has personal digits (set_personal_count): they train with the run
        self.personal_check = QCheckBox("+ my digits")
        self.personal_check.setToolTip("Train with your own digits too (Personal → My Digits), rendered like pen digits")
        self.personal_check.setVisible(False)
        return self.personal_check

    def set_personal_count(self, count: int) -> None:
        """How many personal digits the window holds: the "+ my digits" choice appears when there are some."""
        self.personal_check.setText(f"+ my digits ({count})")
        self.personal_check.setVisible(count > 0)
        if count == 0:
            self.personal_check.setChecked(False)

    def wants_personal(self) -> bool:
        return not self.personal_check.isHidden() and self.personal_check.isChecked()

    def _build_data_dir_row(self) -> QHBoxLayout:
        self.data_dir_edit = QLineEdit(prefs.read(self.settings, prefs.TRAIN_DATA_DIR) or _default_data_dir())
        self.data_dir_edit.setToolTip("Directory with the four MNIST IDX files (downloaded there when missing)")
        self.browse_button = QToolButton()
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose the MNIST directory")
        row = QHBoxLayout()
        row.addWidget(self.data_dir_edit, 1)
        row.addWidget(self.browse_button)
        return row

    def _build_more_options(self, defaults: TrainConfig) -> QWidget:
        self.more_button = QToolButton()
        self.more_button.setText("More options")
        self.more_button.setCheckable(True)
        self.more_button.setAutoRaise(True)
        self.more_button.setStyleSheet("QToolButton { border: none; padding: 2px 0; }")  # a fold, not a pressed button
        self.more_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.more_panel = QGroupBox()
        self._add_rows(_form_layout(self.more_panel), Group.MORE, defaults)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.more_button)
        layout.addWidget(self.more_panel)
        self._show_more_options(prefs.read(self.settings, prefs.TRAIN_MORE_OPTIONS))
        return box

    def _build_output_group(self) -> QGroupBox:
        box = QGroupBox("Logs")
        form = _form_layout(box)
        self.log_dir_edit = QLineEdit(prefs.read(self.settings, prefs.TRAIN_LOG_DIR))
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
        self.editors["arch"].currentIndexChanged.connect(self._on_arch_changed)
        self.editors["optimizer"].currentIndexChanged.connect(self._on_optimizer_changed)
        self.editors["pen_digits"].currentIndexChanged.connect(self._on_dataset_changed)
        self.browse_button.clicked.connect(self._browse_data_dir)
        self.data_dir_edit.editingFinished.connect(self._on_data_dir_edited)
        self.more_button.toggled.connect(self._on_more_options_toggled)

    @Slot()
    def _on_arch_changed(self) -> None:
        arch = next((a for a in architectures() if a.name == self.editors["arch"].currentData()), None)
        self.arch_description.setText(arch.description if arch else "")

    @Slot()
    def _on_optimizer_changed(self) -> None:
        self.editors["momentum"].setEnabled(self.editors["optimizer"].currentData() == "momentum")

    @Slot()
    def _on_dataset_changed(self) -> None:
        self.editors["pen_copies"].setEnabled(bool(self.editors["pen_digits"].currentData()))

    @Slot(bool)
    def _on_more_options_toggled(self, shown: bool) -> None:
        self._show_more_options(shown)
        prefs.write(self.settings, prefs.TRAIN_MORE_OPTIONS, shown)
        self.moreOptionsToggled.emit(shown)

    def more_fields_end(self) -> QWidget:
        """The last row's widget of "More options"."""
        return self.editors[form_params(Group.MORE)[-1][0]]

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
        _remember(self.settings, prefs.TRAIN_DATA_DIR, self.data_dir_edit.text().strip())
        self.dataDirChanged.emit(self.data_dir() or "")

    def log_dir(self) -> str:
        return self.log_dir_edit.text().strip()

    # ------------------------------------------------------------ reading and setting

    def config(self) -> TrainConfig:
        """The TrainConfig the form describes (validated; ConfigError names a bad field)."""
        values = {name: self._read(name, widget) for name, widget in self.editors.items()}
        for name, _meta, f in params():
            if name in values and is_optional(f) and values[name] == 0:
                values[name] = None  # "all"
        if not values["pen_digits"]:
            values["pen_copies"] = TrainConfig.pen_copies
        config = TrainConfig(**values, data_dir=self.data_dir())
        config.validate()
        return config

    def set_config(self, config: TrainConfig) -> None:
        """Show `config` in the form (data_dir included when set; spin boxes clamp to their range)."""
        for name, widget in self.editors.items():
            _write(widget, getattr(config, name))
        if config.data_dir is not None:
            self.set_data_dir(config.data_dir)

    def remember(self) -> None:
        """Store the form's settings for the next session (nothing when a field does not parse)."""
        _remember(self.settings, prefs.TRAIN_LOG_DIR, self.log_dir())
        try:
            values = remembered_values(self.config())
        except ValueError:
            return
        prefs.write(self.settings, prefs.TRAIN_CONFIG, json.dumps(values))

    def _stored_values(self) -> dict | None:
        text = prefs.read(self.settings, prefs.TRAIN_CONFIG)
        try:
            values = json.loads(text) if isinstance(text, str) and text else None
        except json.JSONDecodeError:
            return None  # a hand-edited settings file: the defaults
        return values if isinstance(values, dict) else None

    def _read(self, name: str, widget: QWidget):
        if isinstance(widget, QLineEdit):
            default = getattr(TrainConfig, name)
            return _read_number(widget, self._nouns[name], f"{default:g}" if default else "0.01")
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        return widget.value()


def _remember(settings: QSettings, key: prefs.Key, value: str) -> None:
    with contextlib.suppress(ValueError):  # a path too long to be one is simply not remembered
        prefs.write(settings, key, value)


def _form_layout(box: QWidget) -> QFormLayout:
    """Label beside field, or above it when the column is too narrow for both."""
    form = QFormLayout(box)
    form.setRowWrapPolicy(QFormLayout.WrapLongRows)
    return form


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
        widget.setValue(value or 0)

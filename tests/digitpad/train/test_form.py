"""The Train form: every field set and read as a TrainConfig, remembered between sessions, built from the fields' metadata."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from digitpad.settings import TRAIN_CONFIG
from digitpad.train.form import TrainForm, form_params
from trainer.config import Group, TrainConfig, params


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


def make_form(qtbot, settings) -> TrainForm:
    form = TrainForm(settings)
    qtbot.addWidget(form)
    return form


def test_a_config_set_in_the_form_reads_back_the_same(qtbot, settings, tmp_path):
    form = make_form(qtbot, settings)
    config = TrainConfig(arch="fnn", optimizer="momentum", lr=0.02, momentum=0.5, weight_decay=5e-4, batch_size=256,
                         epochs=7, seed=3, label_smoothing=0.1, ema=0.999, schedule="cosine", augment=True,
                         device="cpu", data_dir=str(tmp_path), subset=3000, test_subset=400)
    form.set_config(config)
    assert form.config() == config


def test_every_field_is_remembered_for_the_next_session_and_a_bad_stored_one_is_ignored(qtbot, settings):
    first = make_form(qtbot, settings)
    first.set_config(TrainConfig(arch="fnn", optimizer="sgd", lr=0.05, batch_size=32, epochs=4, subset=5000,
                                 device="cpu"))
    first.remember()
    second = make_form(qtbot, settings)
    config = second.config()
    assert (config.arch, config.optimizer, config.lr, config.batch_size, config.epochs, config.subset) == (
        "fnn", "sgd", 0.05, 32, 4, 5000)

    settings.setValue(TRAIN_CONFIG.name, '{"epochs": 0, "batch_size": "big", "arch": "fnn"}')
    third = make_form(qtbot, settings)
    assert (third.config().epochs, third.config().batch_size, third.config().arch) == (1, 128, "fnn")
    settings.setValue(TRAIN_CONFIG.name, "{not json")
    assert make_form(qtbot, settings).config().arch == TrainConfig().arch


def test_the_form_offers_each_field_of_trainer_config_with_its_range(qtbot, settings):
    form = make_form(qtbot, settings)
    shown = {name for name, meta, _f in params() if meta.form and name != "data_dir"}
    assert set(form.editors) == shown  # a new field in trainer/config.py appears without a form edit
    more = [name for name, _meta, _f in form_params(Group.MORE)]
    assert all(form.more_panel.isAncestorOf(form.editors[name]) for name in more)
    assert (form.epochs_spin.minimum(), form.epochs_spin.maximum()) == (1, 200)
    assert (form.subset_spin.minimum(), form.subset_spin.specialValueText()) == (0, "all")
    assert form.ema_spin.maximum() == pytest.approx(0.9999) and form.ema_spin.specialValueText() == "off"

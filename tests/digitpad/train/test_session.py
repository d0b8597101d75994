"""The runs' state without a window: statuses move only through the session, and stored settings are checked."""

from __future__ import annotations

from digitpad.train.session import RunResult, RunStatus, Session, config_from_stored, remembered_values
from trainer.config import TrainConfig


def test_pausing_is_one_status_that_the_trainer_obeys():
    session = Session()
    run = session.start(TrainConfig())
    control = session.control
    assert run.status == "starting" and run.status is RunStatus.STARTING and session.is_running

    session.toggle_pause()  # asked for while the data loads: holds once training starts
    session.started(steps_per_epoch=10)
    assert run.status is RunStatus.PAUSED and control.paused
    session.toggle_pause()
    assert run.status is RunStatus.RUNNING and not control.paused

    session.stop()
    assert run.status is RunStatus.STOPPING and control.cancelled
    assert session.toggle_pause() is None  # a stopping run cannot be paused again
    session.finished(outcome=object(), result=RunResult(accuracy=0.98, seconds=65.0, cancelled=True))
    assert run.status is RunStatus.STOPPED and not session.is_running and session.control is None
    assert run.time_text == "1m05s"


def test_a_finished_run_is_named_for_the_draw_tab_and_a_failed_one_keeps_its_message():
    session = Session()
    first = session.start(TrainConfig(arch="cnn"))
    session.finished(object(), RunResult(accuracy=0.98, seconds=4.2, cancelled=False))
    second = session.start(TrainConfig(arch="fnn"))
    session.failed("the loss became NaN")
    assert (first.status, first.display_name) == (RunStatus.DONE, "run 1 · cnn · 98.0%")
    assert (second.status, second.error, second.display_name) == (RunStatus.FAILED, "the loss became NaN", "run 2 · fnn")
    assert session.get(2) is second and [r.id for r in session.runs] == [1, 2]


def test_stored_form_settings_come_back_and_a_bad_one_falls_back_to_its_default():
    tuned = TrainConfig(arch="fnn", optimizer="sgd", lr=0.05, batch_size=32, epochs=3, subset=5000, augment=True)
    stored = remembered_values(tuned)
    assert config_from_stored(stored) == tuned

    stored.update(epochs=-4, batch_size="lots", optimizer="rmsprop", lr=float("nan"), subset=True, seed=None)
    restored = config_from_stored(stored)
    defaults = TrainConfig()
    assert (restored.epochs, restored.batch_size, restored.optimizer, restored.lr, restored.seed) == (
        defaults.epochs, defaults.batch_size, defaults.optimizer, defaults.lr, defaults.seed)
    assert (restored.arch, restored.augment) == ("fnn", True)  # the good ones stay
    assert restored.subset is None
    assert config_from_stored("not a dict") == defaults

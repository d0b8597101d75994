"""The Train tab as a person uses it: fill in the form, press Start, watch, stop, use and save the model.

Runs are tiny (a 512-image class-balanced subset, 200 test images, one epoch) so each takes seconds.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QRect, QSettings, Qt, QTimer

from digitpad.train.charts import ACC_TEST, ACC_TRAIN, LOSS_TEST, LOSS_TRAIN
from digitpad.train.tab import TrainTab
from trainer.config import Group, params
from trainer.train import TrainConfig

RUN_TIMEOUT_MS = 120_000  # generous: the CPU is shared with other work
STALL_BOUND_S = 1.0  # sanity bound for the GUI event loop during a run (the benchmark has the real figure)
SUBSET, TEST_SUBSET = 512, 200


@pytest.fixture
def tab(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    widget = TrainTab(settings=settings)
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def fill_form(tab: TrainTab, data_dir, *, arch="cnn", optimizer="adam", lr="5e-4", batch=64, epochs=1, subset=SUBSET):
    tab.form.set_config(TrainConfig(
        arch=arch, optimizer=optimizer, lr=float(lr), batch_size=batch, epochs=epochs, subset=subset,
        test_subset=TEST_SUBSET, device="cpu", data_dir=str(data_dir),
    ))


def cell(tab: TrainTab, row: int, col: int) -> str:
    """The text of the runs list at (row, col)."""
    return tab.runs_model.index(row, col).data()


def run_to_end(qtbot, tab: TrainTab):
    with qtbot.waitSignal(tab.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    return finished.args[0]


class StallMeter:
    """Longest gap between ticks of a fast timer: how long the GUI event loop was blocked."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.longest = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start(interval_ms)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now
        self.ticks += 1

    def stop(self) -> None:
        self.timer.stop()


def test_form_offers_every_registered_model_with_classic_defaults(tab):
    from trainer.models import REGISTRY

    names = [tab.form.arch_combo.itemData(i) for i in range(tab.form.arch_combo.count())]
    assert names == list(REGISTRY)
    assert all("parameters" in tab.form.arch_combo.itemText(i) for i in range(tab.form.arch_combo.count()))
    assert tab.form.arch_description.text() == REGISTRY["cnn"].description
    config = tab.config_from_form()
    assert (config.arch, config.optimizer, config.lr, config.batch_size) == ("cnn", "adam", 5e-4, 128)
    assert not tab.form.momentum_spin.isEnabled()
    tab.form.optimizer_combo.setCurrentIndex(tab.form.optimizer_combo.findData("momentum"))
    assert tab.form.momentum_spin.isEnabled()
    cuda_item = tab.form.device_combo.model().item(tab.form.device_combo.findData("cuda"))
    assert cuda_item.isEnabled() == torch.cuda.is_available()


@pytest.mark.slow  # 2.7 s measured on 2 cores (a warm-up, then a full run with the stall meter)
def test_a_short_run_plots_live_lists_the_run_and_keeps_the_gui_responsive(qtbot, tab, mnist_dir, tmp_path):
    fill_form(tab, mnist_dir)
    tab.log_dir_edit.setText(str(tmp_path / "logs"))
    # as when the tab is first shown: torch's one-off first-optimizer imports happen in the
    # background before any run (they can hold Python's lock for a second on a cold, busy machine;
    # benchmarks/gui_stall.py measures that warm-up on its own)
    with qtbot.waitSignal(tab.warmedUp, timeout=RUN_TIMEOUT_MS):
        tab.warm_up()
    stalls = StallMeter()
    run = run_to_end(qtbot, tab)
    stalls.stop()

    assert run.status == "done" and not tab.is_running
    tab.charts.flush()
    assert len(tab.charts.buffer(run.id, LOSS_TRAIN)) >= 2  # the loss as it goes, every few batches
    for key in (LOSS_TEST, ACC_TRAIN, ACC_TEST):
        assert len(tab.charts.series(run.id, key).points()) == 1  # one point per epoch
    assert 0 < tab.charts.series(run.id, ACC_TEST).points()[0].y() <= 100
    assert tab.runs_model.rowCount() == 1
    assert cell(tab, 0, 3) == f"{100 * run.outcome.accuracy:.2f}%"
    assert tab.results.confusion.matrix().sum() == TEST_SUBSET
    wrong = int(TEST_SUBSET - np.trace(run.outcome.confusion))
    assert tab.results.misclassified.count() == min(wrong, 60)
    assert "done" in tab.progress_bar.format()
    assert stalls.ticks > 10 and stalls.longest < STALL_BOUND_S, f"GUI blocked for {stalls.longest:.3f} s"

    # the JSON-lines log reads like the CLI's: every event, then the result
    records = [json.loads(line) for line in run.outcome.log_path.read_text().splitlines()]
    assert run.outcome.log_path.parent == tmp_path / "logs"
    kinds = [r["event"] for r in records]
    assert kinds[0] == "start" and kinds[-2:] == ["epoch", "result"] and "batch" in kinds
    assert records[-1]["test_accuracy"] == pytest.approx(run.outcome.accuracy)


def test_runs_can_be_overlaid_and_hidden(qtbot, tab, mnist_dir):
    fill_form(tab, mnist_dir, arch="fnn", optimizer="sgd", lr="0.05")
    first = run_to_end(qtbot, tab)
    tab.form.optimizer_combo.setCurrentIndex(tab.form.optimizer_combo.findData("adam"))
    tab.form.lr_edit.setText("1e-3")
    second = run_to_end(qtbot, tab)

    assert tab.runs_model.rowCount() == 2
    assert "sgd lr 0.05" in cell(tab, 0, 2) and "adam lr 0.001" in cell(tab, 1, 2)
    assert tab.charts.shown_runs() == [first.id, second.id]
    legend = tab.charts.legend_entries()
    assert "run 1 test" in legend and "run 2 test" in legend

    tab.set_run_checked(first.id, False)
    assert tab.charts.shown_runs() == [second.id]
    assert not tab.charts.series(first.id, LOSS_TRAIN).isVisible()
    assert tab.charts.series(second.id, LOSS_TRAIN).isVisible()


def test_pause_holds_training_and_stop_keeps_the_model_trained_so_far(qtbot, tab, mnist_dir):
    fill_form(tab, mnist_dir, batch=32, subset=4000)  # 125 steps: long enough to stop mid-epoch
    with qtbot.waitSignal(tab.progressed, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    qtbot.mouseClick(tab.pause_button, Qt.LeftButton)
    assert tab.pause_button.text() == "Resume" and tab.progress_bar.format().startswith("paused")
    qtbot.wait(300)  # progress sent before the pause took effect may still be on its way
    with qtbot.assertNotEmitted(tab.progressed, wait=500):
        pass

    with qtbot.waitSignal(tab.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(tab.stop_button, Qt.LeftButton)
    run = finished.args[0]
    result = run.outcome.result
    assert run.status == "stopped" and result.cancelled
    assert 0 < result.metrics["steps"] < run.steps_per_epoch
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()

    from digitpad.recognizer import Recognizer

    recognizer = Recognizer.from_checkpoint(run.outcome.checkpoint, device="cpu")
    test_images = np.stack([np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)])
    probabilities = recognizer.predict_batch(test_images)
    assert probabilities.shape == (2, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)


def test_a_finished_run_can_be_used_in_the_draw_tab_saved_and_exported(qtbot, tab, mnist_dir, tmp_path):
    fill_form(tab, mnist_dir)
    run = run_to_end(qtbot, tab)
    assert tab.use_button.isEnabled() and tab.save_button.isEnabled()

    with qtbot.waitSignal(tab.useModelRequested, timeout=5_000) as used:
        qtbot.mouseClick(tab.use_button, Qt.LeftButton)
    recognizer = used.args[0]
    assert tab.model_name(recognizer) == f"run 1 · cnn · {100 * run.outcome.accuracy:.1f}%"  # for the status bar
    trained = run.outcome.result.model.state_dict()
    for name, tensor in recognizer.model.state_dict().items():
        assert torch.equal(tensor.cpu(), trained[name].cpu()), name

    from trainer.checkpoint import load_checkpoint

    saved = tab.save_to(tmp_path / "mine.pt")
    loaded = load_checkpoint(saved)
    assert loaded.arch == "cnn"
    assert loaded.metrics["test_accuracy"] == pytest.approx(run.outcome.accuracy)
    assert all(torch.equal(loaded.state_dict[k].cpu(), trained[k].cpu()) for k in trained)
    assert "Saved" in tab.message()

    pytest.importorskip("onnx")
    with qtbot.waitSignal(tab.exported, timeout=RUN_TIMEOUT_MS) as exported:
        tab.export_to(tmp_path / "mine.onnx")
    assert exported.args[0].is_file()


def draw_stroke(qtbot, widget, points) -> None:
    """Press, move through `points`, release: one stroke as a mouse user draws it."""
    qtbot.mousePress(widget, Qt.LeftButton, pos=QPoint(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(widget, QPoint(*point))
    qtbot.mouseRelease(widget, Qt.LeftButton, pos=QPoint(*points[-1]))


def test_use_in_draw_tab_changes_the_model_the_canvas_uses(qtbot, mnist_dir, tmp_path):
    import digitpad.app as app_module
    from digitpad.recognizer import Recognizer
    from trainer.checkpoint import make_checkpoint
    from trainer.models import create_model

    torch.manual_seed(0)
    untrained = Recognizer.from_checkpoint(make_checkpoint(create_model("fnn"), "fnn", {}), device="cpu")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = app_module.MainWindow(untrained, settings=settings, device="cpu")
    qtbot.addWidget(window)
    window.resize(1100, 760)
    tab = window.train_tab
    fill_form(tab, mnist_dir)
    run = run_to_end(qtbot, tab)

    with qtbot.waitSignal(window.recognizerChanged, timeout=5_000) as changed:
        qtbot.mouseClick(tab.use_button, Qt.LeftButton)
    assert window.recognizer is changed.args[0] and window.recognizer is not untrained
    assert window.recognizer.arch == "cnn"
    assert window.recognizer.test_accuracy == pytest.approx(run.outcome.accuracy)

    window.tabs.setCurrentWidget(window.draw_tab)
    window.show()
    with qtbot.waitSignal(window.predictionChanged, timeout=10_000) as predicted:
        draw_stroke(qtbot, window.canvas, [(150, 100), (250, 100), (200, 200), (180, 300)])
    expected = window.recognizer.predict_strokes(window.canvas.strokes())
    assert np.allclose(predicted.args[0].probabilities, expected.probabilities, atol=1e-5)
    window.shutdown()


def test_a_diverging_learning_rate_shows_an_error_and_the_tab_keeps_working(qtbot, tab, mnist_dir):
    fill_form(tab, mnist_dir, optimizer="sgd", lr="1e30")
    with qtbot.waitSignal(tab.runFailed, timeout=RUN_TIMEOUT_MS) as failed:
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert "NaN" in failed.args[0] or "infinite" in failed.args[0]
    assert not tab.message_label.isHidden() and "learning rate" in tab.message()
    assert tab.runs[-1].status == "failed"
    assert tab.start_button.isEnabled() and tab.form.isEnabled()
    assert not tab.use_button.isEnabled()


def test_missing_data_is_reported_in_the_panel(qtbot, tab, tmp_path, monkeypatch):
    import trainer.data

    monkeypatch.setattr(trainer.data, "_network_reachable", lambda: False)  # as if offline: no download
    fill_form(tab, tmp_path / "no-mnist-here")
    with qtbot.waitSignal(tab.runFailed, timeout=RUN_TIMEOUT_MS) as failed:
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert "no-mnist-here" in failed.args[0]
    assert "no-mnist-here" in tab.message()


@pytest.mark.parametrize("field, text, named", [("lr_edit", "fast", "learning rate"), ("weight_decay_edit", "lots", "weight decay")])
def test_a_number_that_is_not_one_is_refused_before_training(qtbot, tab, field, text, named):
    getattr(tab.form, field).setText(text)
    with qtbot.waitSignal(tab.errorShown, timeout=1_000):
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert not tab.is_running and tab.runs == []
    assert named in tab.message() and repr(text) in tab.message()


def test_more_options_are_folded_until_asked_for_and_the_choice_is_remembered(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    first = TrainTab(settings=settings)
    qtbot.addWidget(first)
    assert first.more_panel.isHidden()
    first.resize(1280, 720)
    first.show()
    qtbot.mouseClick(first.more_button, Qt.LeftButton)
    assert not first.more_panel.isHidden()
    # unfolding scrolls the new rows into view, down to the last one
    viewport = first._form_scroll.viewport()
    last_row = first.form.editors[[name for name, meta, _ in params() if meta.group is Group.MORE and meta.form][-1]]

    def last_row_in_view() -> bool:
        laid_out = last_row.height() >= last_row.sizeHint().height()
        return laid_out and viewport.rect().contains(QRect(last_row.mapTo(viewport, QPoint(0, 0)), last_row.size()))

    qtbot.waitUntil(last_row_in_view, timeout=2_000)
    first.shutdown()
    second = TrainTab(settings=settings)
    qtbot.addWidget(second)
    assert second.more_button.isChecked() and not second.more_panel.isHidden()


def test_pen_copies_count_only_when_training_on_pen_digits(tab):
    tab.form.pen_copies_spin.setValue(6)
    assert not tab.form.pen_copies_spin.isEnabled()
    assert tab.config_from_form().pen_copies == TrainConfig.pen_copies
    tab.form.dataset_combo.setCurrentIndex(tab.form.dataset_combo.findData(True))
    assert tab.form.pen_copies_spin.isEnabled()
    config = tab.config_from_form()
    assert config.pen_digits and config.pen_copies == 6


def test_the_bundled_models_recipe_can_be_set_in_the_form_and_trains_as_set(qtbot, tab, mnist_dir):
    # weight decay, one-cycle schedule, label smoothing and weight averaging reach the trainer
    fill_form(tab, mnist_dir, optimizer="adamw", lr="3e-3")
    tab.form.weight_decay_edit.setText("0.01")
    tab.form.schedule_combo.setCurrentIndex(tab.form.schedule_combo.findData("onecycle"))
    tab.form.label_smoothing_spin.setValue(0.1)
    tab.form.ema_spin.setValue(0.99)
    run = run_to_end(qtbot, tab)
    assert run.status == "done"
    hparams = run.outcome.result.config
    assert (hparams.weight_decay, hparams.schedule, hparams.label_smoothing, hparams.ema) == (0.01, "onecycle", 0.1, 0.99)
    assert "wd 0.01" in cell(tab, 0, 2)


def test_data_viewer_shows_labelled_samples_before_any_training(qtbot, tab, mnist_dir):
    tab.set_data_dir(mnist_dir)
    with qtbot.waitSignal(tab.samplesLoaded, timeout=RUN_TIMEOUT_MS) as loaded:
        tab.load_samples()
    assert loaded.args[0] > 0
    captions = tab.results.samples.captions()
    assert len(captions) == loaded.args[0]
    assert set(captions) == {str(d) for d in range(10)}


def test_data_dir_is_remembered(qtbot, tmp_path, mnist_dir):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    first = TrainTab(settings=settings)
    qtbot.addWidget(first)
    first.set_data_dir(mnist_dir)
    second = TrainTab(settings=settings)
    qtbot.addWidget(second)
    assert second.data_dir() == str(mnist_dir)
    assert second.config_from_form().data_dir == str(mnist_dir)
    assert isinstance(second.config_from_form(), TrainConfig)


def test_a_runs_settings_line_names_what_shapes_it():
    from digitpad.train.session import settings_text

    plain = settings_text(TrainConfig(arch="cnn", optimizer="adam", lr=5e-4, batch_size=128, epochs=2))
    assert plain == "cnn · adam lr 0.0005 · batch 128 · 2 ep"
    bundled = settings_text(TrainConfig(arch="digitnet", optimizer="adamw", lr=3e-3, epochs=40, augment=True, ema=0.999, pen_digits=True))
    assert bundled == "digitnet · adamw lr 0.003 · batch 128 · 40 ep · aug · ema 0.999 · +pen"
    tuned = settings_text(TrainConfig(optimizer="adamw", lr=3e-3, weight_decay=0.01, schedule="onecycle", label_smoothing=0.1,
                                      pen_digits=True, pen_copies=6))
    assert tuned == "cnn · adamw lr 0.003 wd 0.01 · onecycle · batch 128 · 1 ep · ls 0.1 · +pen ×6"


def test_a_finished_worker_is_destroyed_on_the_gui_thread_not_its_own(qtbot):
    # Destroyed on its own thread (finished -> deleteLater), a worker now and then deadlocked against
    # the GUI thread: one waited for Python's lock holding a Qt mutex, the other the reverse.
    import gc
    import threading

    from digitpad.workers import TaskWorker, start_job

    destroyed_on = []
    results = []
    worker = TaskWorker(lambda: 42)
    worker.destroyed.connect(lambda: destroyed_on.append(threading.get_ident()))
    # a list, not waitSignal: the signal comes from the worker's thread, and waitSignal's timer
    # must only be touched from the GUI thread
    worker.finished.connect(results.append)
    thread = start_job(worker)
    qtbot.waitUntil(lambda: results == [42], timeout=10_000)
    qtbot.waitUntil(thread.isFinished, timeout=10_000)
    del worker, thread  # what the tab drops once the thread has ended

    def destroyed() -> bool:
        gc.collect()
        return bool(destroyed_on)

    qtbot.waitUntil(destroyed, timeout=10_000)
    assert destroyed_on == [threading.main_thread().ident]


def test_missing_data_is_one_panel_that_goes_once_the_folder_holds_mnist(qtbot, tab, tmp_path, mnist_dir, monkeypatch):
    import trainer.data

    monkeypatch.setattr(trainer.data, "_network_reachable", lambda: False)  # offline: no Download button
    fill_form(tab, tmp_path / "empty")
    with qtbot.waitSignal(tab.runFailed, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    panel = tab.data_panel
    assert not panel.isHidden() and "empty" in panel.text()
    assert all(name in panel.files.text() for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    assert panel.download_button.isHidden()
    assert "--data-dir" not in tab.message() and "DIGITPAD_DATA" not in tab.message()
    assert len(tab.message()) < 200  # one line, not the command line's paragraph
    assert tab.charts.legend_entries() == []  # the failed run left no curves
    tab.set_data_dir(mnist_dir)
    assert panel.isHidden()


def test_export_says_what_is_missing_before_asking_for_a_file(qtbot, tab, monkeypatch):
    import importlib.util

    from PySide6.QtWidgets import QFileDialog

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real_find_spec(name, *a))
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: asked.append(a) or ("", ""))
    tab.actions.export_dialog()
    assert asked == []
    assert "pip install onnx onnxruntime" in tab.message() and "digitpad[onnx]" not in tab.message()


def test_the_start_buttons_stay_put_whatever_the_status_says(qtbot, tab):
    tab.resize(1060, 720)
    tab.show()
    qtbot.waitExposed(tab)
    before = tab.start_button.mapTo(tab, QPoint(0, 0))
    tab.controls.set_status("a long status " * 40)
    tab.controls.speed_label.setText("loss 0.1 · 9,000 samples/s · 3.0s elapsed")
    tab.show_error("something went wrong " * 20)
    qtbot.waitUntil(lambda: tab.message_label.height() > 20)  # laid out with the banner shown
    assert tab.start_button.mapTo(tab, QPoint(0, 0)) == before
    assert tab.controls.status_label.text().endswith("…") and tab.controls.status() == "a long status " * 40


def test_stopping_to_quit_keeps_the_model_trained_so_far(qtbot, tab, mnist_dir, tmp_path):
    fill_form(tab, mnist_dir, batch=32, subset=4000)
    with qtbot.waitSignal(tab.progressed, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    activity = []
    tab.activityChanged.connect(activity.append)
    saved = tab.stop_and_keep(timeout_ms=RUN_TIMEOUT_MS, directory=tmp_path / "runs")
    assert saved is not None and saved.parent == tmp_path / "runs" and not tab.is_running
    assert activity[-1] == ""  # the status-bar indicator goes
    from trainer.checkpoint import load_checkpoint

    assert load_checkpoint(saved).metrics["cancelled"] is True
    assert tab.stop_and_keep() is None  # nothing running: nothing to keep


def test_quitting_during_a_run_asks_first_and_keeps_the_model(qtbot, mnist_dir, tmp_path):
    from digitpad.app import MainWindow
    from digitpad.recognizer import Recognizer
    from trainer.checkpoint import make_checkpoint
    from trainer.models import create_model

    untrained = Recognizer.from_checkpoint(make_checkpoint(create_model("fnn"), "fnn", {}), device="cpu")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(untrained, settings=settings, device="cpu")
    qtbot.addWidget(window)
    tab = window.train_tab
    fill_form(tab, mnist_dir, batch=32, subset=4000)
    tab.log_dir_edit.setText(str(tmp_path / "runs"))
    answers = ["Keep training", "Stop and keep the model"]
    asked = []

    def answer(box) -> None:
        asked.append(box.text())
        wanted = answers.pop(0)
        QTimer.singleShot(0, lambda: next(b for b in box.buttons() if b.text() == wanted).click())

    window.quitQuestionShown.connect(answer)
    with qtbot.waitSignal(tab.progressed, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert not window.run_indicator.isHidden()

    assert not window.close() and tab.is_running  # "Keep training"
    assert window.close()  # "Stop and keep the model"
    assert asked[0].startswith("A training run is in progress: stop it and keep the model trained so far")
    kept = list((tmp_path / "runs").glob("*.pt"))
    assert len(kept) == 1 and not tab.is_running


def test_missing_data_offers_a_download_when_online(qtbot, tab, tmp_path, monkeypatch):
    import trainer.data

    monkeypatch.setattr(trainer.data, "_network_reachable", lambda: True)
    tab.set_data_dir(tmp_path / "nothing-yet")
    with qtbot.waitSignal(tab.samplesLoaded, timeout=RUN_TIMEOUT_MS) as loaded:
        tab.load_samples()
    assert loaded.args[0] == 0 and not tab.data_panel.isHidden()
    qtbot.waitUntil(lambda: not tab.data_panel.download_button.isHidden(), timeout=10_000)
    assert tab.results.currentIndex() == 0  # the panel sits on the Data samples page


def test_my_digits_are_offered_once_there_are_some_and_train_with_the_run(tab, qtbot, mnist_dir):
    from digitpad.train.session import RunStatus
    from trainer.personal_examples import Example
    from trainer.personal_file import export_examples

    seven = [[(100.0, 100.0), (300.0, 100.0), (180.0, 340.0)]]
    mine = [Example.of(seven, 7)] * 3
    exported = []

    def export(path) -> int:
        exported.append(path)
        return export_examples(path, mine)

    count = {"n": 0}
    tab.set_personal_source(lambda: count["n"], export)
    assert tab.form.personal_check.isHidden()  # nothing to offer yet
    count["n"] = 3
    tab.refresh_personal_count()
    assert not tab.form.personal_check.isHidden() and "3" in tab.form.personal_check.text()
    fill_form(tab, mnist_dir, arch="fnn", subset=200)
    tab.form.personal_check.setChecked(True)
    tab.start()
    qtbot.waitUntil(lambda: not tab.is_running, timeout=RUN_TIMEOUT_MS)
    run = tab.runs[-1]
    assert run.status is RunStatus.DONE, tab.message()
    assert run.config.personal == str(exported[0])
    assert run.outcome.result.n_train == 200 + 3 * run.config.personal_copies
    assert not exported[0].exists()  # the run's copy of the digits is gone once it has been read

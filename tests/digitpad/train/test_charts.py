"""Live training plots: bounded buffers, readable axes, hover values, runs overlaid."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QToolTip

from digitpad.train.charts import (
    ACC_TEST,
    LOSS_TEST,
    LOSS_TRAIN,
    CurveBuffer,
    Ema,
    TrainingCharts,
    hover_text,
    nice_step,
)
from digitpad.train.worker import MAX_LOG_EVERY, choose_log_every


def test_a_full_buffer_halves_itself_and_keeps_the_latest_point():
    buffer = CurveBuffer(capacity=10)
    for i in range(1000):
        buffer.append(i, 2 * i)
    points = buffer.points()
    assert 5 <= len(points) <= 10
    assert points[-1] == (999, 1998)  # the curve still ends where the run is
    assert points[0][0] < 100  # and still starts where it started
    xs = [x for x, _y in points]
    assert xs == sorted(xs)
    gaps = [b - a for a, b in zip(xs[:-2], xs[1:-1], strict=True)]
    assert max(gaps) == min(gaps)  # old and new parts at the same resolution
    assert all(y == pytest.approx(2 * x) for x, y in points)  # averaging keeps a line a line


def test_smoothing_starts_at_the_first_value_and_follows_the_trend():
    ema = Ema(alpha=0.3)
    assert ema.update(2.0) == pytest.approx(2.0)  # no pull towards zero at the start
    for _ in range(50):
        value = ema.update(0.5)
    assert value == pytest.approx(0.5, abs=1e-6)


def test_axis_steps_are_round_numbers():
    assert nice_step(2.6) == pytest.approx(1.0)
    assert nice_step(2.0) == pytest.approx(0.5)
    assert nice_step(100) == 20
    assert nice_step(3) == pytest.approx(1)
    assert nice_step(0.04) == pytest.approx(0.01)
    assert nice_step(float("nan")) == 1.0


def test_progress_is_reported_about_25_times_an_epoch_but_at_least_every_20_batches():
    assert choose_log_every(512, 64) == 1
    assert choose_log_every(60_000, 128) == 18  # 469 steps
    assert choose_log_every(60_000, 8) == MAX_LOG_EVERY  # 7,500 steps
    assert choose_log_every(10_000, 128) == 3  # 79 steps


def test_charts_plot_each_run_and_rescale_their_axes(qtbot):
    charts = TrainingCharts()
    qtbot.addWidget(charts)
    charts.add_run(1, "run 1", epochs=2)
    for step in range(1, 11):
        charts.add_batch(1, step / 10, 2.3 / step)
    charts.add_batch(1, 1.0, math.nan)  # a diverged window is not plotted
    charts.add_epoch(1, 1, train_loss=0.4, test_loss=0.3, train_accuracy=0.88, test_accuracy=0.91)
    charts.flush()

    assert len(charts.series(1, LOSS_TRAIN).points()) == 10
    assert [(p.x(), p.y()) for p in charts.series(1, ACC_TEST).points()] == [(1.0, pytest.approx(91.0))]
    loss_axis = charts.loss_plot.y_axis
    assert loss_axis.min() == 0 and 2.3 <= loss_axis.max() <= 3.0
    assert charts.loss_plot.x_axis.max() >= 2  # the planned epochs, so the axis does not jump
    acc_axis = charts.accuracy_plot.y_axis
    assert acc_axis.max() == 100 and 80 <= acc_axis.min() <= 88


@pytest.mark.qt_log_ignore("does not support raise")  # offscreen tooltips cannot raise
def test_hovering_a_curve_shows_its_value(qtbot):
    charts = TrainingCharts()
    qtbot.addWidget(charts)
    charts.show()
    charts.add_run(1, "run 1", epochs=2)
    charts.add_epoch(1, 1, train_loss=0.4, test_loss=0.3, train_accuracy=0.88, test_accuracy=0.91)
    charts.add_epoch(1, 2, train_loss=0.2, test_loss=0.25, train_accuracy=0.95, test_accuracy=0.96)
    charts.flush()
    charts.series(1, ACC_TEST).hovered.emit(QPointF(1.9, 95.0), True)
    assert QToolTip.text() == "run 1 test: epoch 2, accuracy 96.00%"
    assert hover_text("run 3 test", LOSS_TEST, 1.0, 0.12345) == "run 3 test: epoch 1, loss 0.1235"


def test_several_runs_share_the_plots_with_a_legend_entry_each(qtbot):
    charts = TrainingCharts()
    qtbot.addWidget(charts)
    charts.show()  # legend markers are visible only on a shown chart
    for run_id in (1, 2, 3):
        charts.add_run(run_id, f"run {run_id}", epochs=1)
        charts.add_epoch(run_id, 1, 0.5, 0.4, 0.8 + run_id / 100, 0.85)
    charts.set_shown_runs([1, 3])

    def legend() -> list[str]:
        return charts.legend_entries()  # the one legend under both plots

    qtbot.waitUntil(lambda: legend() == ["run 1 train", "run 1 test", "run 3 train", "run 3 test"], timeout=2_000)
    assert not charts.series(2, LOSS_TRAIN).isVisible()
    colors = {charts.series(run_id, LOSS_TRAIN).pen().color().name() for run_id in (1, 2, 3)}
    assert len(colors) == 3


def test_the_legend_names_four_runs_in_full_and_forgets_a_removed_one(qtbot):
    charts = TrainingCharts()
    qtbot.addWidget(charts)
    for run_id in (1, 2, 3, 4):
        charts.add_run(run_id, f"run {run_id}", epochs=1)
    charts.flush(force=True)
    assert all(f"run {run_id}" in charts.legend.text() for run_id in (1, 2, 3, 4))
    charts.remove_run(3)  # a failed run
    assert "run 3" not in charts.legend.text() and "run 3 train" not in charts.legend_entries()
    assert all(s.name() != "run 3 train" for s in charts.loss_plot.chart.series())


def test_empty_charts_have_round_ticks_and_follow_a_dark_palette(qtbot):
    from PySide6.QtGui import QColor, QPalette

    charts = TrainingCharts()
    qtbot.addWidget(charts)
    loss_axis, epoch_axis = charts.loss_plot.y_axis, charts.loss_plot.x_axis
    assert loss_axis.tickInterval() == pytest.approx(0.5) and loss_axis.labelFormat() == "%.1f"
    assert epoch_axis.tickInterval() == pytest.approx(0.2)
    assert charts.accuracy_plot.y_axis.tickInterval() == pytest.approx(20)
    dark = QPalette()
    dark.setColor(QPalette.Base, QColor("#1f1f22"))
    dark.setColor(QPalette.Text, QColor("#e6e6e6"))
    charts.setPalette(dark)
    assert charts.loss_plot.chart.backgroundBrush().color().name() == "#1f1f22"
    assert charts.loss_plot.x_axis.labelsBrush().color().name() == "#e6e6e6"

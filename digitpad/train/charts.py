"""Live training plots (QtCharts): loss and accuracy per run, several runs overlaid with a legend.

Points go into bounded Python buffers as events arrive; a timer copies the changed buffers into
the chart series a few times a second, so a flood of training events never floods the GUI.
When a buffer fills up it halves itself by averaging neighbouring points (downsampling), so a
long run keeps its shape at a bounded cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Iterable

from PySide6.QtCharts import QChart, QChartView, QLegend, QLineSeries, QValueAxis, QXYSeries
from PySide6.QtCore import QEvent, QMargins, QPointF, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QCursor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QGraphicsView, QHBoxLayout, QLabel, QToolTip, QVBoxLayout, QWidget

MAX_POINTS = 1000  # per curve; a full buffer halves itself (pairs averaged)
REFRESH_MS = 200  # how often changed buffers are pushed into the chart series
EMA_ALPHA = 0.3  # smoothing of the training loss (weight of the newest point)
LOSS_HEADROOM = 1.08  # loss axis top = largest visible loss times this
ACCURACY_STEP = 5.0  # accuracy axis bottom rounds down to a multiple of this (percent) ...
ACCURACY_MARGIN = 2.0  # ... after leaving this much room below the lowest point, so its marker shows
MARKER_SIZE = 7.0  # pixels, the per-epoch points
CHART_MIN_SIZE = (180, 150)  # pixels per plot: two side by side fit beside the form at 800 px
EMPTY_LOSS_TOP = 2.5  # the loss axis before any point (MNIST's untrained loss is ~2.3)
TARGET_TICKS = 5  # about this many intervals on a value axis
X_PADDING = 0.03  # fraction of the epoch range added right of the last epoch, so its marker is not cut
TEST_SHADE = 150  # test curves: the run's colour darkened by this percentage (and dashed)
# distinct, colour-blind friendly hues (Okabe-Ito), one per run, reused cyclically
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")

# curve keys: (chart, which) -> label in the legend
LOSS_TRAIN, LOSS_TEST, ACC_TRAIN, ACC_TEST = "loss/train", "loss/test", "acc/train", "acc/test"
CURVE_LABELS = {LOSS_TRAIN: "train", LOSS_TEST: "test", ACC_TRAIN: "train", ACC_TEST: "test"}


class CurveBuffer:
    """A bounded list of (x, y) points for a curve that keeps growing.

    When it holds more than `capacity` points, neighbouring pairs are averaged into one and from
    then on every `stride` (doubled) new points arrive as their average, so old and new parts of
    the curve keep the same resolution and the cost stays bounded however long the run.
    """

    def __init__(self, capacity: int = MAX_POINTS) -> None:
        if capacity < 2:
            raise ValueError("capacity must be >= 2")
        self.capacity = capacity - capacity % 2  # even, so halving leaves no point out
        self.stride = 1  # raw points per stored point
        self.xs: list[float] = []
        self.ys: list[float] = []
        self._pending: list[tuple[float, float]] = []  # raw points not yet averaged into one

    def __len__(self) -> int:
        return len(self.xs) + (1 if self._pending else 0)

    def append(self, x: float, y: float) -> None:
        self._pending.append((float(x), float(y)))
        if len(self._pending) < self.stride:
            return
        px, py = zip(*self._pending, strict=True)
        self._pending.clear()
        self.xs.append(sum(px) / len(px))
        self.ys.append(sum(py) / len(py))
        if len(self.xs) >= self.capacity:
            self._halve()

    def _halve(self) -> None:
        n = len(self.xs)
        self.xs = [(self.xs[i] + self.xs[i + 1]) / 2 for i in range(0, n, 2)]
        self.ys = [(self.ys[i] + self.ys[i + 1]) / 2 for i in range(0, n, 2)]
        self.stride *= 2

    def points(self) -> list[tuple[float, float]]:
        """The stored points, plus the newest raw point so the curve ends where the run is."""
        points = list(zip(self.xs, self.ys, strict=True))
        if self._pending:
            points.append(self._pending[-1])
        return points

    def values(self) -> list[float]:
        return [y for _x, y in self.points()]

    def last_x(self) -> float | None:
        points = self.points()
        return points[-1][0] if points else None


class Ema:
    """Exponential moving average with the start-up bias removed (like Adam's)."""

    def __init__(self, alpha: float = EMA_ALPHA) -> None:
        self.alpha = alpha
        self._value = 0.0
        self._weight = 0.0

    def update(self, value: float) -> float:
        self._value = (1 - self.alpha) * self._value + self.alpha * value
        self._weight = (1 - self.alpha) * self._weight + self.alpha
        return self._value / self._weight


@dataclass
class _RunCurves:
    name: str
    color: QColor
    epochs: int  # planned, so the x axis does not jump while a run goes on
    buffers: dict[str, CurveBuffer] = field(default_factory=dict)
    series: dict[str, QXYSeries] = field(default_factory=dict)
    ema: Ema = field(default_factory=Ema)
    shown: bool = True
    dirty: bool = True


class _Plot:
    """One QChart with an epoch axis and a value axis."""

    def __init__(self, title: str) -> None:
        self.chart = QChart()
        self.chart.setTitle(title)
        title_font = QFont(self.chart.titleFont())
        title_font.setBold(True)
        self.chart.setTitleFont(title_font)
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        self.chart.legend().setMarkerShape(QLegend.MarkerShapeFromSeries)
        self.chart.legend().setVisible(False)  # one RunLegend under both plots: a chart's own elides with 3+ runs
        self.chart.setAnimationOptions(QChart.NoAnimation)  # animations cost frames during training
        self.x_axis = QValueAxis()
        self.x_axis.setTitleText("epoch")
        self.x_axis.setLabelFormat("%.1f")
        self.x_axis.setRange(0, 1)
        self.y_axis = QValueAxis()  # untitled: the chart's title names the quantity (a vertical title elides)
        self.chart.addAxis(self.x_axis, Qt.AlignBottom)
        self.chart.addAxis(self.y_axis, Qt.AlignLeft)
        self.view = QChartView(self.chart)
        self.view.setRenderHint(QPainter.Antialiasing)
        # a partial repaint clipped the epoch markers to half circles (their item's bounds leave the marker out)
        self.view.setViewportUpdateMode(QGraphicsView.FullViewportUpdate)
        self.view.setMinimumSize(*CHART_MIN_SIZE)

    def apply_palette(self, palette: QPalette) -> None:
        """Background, text and grid from the widget palette, so a dark desktop gets dark charts."""
        text, mid = palette.color(QPalette.Text), palette.color(QPalette.Mid)
        self.chart.setBackgroundBrush(palette.brush(QPalette.Base))
        self.chart.setBackgroundPen(QPen(mid))
        self.chart.setTitleBrush(text)
        for axis in (self.x_axis, self.y_axis):
            axis.setLabelsBrush(text)
            axis.setTitleBrush(text)
            axis.setLinePenColor(mid)
            axis.setGridLineColor(mid)

    def add_series(self, series: QXYSeries) -> None:
        self.chart.addSeries(series)
        series.attachAxis(self.x_axis)
        series.attachAxis(self.y_axis)


class TrainingCharts(QWidget):
    """A loss plot (smoothed training loss as it goes, test loss per epoch) and an accuracy plot
    (training and test accuracy per epoch), one pair of curves per run, any runs overlaid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = _Plot("Loss (cross-entropy)")
        self.accuracy_plot = _Plot("Accuracy (%)")
        _set_ticks(self.loss_plot.y_axis, 0.0, EMPTY_LOSS_TOP, nice_step(EMPTY_LOSS_TOP))
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setAlignment(Qt.AlignCenter)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot.view)
        plots.addWidget(self.accuracy_plot.view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(plots, 1)
        layout.addWidget(self.legend)
        self._runs: dict[int, _RunCurves] = {}
        self._rescale()  # round ticks before any data too
        self._apply_palette()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # ------------------------------------------------------------ feeding data

    def add_run(self, run_id: int, name: str, epochs: int) -> None:
        """Start the curves of a new run (shown), coloured by its order."""
        color = QColor(PALETTE[len(self._runs) % len(PALETTE)])
        run = _RunCurves(name=name, color=color, epochs=max(1, int(epochs)))
        self._runs[run_id] = run
        for key in (LOSS_TRAIN, LOSS_TEST, ACC_TRAIN, ACC_TEST):
            run.buffers[key] = CurveBuffer()
            series = self._make_series(key, run)
            run.series[key] = series
            plot = self.loss_plot if key.startswith("loss") else self.accuracy_plot
            plot.add_series(series)
        self._mark_dirty(run)

    def add_batch(self, run_id: int, epoch_progress: float, loss: float) -> None:
        """A training-loss point at `epoch_progress` (e.g. 1.25 = a quarter into epoch 2)."""
        run = self._runs.get(run_id)
        if run is None or not math.isfinite(loss):
            return
        run.buffers[LOSS_TRAIN].append(epoch_progress, run.ema.update(loss))
        self._mark_dirty(run)

    def add_epoch(
        self, run_id: int, epoch: int, train_loss: float, test_loss: float, train_accuracy: float, test_accuracy: float
    ) -> None:
        """The end-of-epoch figures (accuracies as fractions in [0, 1])."""
        run = self._runs.get(run_id)
        if run is None:
            return
        run.buffers[LOSS_TEST].append(epoch, test_loss)
        run.buffers[ACC_TRAIN].append(epoch, 100 * train_accuracy)
        run.buffers[ACC_TEST].append(epoch, 100 * test_accuracy)
        self._mark_dirty(run)

    def remove_run(self, run_id: int) -> None:
        """Drop a run's curves and legend entries (a failed run's)."""
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        for key, series in run.series.items():
            plot = self.loss_plot if key.startswith("loss") else self.accuracy_plot
            plot.chart.removeSeries(series)
            series.deleteLater()
        self.flush(force=True)
        self._update_legend()

    def set_shown_runs(self, run_ids: Iterable[int]) -> None:
        """Show exactly these runs' curves (the others stay, hidden)."""
        wanted = set(run_ids)
        for run_id, run in self._runs.items():
            run.shown = run_id in wanted
            for series in run.series.values():
                series.setVisible(run.shown)
                for marker in self._legend_markers(series):
                    marker.setVisible(run.shown)
        self.flush(force=True)

    def shown_runs(self) -> list[int]:
        return [run_id for run_id, run in self._runs.items() if run.shown]

    def buffer(self, run_id: int, key: str) -> CurveBuffer:
        """The data of one curve (e.g. `LOSS_TRAIN`), for inspection."""
        return self._runs[run_id].buffers[key]

    def series(self, run_id: int, key: str) -> QXYSeries:
        return self._runs[run_id].series[key]

    # ------------------------------------------------------------ drawing

    @Slot()
    def flush(self, force: bool = False) -> None:
        """Copy changed buffers into the series and rescale the axes (the timer calls this)."""
        changed = False
        for run in self._runs.values():
            if run.dirty or force:
                for key, series in run.series.items():
                    series.replace([QPointF(x, y) for x, y in run.buffers[key].points()])
                run.dirty = False
                changed = True
        if changed:
            self._rescale()
            self._update_legend()

    def _mark_dirty(self, run: _RunCurves) -> None:
        run.dirty = True

    def legend_entries(self) -> list[str]:
        """The curves the legend names, e.g. ["run 1 train", "run 1 test"]: a solid and a dashed swatch per shown run."""
        return [f"{run.name} {CURVE_LABELS[key]}" for run in self._runs.values() if run.shown for key in (LOSS_TRAIN, LOSS_TEST)]

    def _update_legend(self) -> None:
        text_color = self.palette().color(QPalette.Text).name()
        swatch = ("<span style='color:{0}; font-weight:bold'>&#9473;&#9473;</span>"
                  "<span style='color:{1}; font-weight:bold'>&#9476;&#9476;</span>&nbsp;{2}")
        items = [swatch.format(run.color.name(), run.color.darker(TEST_SHADE).name(), escape(run.name))
                 for run in self._runs.values() if run.shown]
        if items:
            items.append(f"<span style='color:{text_color}'>(solid: train, dashed: test)</span>")
        self.legend.setText("&nbsp;&nbsp;&nbsp; ".join(items))
        self.legend.setVisible(bool(items))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange:
            self._apply_palette()

    def _apply_palette(self) -> None:
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.apply_palette(self.palette())
        self._update_legend()

    def _rescale(self) -> None:
        shown = [run for run in self._runs.values() if run.shown]
        max_epoch = max((run.epochs for run in shown), default=1)
        for run in shown:
            for buffer in run.buffers.values():
                if len(buffer):
                    max_epoch = max(max_epoch, buffer.last_x())
        x_step = nice_step(max_epoch)
        for plot in (self.loss_plot, self.accuracy_plot):
            _set_ticks(plot.x_axis, 0.0, max_epoch * (1 + X_PADDING), x_step)
        losses = [y for run in shown for key in (LOSS_TRAIN, LOSS_TEST) for y in run.buffers[key].values() if math.isfinite(y)]
        if losses:
            top = max(max(losses) * LOSS_HEADROOM, 1e-3)
            step = nice_step(top)
            _set_ticks(self.loss_plot.y_axis, 0.0, math.ceil(top / step) * step, step)
        accuracies = [y for run in shown for key in (ACC_TRAIN, ACC_TEST) for y in run.buffers[key].values()]
        lowest = min(accuracies) - ACCURACY_MARGIN if accuracies else 0.0
        bottom = math.floor(lowest / ACCURACY_STEP) * ACCURACY_STEP
        bottom = max(0.0, min(bottom, 100 - ACCURACY_STEP))
        _set_ticks(self.accuracy_plot.y_axis, bottom, 100.0, nice_step(100.0 - bottom))

    def _make_series(self, key: str, run: _RunCurves) -> QXYSeries:
        per_epoch = key != LOSS_TRAIN
        series = QLineSeries()
        series.setName(f"{run.name} {CURVE_LABELS[key]}")
        is_test = key in (LOSS_TEST, ACC_TEST)
        pen = QPen(run.color.darker(TEST_SHADE) if is_test else run.color)
        pen.setWidthF(2.0)
        if is_test:
            pen.setStyle(Qt.DashLine)
        series.setPen(pen)
        if per_epoch:
            series.setPointsVisible(True)
            series.setMarkerSize(MARKER_SIZE)
        series.hovered.connect(lambda point, state, s=series, k=key: self._show_hover(s, k, point, state))
        return series

    def _show_hover(self, series: QXYSeries, key: str, point: QPointF, state: bool) -> None:
        if not state:
            QToolTip.hideText()
            return
        points = series.points()
        if not points:
            return
        nearest = min(points, key=lambda p: abs(p.x() - point.x()))
        QToolTip.showText(QCursor.pos(), hover_text(series.name(), key, nearest.x(), nearest.y()))

    def _legend_markers(self, series: QXYSeries):
        for plot in (self.loss_plot, self.accuracy_plot):
            if series in plot.chart.series():
                return plot.chart.legend().markers(series)
        return []


def nice_step(span: float, target: int = TARGET_TICKS) -> float:
    """A 1/2/5 x 10^k tick interval giving about `target` intervals over `span`."""
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def _set_ticks(axis: QValueAxis, low: float, high: float, step: float) -> None:
    axis.setRange(low, high)
    axis.setTickType(QValueAxis.TicksDynamic)
    axis.setTickAnchor(0.0)
    axis.setTickInterval(step)
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    axis.setLabelFormat(f"%.{decimals}f")


def hover_text(name: str, key: str, x: float, y: float) -> str:
    """The tooltip of a curve point, e.g. "run 1 test: epoch 2, accuracy 98.10%"."""
    where = f"epoch {x:.0f}" if key != LOSS_TRAIN else f"epoch {x:.2f}"
    what = f"loss {y:.4f}" if key.startswith("loss") else f"accuracy {y:.2f}%"
    return f"{name}: {where}, {what}"


"""Longest GUI event-loop stall while the Train tab trains a model on the CPU.

    .venv/bin/python benchmarks/gui_stall.py              # cnn, one epoch of all 60,000 training images
    .venv/bin/python benchmarks/gui_stall.py --quick      # 2,000 images: seconds
    .venv/bin/python benchmarks/gui_stall.py --reserve 0  # torch may use every core (compare)

Drives the real Train tab (form -> Start -> worker thread -> live charts, shown on screen or on
Qt's offscreen platform) while a precise 5 ms QTimer on the GUI thread records the gap between
its ticks. A gap much longer than 5 ms is time the event loop could not run: a frozen window.
Prints figures; exits 1 when the longest stall exceeds --target (50 ms by default). It is not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import trainer.threads as threads  # noqa: E402
from digitpad.train.tab import TrainTab  # noqa: E402
from trainer.train import TrainConfig  # noqa: E402

TICK_MS = 5  # the probe timer's interval
TARGET_MS = 50.0  # the bound for the longest stall on 2 cores
IDLE_SECONDS = 1.0  # baseline measurement before training starts
RUN_TIMEOUT_S = 600
DEFAULT_DATA = REPO.parent / "shared" / "mnist"


class StallProbe:
    """Records the gaps between ticks of a precise timer on the GUI thread."""

    def __init__(self, interval_ms: int = TICK_MS) -> None:
        self.gaps: list[float] = []
        self._last: float | None = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now


def summarize(gaps: list[float]) -> dict[str, float]:
    ms = sorted(g * 1000 for g in gaps) or [0.0]
    return {
        "ticks": len(ms),
        "median": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
        "max": ms[-1],
        "over16": sum(g > 16.7 for g in ms),
        "over50": sum(g > 50 for g in ms),
    }


def line(name: str, s: dict[str, float]) -> str:
    return (
        f"{name:<10} ticks {s['ticks']:>6}  median {s['median']:6.2f} ms  p99 {s['p99']:7.2f} ms  "
        f"max {s['max']:7.2f} ms  >16.7 ms: {s['over16']:>4}  >50 ms: {s['over50']:>3}"
    )


def count_text(n: int) -> str:
    return f"{n:,}" if n else "all"


def wait(seconds: float) -> None:
    """Run the event loop for `seconds` (one nested loop, not a processEvents() busy loop)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA), help="MNIST directory")
    parser.add_argument("--arch", default="cnn", help="architecture to train")
    parser.add_argument("--subset", type=int, default=0, help="training images (0 = all 60,000)")
    parser.add_argument("--test-subset", type=int, default=0, help="test images (0 = all 10,000)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--reserve", type=int, default=None, help="CPU cores kept free of torch threads (default: the app's)")
    parser.add_argument("--target", type=float, default=TARGET_MS, help="fail when the longest stall exceeds this (ms)")
    parser.add_argument("--quick", action="store_true", help="2,000 training images, 500 test images")
    args = parser.parse_args(argv)
    if args.quick:
        args.subset, args.test_subset = 2_000, 500
    if args.reserve is not None:
        threads.RESERVED_CORES = args.reserve

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.IniFormat)
    tab = TrainTab(settings=settings)
    tab.resize(1280, 800)
    tab.form.set_config(TrainConfig(
        arch=args.arch, subset=args.subset or None, test_subset=args.test_subset or None, epochs=args.epochs,
        batch_size=args.batch_size, device="cpu", data_dir=args.data_dir,
    ))

    print(
        f"{platform.platform()}, python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores; training threads {threads.default_threads()} "
        f"(reserve {threads.RESERVED_CORES}); Qt platform {app.platformName()}"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other processes competing for the cores make stalls longer)")
    print(f"run: {args.arch}, {count_text(args.subset)} training / {count_text(args.test_subset)} test images, batch {args.batch_size}, {args.epochs} epoch(s)")

    # showing the tab starts two background jobs: the data viewer's samples and torch's one-off
    # first-optimizer imports; measured separately, since they happen before any run
    probe = StallProbe()
    probe.start()
    loop = QEventLoop()
    warm: list[float] = []
    tab.warmedUp.connect(lambda seconds: (warm.append(seconds), loop.quit()))
    tab.show()
    if not warm:
        loop.exec()
    probe.stop()
    warm_up = summarize(probe.gaps)
    wait(0.2)
    probe.start()
    wait(IDLE_SECONDS)
    probe.stop()
    idle = summarize(probe.gaps)

    outcome: dict[str, object] = {}
    last_speed: list[float] = []
    loop = QEventLoop()
    tab.runFinished.connect(lambda run: (outcome.setdefault("run", run), loop.quit()))
    tab.runFailed.connect(lambda message: (outcome.setdefault("error", message), loop.quit()))
    tab.progressed.connect(lambda event: last_speed.append(event.samples_per_sec))
    QTimer.singleShot(RUN_TIMEOUT_S * 1000, loop.quit)

    probe.start()
    started = time.perf_counter()
    tab.start_button.click()
    loop.exec()
    wall = time.perf_counter() - started
    probe.stop()
    tab.shutdown()

    if "error" in outcome or "run" not in outcome:
        print(f"run failed: {outcome.get('error', 'timed out')}")
        return 2
    run = outcome["run"]
    training = summarize(probe.gaps)
    print(line("warm-up", warm_up) + f"  (tab first shown: {warm[0]:.1f} s of background imports)")
    print(line("idle", idle))
    print(line("training", training))
    speed = statistics.median(last_speed) if last_speed else float("nan")
    print(
        f"run: {wall:.1f} s from Start to results (training {run.seconds:.1f} s, median {speed:,.0f} samples/s), "
        f"test accuracy {100 * run.outcome.accuracy:.2f}%"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    verdict = "PASS" if training["max"] <= args.target else "FAIL"
    print(f"{verdict}: longest GUI stall while training {training['max']:.1f} ms (target <= {args.target:.0f} ms)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())

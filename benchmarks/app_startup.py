"""App startup: time to a painted window, to the first prediction, and how long the GUI ever froze.

    .venv/bin/python benchmarks/app_startup.py                     # bundled model, 3 fresh processes
    .venv/bin/python benchmarks/app_startup.py --model m.pt --runs 5

Each run is a fresh Python process (cold imports, warm OS file cache) started the way `digitpad`
starts; all times are seconds from the moment the process was spawned:

- window:      the main window has painted (menus, empty paper, "Loading model…").
- model:       the model is loaded (torch imported on the recognition thread) and in use.
- first pred.: a "7" drawn with the mouse right after the window appeared is read and shown
               (the user does not wait for the model: drawing works at once).
- max stall:   the longest gap between two ticks of a 5 ms GUI timer from window to first
               prediction, i.e. the longest the window could not repaint or react.
- pen-up → verdict: once warm, median time from releasing the mouse to the verdict on screen.

`--eager` runs the same with the naive order for comparison: import torch and load the model,
then build and show the window. Prints figures; it is not a test. Qt runs offscreen unless a
display is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PY_STARTED = time.time()
SPAWNED_AT = float(os.environ.get("DIGITPAD_BENCH_SPAWNED_AT", "nan"))  # read before any heavy import
REPO = Path(__file__).resolve().parent.parent

STALL_TICK_MS = 5        # GUI heartbeat period for the freeze measurement
WARM_DRAWS = 15          # pen-up-to-verdict samples once the model is warm
CHILD_TIMEOUT_S = 180
SEVEN = [(125, 95), (285, 95), (255, 150), (210, 230), (175, 330)]  # paper units (0-400)


def child(model: str | None, device: str, eager: bool) -> dict:
    """One app start, measured from inside; returns the figures (seconds since spawn)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    import tempfile

    from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QSettings, Qt, QTimer
    from PySide6.QtTest import QTest

    from digitpad.app import MainWindow, create_application, launch

    marks: dict[str, float] = {"python": PY_STARTED - SPAWNED_AT}
    now = lambda: time.time() - SPAWNED_AT  # noqa: E731
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    app = create_application(["digitpad-bench"])
    marks["qt_ready"] = now()

    if eager:
        from digitpad.recognizer import Recognizer

        recognizer = Recognizer.load(model, device=device)
        marks["model"] = now()
        window = MainWindow(recognizer, settings=settings)
        window.show()
    else:
        window = launch(model, device, settings=settings)

    stalls: list[float] = []
    beat = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setInterval(STALL_TICK_MS)
    heartbeat.timeout.connect(lambda: (stalls.append(beat.restart() / 1000.0)))
    warm: list[float] = []
    released: list[float] = []

    def draw_seven() -> None:
        canvas = window.canvas
        window.draw_tab.clear_action.trigger()
        pts = [canvas.from_paper(x, y).toPoint() for x, y in densify(SEVEN)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
        for p in pts[1:]:
            QTest.mouseMove(canvas, p)
        released.append(time.perf_counter())
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])

    def on_prediction(prediction) -> None:
        if window.draw_tab.is_busy():
            return  # a live reading of a stroke still in progress
        if "first_prediction" not in marks:
            marks["first_prediction"] = now()
            marks["first_digit"] = prediction.digit
            heartbeat.stop()
        else:
            warm.append(time.perf_counter() - released[-1])
        if len(warm) < WARM_DRAWS:
            QTimer.singleShot(0, draw_seven)
        else:
            app.quit()

    class FirstPaint(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Type.Paint and "window" not in marks:
                marks["window"] = now()
                beat.start()
                heartbeat.start()
                QTimer.singleShot(0, draw_seven)  # the user starts drawing at once
            return False

    painted = FirstPaint()
    window.installEventFilter(painted)
    window.recognizerChanged.connect(lambda _r: marks.setdefault("model", now()))
    window.predictionChanged.connect(on_prediction)
    QTimer.singleShot(CHILD_TIMEOUT_S * 1000, app.quit)
    app.exec()
    window.close()
    marks["max_stall"] = max(stalls) if stalls else float("nan")
    marks["warm_median"] = statistics.median(warm) if warm else float("nan")
    marks["device"] = window.recognizer.device_name if window.recognizer else "-"
    return marks


def densify(points, step: float = 8.0) -> list[tuple[float, float]]:
    out = [points[0]]
    for (ax, ay), (bx, by) in zip(points[:-1], points[1:], strict=True):
        n = max(1, int(((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5 / step))
        out.extend((ax + (bx - ax) * k / n, ay + (by - ay) * k / n) for k in range(1, n + 1))
    return out


def run_once(args, eager: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--device", args.device]
    if args.model:
        cmd += ["--model", args.model]
    if eager:
        cmd.append("--eager")
    env = dict(os.environ, DIGITPAD_BENCH_SPAWNED_AT=repr(time.time()))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S + 30)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def report(title: str, runs: list[dict]) -> None:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"\n{title} (median of {len(runs)} fresh processes; device: {runs[0]['device']})")
    rows = [
        ("python up", "python"),
        ("Qt ready", "qt_ready"),
        ("window painted", "window"),
        ("model loaded", "model"),
        ("first prediction", "first_prediction"),
    ]
    for label, key in rows:
        print(f"  {label:<30} {med(key):7.3f} s   (runs: {', '.join(f'{r[key]:.3f}' for r in runs)})")
    print(f"  {'longest GUI stall':<30} {med('max_stall') * 1000:7.0f} ms  (window → first prediction)")
    print(f"  {'pen-up → verdict, warm':<30} {med('warm_median') * 1000:7.1f} ms  (median of {WARM_DRAWS})")
    digits = {r["first_digit"] for r in runs}
    print(f"  first drawing read as: {sorted(digits)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled assets/digitnet.pt)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"), help="(default: cpu)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per variant (default: 3)")
    parser.add_argument("--no-eager", action="store_true", help="skip the naive load-then-show comparison")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--eager", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.model, args.device, args.eager)))
        return
    print(f"digitpad startup, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"Qt platform: {os.environ.get('QT_QPA_PLATFORM') or ('xcb' if os.environ.get('DISPLAY') else 'offscreen')}")
    report("window first, model behind it (digitpad)", [run_once(args, eager=False) for _ in range(args.runs)])
    if not args.no_eager:
        report("naive: load torch + model, then show", [run_once(args, eager=True) for _ in range(args.runs)])


if __name__ == "__main__":
    main()

"""Retake the screenshots in docs/screenshots/ from a fixed scenario, under Xvfb with a window manager.

    .venv/bin/python benchmarks/screenshots.py                  # all of them, into docs/screenshots/
    .venv/bin/python benchmarks/screenshots.py --out /tmp/shots # somewhere else (trial runs)

The scenario: the Draw tab reads a pen digit (writer 1's first "3" of ../shared/pendigits, replayed
as mouse strokes) and the Network tab shows what the model makes of it; then "2026" written with that writer's digits (also at 800x600), and "2718" with some digits joined by the pen; the Train tab trains two short cnn runs (6,000 and 20,000 images, 500 test images, 2 epochs; the second shot mid-run),
then two more (4 runs), at the app's default size (1060x720) and at 800x600, and once in a dark
palette. The window shows neutral paths: HOME is a temporary folder whose ~/data/mnist links to
the real MNIST folder, and the Data dir field says ~/data/mnist.

Without $DISPLAY it starts `Xvfb :N` and `openbox` itself (apt-get install xvfb openbox) and stops
them at the end. Training uses the CPU; the whole scenario takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MNIST = REPO.parent / "shared" / "mnist"
DEFAULT_PENDIGITS = REPO.parent / "shared" / "pendigits" / "pendigits-orig.tra.gz"
DEFAULT_OUT = REPO / "docs" / "screenshots"
DISPLAY_NUMBER = 97
SIZE, SMALL = (1060, 720), (800, 600)
SHOWN_DATA_DIR = "~/data/mnist"
RUN_TIMEOUT_S = 300
SUBSET = 6000  # training images per run: a few seconds each on 2 cores, long enough to catch one mid-run
RUNS = (dict(lr=5e-4), dict(lr=2e-3, subset=20_000), dict(lr=1e-3, optimizer="adamw"), dict(lr=0.05, optimizer="momentum"))


def start_x() -> list[subprocess.Popen]:
    """Xvfb and openbox on a display of their own, when none is set."""
    if os.environ.get("DISPLAY"):
        return []
    if not shutil.which("Xvfb"):
        sys.exit("no $DISPLAY and no Xvfb: apt-get install xvfb openbox (or run under a desktop)")
    display = f":{DISPLAY_NUMBER}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["DISPLAY"] = display
    time.sleep(1.0)
    procs = [xvfb]
    if shutil.which("openbox"):
        procs.append(subprocess.Popen(["openbox"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
    return procs


def neutral_home(mnist: Path) -> Path:
    """A temporary HOME whose ~/data/mnist is the real MNIST folder (so no machine's path is shown)."""
    home = Path(tempfile.mkdtemp(prefix="digitpad-shots-"))
    (home / "data").mkdir()
    (home / "data" / "mnist").symlink_to(mnist.resolve(), target_is_directory=True)
    os.environ["HOME"] = str(home)
    os.environ.pop("DIGITPAD_DATA", None)
    return home


def wait(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def wait_for(signal, timeout_s: float = RUN_TIMEOUT_S) -> list:
    """Run the event loop until `signal` fires; its arguments."""
    from PySide6.QtCore import QEventLoop, QTimer

    got: list = []
    loop = QEventLoop()

    def on_signal(*args) -> None:
        got.extend(args)
        loop.quit()

    signal.connect(on_signal)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(on_signal)
    return got


def shoot(window, out: Path, name: str, settle: bool = True) -> None:
    if settle:
        wait(0.6)  # the charts' refresh timer and a repaint
    path = out / name
    window.grab().save(str(path))
    print(f"wrote {path} ({window.width()}x{window.height()})")


def draw_pen_digit(window, pendigits: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from long_session import replay

    from trainer.pendigits import load_pendigits, place_on_canvas, split_by_writer

    train, _heldout = split_by_writer(load_pendigits(pendigits))  # never the test file, only training writers
    digit = next(d for d in train if d.label == 3)
    paper, sheet = window.canvas.paper_rect(), window.canvas.sheet_rect()
    placed = place_on_canvas(digit.strokes, canvas_size=int(paper.height()), height_frac=0.6)
    centre = sheet.center().x() - paper.height() / 2  # in the middle of the (wider) sheet
    replay(window.canvas, [s + [centre, paper.top()] for s in placed])
    wait_for(window.predictionChanged, 20)


def draw_number(window, pendigits: Path, text: str = "2026", join: bool = False) -> None:
    """`text` written by one training writer, laid out as a person writes a number (`join`: some digits
    run on into the next without the pen lifting, compose.join_pairs)."""
    import numpy as np
    from long_session import replay

    from digitpad.numbers.compose import JOINED, SPACED, compose_number, join_pairs
    from trainer.pendigits import load_pendigits, split_by_writer

    train, _heldout = split_by_writer(load_pendigits(pendigits))
    writer = [d for d in train if d.writer == train[0].writer]
    digits = [next(d for d in writer if d.label == int(c)) for c in text]
    rng = np.random.default_rng(1)
    number = compose_number(digits, rng, gaps=JOINED if join else SPACED, height=120.0)
    number = join_pairs(number, rng) if join else number
    canvas = window.canvas
    margin = 20.0  # paper units kept free at each side
    points = np.concatenate(number.strokes)
    left, right = points[:, 0].min(), points[:, 0].max()
    # a narrow window's paper is narrower (its units keep their size): write smaller rather than off the edge
    scale = min(1.0, (canvas.sheet_width() - 2 * margin) / (right - left))
    top = points[:, 1].min()
    strokes = [np.column_stack([margin + (s[:, 0] - left) * scale, top + (s[:, 1] - top) * scale]) for s in number.strokes]
    replay(canvas, [np.array([[p.x(), p.y()] for p in (canvas.from_paper(*q) for q in s)]) for s in strokes])
    wait_for(window.predictionChanged, 20)


def train_runs(window, runs, *, shoot_running: Path | None = None) -> None:
    from trainer.config import TrainConfig

    tab = window.train_tab
    for i, overrides in enumerate(runs):
        settings = dict(arch="cnn", epochs=2, subset=SUBSET, test_subset=500, batch_size=64, device="cpu",
                        data_dir=SHOWN_DATA_DIR)
        tab.form.set_config(TrainConfig(**{**settings, **overrides}))
        ended: list = []
        tab.runFinished.connect(ended.append)
        tab.start_button.click()
        if shoot_running is not None and i == len(runs) - 1:
            shot: list = []

            def mid_run(event, shot=shot) -> None:  # a third into the second epoch, from the GUI thread
                if not shot and event.epoch == 2 and event.step > event.steps_per_epoch // 3:
                    shot.append(event)
                    tab.charts.flush()
                    shoot(window, shoot_running, "train-running.png", settle=False)

            tab.progressed.connect(mid_run)
        else:
            mid_run = None
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not ended and tab.is_running and time.monotonic() < deadline:
            wait(0.2)
        tab.runFinished.disconnect(ended.append)
        if mid_run is not None:
            tab.progressed.disconnect(mid_run)
        if not ended:
            sys.exit(f"run {i + 1} did not finish: {tab.message()}")


def dark_palette():
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    colors = {QPalette.Window: "#2b2b2e", QPalette.WindowText: "#e6e6e6", QPalette.Base: "#1f1f22",
              QPalette.AlternateBase: "#2f2f33", QPalette.Text: "#e6e6e6", QPalette.Button: "#3a3a3e",
              QPalette.ButtonText: "#e6e6e6", QPalette.Highlight: "#2f6db5", QPalette.HighlightedText: "#ffffff",
              QPalette.ToolTipBase: "#3a3a3e", QPalette.ToolTipText: "#e6e6e6", QPalette.PlaceholderText: "#9a9a9a",
              QPalette.Mid: "#55555a", QPalette.Dark: "#18181a", QPalette.Light: "#4a4a4f"}
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        palette.setColor(QPalette.Disabled, role, QColor("#7a7a7a"))
    return palette


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the PNGs go")
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="the real MNIST folder")
    parser.add_argument("--pendigits", type=Path, default=DEFAULT_PENDIGITS, help="the UNIPEN pen-digits file")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    procs = start_x()
    home = neutral_home(args.mnist)
    sys.path.insert(0, str(REPO))
    try:
        return scenario(args)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(5)
        shutil.rmtree(home, ignore_errors=True)


def scenario(args) -> int:
    import torch
    from PySide6.QtCore import QSettings

    from digitpad.app import TAB_DRAW, TAB_NETWORK, TAB_TRAIN, MainWindow, create_application
    from digitpad.recognizer import Recognizer

    torch.set_num_threads(1)
    app = create_application([])
    app.setStyle("Fusion")  # the same look on every machine
    settings = QSettings(str(Path(os.environ["HOME"]) / "digitpad.ini"), QSettings.IniFormat)
    window = MainWindow(Recognizer.load(device="cpu"), settings=settings, device="cpu")
    window.resize(*SIZE)
    window.show()
    wait(1.0)
    draw_pen_digit(window, args.pendigits)
    shoot(window, args.out, "draw.png")
    window.tabs.setCurrentIndex(TAB_NETWORK)
    wait(2.0)  # the explanation is computed on the recognition worker once the tab shows
    shoot(window, args.out, "network.png")
    window.tabs.setCurrentIndex(TAB_DRAW)
    window.canvas.clear()
    draw_number(window, args.pendigits)
    shoot(window, args.out, "draw-number.png")
    window.resize(*SMALL)
    shoot(window, args.out, "draw-800x600.png")
    window.resize(*SIZE)
    window.canvas.clear()
    draw_number(window, args.pendigits, "2718", join=True)
    shoot(window, args.out, "draw-joined.png")

    window.tabs.setCurrentIndex(TAB_TRAIN)
    wait_for(window.train_tab.warmedUp, 120)
    train_runs(window, RUNS[:2], shoot_running=args.out)
    window.train_tab.results.setCurrentIndex(1)  # the selected run's confusion matrix
    shoot(window, args.out, "train-done.png")
    window.resize(*SMALL)
    shoot(window, args.out, "train-800x600.png")
    window.resize(*SIZE)
    train_runs(window, RUNS[2:])
    shoot(window, args.out, "train-4-runs.png")
    app.setPalette(dark_palette())
    shoot(window, args.out, "train-dark.png")
    window.tabs.setCurrentIndex(TAB_DRAW)
    shoot(window, args.out, "draw-dark.png")
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A long drawing session: process memory (RSS) after many drawn digits and many large pasted pictures.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/long_session.py                  # 3,000 digits, 20 pictures
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/long_session.py --digits 500 --images 5 --side 2000

Pen digits (../shared/pendigits) are replayed through the canvas as mouse press/move/release
events, each read by the window, with Clear between them, as a person drawing all day would;
then large pictures (a digit on a SIDE x SIDE photo-sized image) are pasted one after another.
RSS is printed at the start (window shown, model warm) and every so often. Prints figures; it is
not a test. It uses only APIs that older digitpad versions have too, so an old checkout can be
measured the same way (PYTHONPATH=<old checkout> ...).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np

DIGIT_HEIGHT = 0.6          # of the paper, as in the canvas replay test
REPORT_EVERY = 500          # digits between RSS lines
SETTLE_TIMEOUT_S = 10.0


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def settle(app, window) -> None:
    """Let the window take the recognition answer for what is on the paper."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while window.draw_tab.is_busy() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.0005)
    app.processEvents()


def replay(canvas, strokes) -> None:
    """One digit as mouse events (widget pixels)."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    left, right = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for stroke in strokes:
        for i, (x, y) in enumerate(stroke):
            pos = QPointF(float(x), float(y))
            kind = QMouseEvent.Type.MouseButtonPress if i == 0 else QMouseEvent.Type.MouseMove
            held = left
            event = QMouseEvent(kind, pos, canvas.mapToGlobal(pos), left if i == 0 else right, held,
                                Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(canvas, event)
        pos = QPointF(float(stroke[-1][0]), float(stroke[-1][1]))
        QApplication.sendEvent(canvas, QMouseEvent(QMouseEvent.Type.MouseButtonRelease, pos, canvas.mapToGlobal(pos),
                                                   left, right, Qt.KeyboardModifier.NoModifier))


def big_picture(side: int, k: int):
    """A SIDE x SIDE picture of a thick '1', a little different each time (no two identical pastes)."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    image = QImage(side, side, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setPen(QPen(QColor("black"), side * 0.06, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    x = side * (0.45 + 0.01 * (k % 10))
    painter.drawLine(QPointF(x, side * 0.2), QPointF(x - side * 0.03, side * 0.8))
    painter.end()
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=3000, help="pen digits drawn, Clear between (default 3000)")
    parser.add_argument("--images", type=int, default=20, help="large pictures pasted (default 20)")
    parser.add_argument("--side", type=int, default=4000, help="side of each picture in pixels (default 4000)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    import digitpad
    from digitpad.app import MainWindow
    from digitpad.recognizer import Recognizer
    from trainer.pendigits import load_pendigits

    try:
        digits = load_pendigits()
    except Exception as exc:  # the data is beside the checkout, not in it
        print(f"long_session: pen digits not found ({exc}); see ../shared/pendigits", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(Path("/tmp") / "digitpad-long-session.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Recognizer.load(None, device="cpu"), settings=settings)
    window.resize(1060, 720)
    window.show()
    app.processEvents()
    print(f"digitpad from {Path(digitpad.__file__).parent}")
    paper = window.canvas.paper_rect()
    replay(window.canvas, [[(paper.left() + 50, paper.top() + 50), (paper.left() + 90, paper.top() + 200)]])
    settle(app, window)
    window.draw_tab.clear_action.trigger()
    gc.collect()
    start = rss_mb()
    print(f"start (window shown, model warm): RSS {start:.1f} MB")
    draw_digits(app, window, digits, args.digits, start)
    paste_pictures(app, window, args.images, args.side)
    gc.collect()
    print(f"end: RSS {rss_mb():.1f} MB ({rss_mb() - start:+.1f} MB over the session)")
    window.close()
    return 0


def draw_digits(app, window, digits, count: int, start: float) -> None:
    """`count` pen digits through the canvas, each read, Clear between; RSS every REPORT_EVERY."""
    from trainer.pendigits import place_on_canvas

    canvas = window.canvas
    paper = canvas.paper_rect()
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for n in range(1, count + 1):
        digit = digits[(n * 7919) % len(digits)]
        placed = place_on_canvas(digit.strokes, canvas_size=int(paper.width()), height_frac=DIGIT_HEIGHT, rng=rng)
        replay(canvas, [s + [paper.left(), paper.top()] for s in placed])
        settle(app, window)
        window.draw_tab.clear_action.trigger()
        if n % REPORT_EVERY == 0 or n == count:
            gc.collect()
            now = rss_mb()
            print(f"after {n:5d} digits: RSS {now:.1f} MB ({now - start:+.1f} MB, "
                  f"{(now - start) * 1024 / n:.2f} KB/digit; {time.perf_counter() - began:.0f} s)")


def paste_pictures(app, window, count: int, side: int) -> None:
    """`count` large pictures pasted one after another (each read); RSS every 5."""
    before = rss_mb()
    for k in range(1, count + 1):
        window.open_qimage(big_picture(side, k))
        settle(app, window)
        if k % 5 == 0 or k == count:
            gc.collect()
            now = rss_mb()
            print(f"after {k:2d} pictures of {side}x{side}: RSS {now:.1f} MB ({now - before:+.1f} MB since the digits)")


if __name__ == "__main__":
    sys.exit(main())

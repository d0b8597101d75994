"""Which saliency method shows what the model really looked at, and what one Network-tab update costs.

(a) Faithfulness, a deletion curve per method: for N MNIST test digits, blank the pixels the method
    ranks highest for the predicted digit, DELETE_STEP at a time up to DELETE_MAX, and track that
    digit's probability; the same with pixels in random order. The table gives the area under each
    curve (the mean probability over the steps): lower means the method found the pixels the
    answer rests on. Models: the checkpoints given, plus architectures trained here for one epoch
    (--train fnn cnn, a few seconds to a minute each on two cores).
(b) Cost: one full update (layers plus the predicted digit's saliency, `explain`) on one CPU thread,
    p50 and p95 per registered architecture and method (untrained weights: the cost is the same).
(c) --stall: the longest GUI event-loop stall while digits are drawn with the mouse (a move every
    MOVE_MS, as a hand does) with the Network view open in its window beside the Draw tab, the
    bundled model in use; a precise 5 ms timer on the GUI thread records the gaps (benchmarks/gui_stall.py).

    .venv/bin/python benchmarks/explain.py --digits 500 --train fnn cnn
    .venv/bin/python benchmarks/explain.py --stall-only        # (c) alone, on Qt's offscreen platform
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout

from digitpad.inspect.explanation import explain  # noqa: E402
from digitpad.inspect.saliency import Method, attribute  # noqa: E402
from digitpad.recognizer import Recognizer, bundled_model_path  # noqa: E402
from trainer.checkpoint import make_checkpoint  # noqa: E402
from trainer.data import load_mnist  # noqa: E402
from trainer.models import REGISTRY, create_model  # noqa: E402
from trainer.sizes import IMAGE_PIXELS  # noqa: E402

MOVE_MS = 8          # --stall: one mouse move every 8 ms while the pen is down
STALL_DIGITS = (     # --stall: drawn in turn, the paper cleared after each (paper units)
    [[(200, 60), (200, 340)]],
    [[(110, 80), (290, 80), (180, 340)]],
    [[(150, 80), (120, 240), (270, 240)], [(230, 90), (230, 340)]],
)
DELETE_STEP = 8      # pixels blanked per step of the deletion curve
DELETE_MAX = 160     # ... up to this many (a drawn MNIST digit has about 100-150 ink pixels)
SEED = 0


def deletion_curve(rec: Recognizer, images: np.ndarray, orders: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """(steps + 1,) mean probability of each image's digit as its pixels are blanked in `orders`."""
    steps = list(range(0, DELETE_MAX + 1, DELETE_STEP))
    curve = []
    for k in steps:
        blanked = images.reshape(len(images), -1).copy()
        np.put_along_axis(blanked, orders[:, :k], 0.0, axis=1)
        probs = rec.predict_batch(blanked.reshape(images.shape))
        curve.append(float(probs[np.arange(len(images)), digits].mean()))
    return np.asarray(curve)


def faithfulness(rec: Recognizer, images: np.ndarray) -> dict[str, float]:
    """Area under the deletion curve per method and for random order (lower = more faithful)."""
    digits = rec.predict_batch(images).argmax(axis=1)
    forward = lambda x: rec.model((x - rec._mean) / rec._std)  # noqa: E731
    rng = np.random.default_rng(SEED)
    areas = {"random": float(deletion_curve(rec, images, np.argsort(rng.random((len(images), IMAGE_PIXELS))),
                                            digits).mean())}
    for method in Method:
        maps = np.stack([attribute(method, forward, torch.from_numpy(img), int(d)).detach().numpy()
                         for img, d in zip(images, digits, strict=True)])
        orders = np.argsort(-maps.reshape(len(images), -1), axis=1, kind="stable")
        areas[method.value] = float(deletion_curve(rec, images, orders, digits).mean())
    return areas


def update_cost(rec: Recognizer, image: np.ndarray, method: Method, repeats: int) -> tuple[float, float]:
    """p50, p95 ms of one explain() call."""
    explain(rec.model, image, mean=rec._mean, std=rec._std, method=method).saliency()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        explain(rec.model, image, mean=rec._mean, std=rec._std, method=method).saliency()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def trained(arch: str, data) -> Recognizer:
    from trainer.config import TrainConfig
    from trainer.train import train

    start = time.perf_counter()
    result = train(TrainConfig(arch=arch, epochs=1), data=data)
    print(f"trained {arch}: 1 epoch, test accuracy {result.evaluation.accuracy:.2%}, "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return Recognizer.from_checkpoint(result.to_checkpoint(), device="cpu")


def gui_stall(rounds: int, view: bool = True) -> int:
    """Draw STALL_DIGITS `rounds` times with the Network view in its window (or none); print stalls and updates."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from gui_stall import StallProbe, line, summarize
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from ui_helpers import densify, to_widget

    from digitpad.app import MainWindow, create_application

    app = create_application()  # noqa: F841 (kept alive for the run)
    settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "digitpad-stall.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Recognizer.load(device="cpu"), settings=settings)
    window.resize(1060, 720)
    window.show()
    if view:
        window.network_tab.toggle_window()
    counts = {"explained": 0, "predicted": 0}
    window.draw_tab._worker.explained.connect(lambda *_: counts.__setitem__("explained", counts["explained"] + 1))
    window.predictionChanged.connect(lambda *_: counts.__setitem__("predicted", counts["predicted"] + 1))
    events = []  # (action, point) in order, one per MOVE_MS
    for _ in range(rounds):
        for digit in STALL_DIGITS:
            for stroke in digit:
                pts = to_widget(window.canvas, densify(stroke))
                events += [("press", pts[0]), *(("move", p) for p in pts[1:]), ("release", pts[-1])]
            events += [("wait", None)] * 20 + [("clear", None)]
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(MOVE_MS)

    def step() -> None:
        if not events:
            timer.stop()
            loop.quit()
            return
        action, pos = events.pop(0)
        canvas = window.canvas
        if action == "press":
            QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pos)
        elif action == "move":
            QTest.mouseMove(canvas, pos)
        elif action == "release":
            QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=pos)
        elif action == "clear":
            canvas.clear()

    timer.timeout.connect(step)
    probe = StallProbe()
    QTimer.singleShot(500, lambda: (probe.start(), timer.start()))  # the window's first paints settle first
    start = time.perf_counter()
    loop.exec()
    probe.stop()
    print(f"\nGUI stall while drawing {rounds * len(STALL_DIGITS)} digits, Network view {'open' if view else 'closed'} "
          f"({time.perf_counter() - start:.1f} s; {counts['predicted']} readings, {counts['explained']} views updated)")
    print(line("drawing", summarize(probe.gaps)))
    window.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[str(bundled_model_path())], help="checkpoints to measure")
    parser.add_argument("--train", nargs="*", default=[], choices=list(REGISTRY), help="also train these 1 epoch")
    parser.add_argument("--digits", type=int, default=500, help="MNIST test digits for the deletion curves")
    parser.add_argument("--repeats", type=int, default=100, help="timed updates per architecture and method")
    parser.add_argument("--stall", action="store_true", help="also measure the GUI stall while drawing (c)")
    parser.add_argument("--stall-only", action="store_true", help="only (c)")
    parser.add_argument("--without-view", action="store_true", help="(c) with the Network view closed, to compare")
    parser.add_argument("--rounds", type=int, default=5, help="(c): times the three digits are drawn")
    parser.add_argument("--data-dir", default=str(REPO_ROOT.parent / "shared" / "mnist"), help="MNIST files")
    args = parser.parse_args(argv)
    if args.stall_only:
        return gui_stall(args.rounds, not args.without_view)
    data = load_mnist(args.data_dir, download=False, test_subset=args.digits, seed=SEED)
    images = data.test.images.numpy().astype(np.float32) / 255.0
    torch.set_num_threads(2)
    models = [(Path(p).name, Recognizer.load(p, device="cpu")) for p in args.models]
    models += [(f"{arch} (1 epoch)", trained(arch, data)) for arch in args.train]
    torch.set_num_threads(1)
    names = ["random", *(m.value for m in Method)]
    print(f"\nDeletion AUC, mean probability of the predicted digit while its top {DELETE_MAX} pixels are blanked "
          f"{DELETE_STEP} at a time ({len(images)} MNIST test digits; lower = more faithful)")
    print(f"{'model':24}" + "".join(f"{n:>22}" for n in names))
    for label, rec in models:
        areas = faithfulness(rec, images)
        print(f"{label:24}" + "".join(f"{areas[n]:>22.3f}" for n in names), flush=True)
    print(f"\nOne update (layers + saliency of the predicted digit), one CPU thread, ms p50 / p95 "
          f"({args.repeats} updates)")
    print(f"{'architecture':14}" + "".join(f"{m.value:>26}" for m in Method))
    for arch in REGISTRY:
        torch.manual_seed(SEED)
        rec = Recognizer.from_checkpoint(make_checkpoint(create_model(arch), arch, {}), device="cpu")
        cells = [update_cost(rec, images[0], m, args.repeats) for m in Method]
        print(f"{arch:14}" + "".join(f"{f'{p50:.1f} / {p95:.1f}':>26}" for p50, p95 in cells), flush=True)
    return gui_stall(args.rounds) if args.stall else 0


if __name__ == "__main__":
    raise SystemExit(main())

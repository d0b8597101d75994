"""The whole CUDA path in one prepared run (under 5 minutes on a machine with an NVIDIA GPU).

    .venv/bin/python benchmarks/cuda_check.py [--data-dir ../shared/mnist]
    .venv/bin/python benchmarks/cuda_check.py --device cpu   # the same plumbing on the CPU, to test this script

Checks, each printed as PASS/FAIL with its figures:
1. the recognizer on `cuda`: the same probabilities as on the CPU within 1e-4 (MNIST test images
   and pen digits drawn through predict_strokes), and predict_strokes p50/p95 latency on each;
2. `cnn` trained to 99% test accuracy on CUDA (benchmarks/train_speed.py's recipe), after warm-up;
3. the Train tab offscreen: CUDA can be chosen, and a short run on it ends with a model on CUDA;
4. the app with `--device cuda`: the window's recognizer runs on the GPU and reads a drawn digit.
Exit status: 0 when every check passed, 1 when one failed, 2 when there is no CUDA device.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

TOLERANCE = 1e-4  # largest allowed |p_cuda - p_cpu| for any class of any image
N_IMAGES = 2000  # MNIST test images compared
N_STROKES = 200  # pen digits drawn through predict_strokes, compared and timed
T99_TARGET_S = 2.0  # the target for cnn to reach 99% on CUDA after warm-up
DEFAULT_DATA = REPO.parent / "shared" / "mnist"
DEVICE = "cuda"  # --device

results: list[tuple[str, bool, str]] = []


def report(name: str, ok: bool, detail: str) -> None:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)


def percentiles(seconds: list[float]) -> str:
    ms = 1000 * np.asarray(seconds)
    return f"p50 {np.percentile(ms, 50):.2f} ms / p95 {np.percentile(ms, 95):.2f} ms"


def pen_strokes(count: int) -> list:
    from trainer.pendigits import load_pendigits, place_on_canvas

    digits = load_pendigits()
    return [place_on_canvas(d.strokes) for d in digits[:count]]


def timed_predictions(rec, drawings: list) -> tuple[np.ndarray, list[float]]:
    rec.predict_strokes(drawings[0])  # warm-up: first call builds kernels
    probabilities, seconds = [], []
    for strokes in drawings:
        start = time.perf_counter()
        probabilities.append(rec.predict_strokes(strokes).probabilities)
        seconds.append(time.perf_counter() - start)
    return np.asarray(probabilities), seconds


def check_recognizer(data_dir: Path) -> None:
    from digitpad.recognizer import Recognizer
    from trainer.data import load_mnist

    cpu, gpu = Recognizer.load(device="cpu"), Recognizer.load(device=DEVICE)
    images = load_mnist(data_dir, download=False, subset=10, test_subset=N_IMAGES).test.images.numpy()
    diff = float(np.abs(cpu.predict_batch(images) - gpu.predict_batch(images)).max())
    report("recognizer, MNIST images", diff <= TOLERANCE, f"{len(images)} images, max |Δp| {diff:.2e} on {gpu.device_name}")
    drawings = pen_strokes(N_STROKES)
    p_cpu, t_cpu = timed_predictions(cpu, drawings)
    p_gpu, t_gpu = timed_predictions(gpu, drawings)
    diff = float(np.abs(p_cpu - p_gpu).max())
    same = int((p_cpu.argmax(1) == p_gpu.argmax(1)).sum())
    report("recognizer, drawn pen digits", diff <= TOLERANCE,
           f"{len(drawings)} drawings, max |Δp| {diff:.2e}, same digit {same}/{len(drawings)}; "
           f"predict_strokes CPU {percentiles(t_cpu)}, {DEVICE} {percentiles(t_gpu)}")


def check_training(data_dir: Path) -> None:
    from train_speed import time_to_accuracy

    from trainer.data import load_mnist
    from trainer.devices import resolve_device

    data = load_mnist(data_dir, download=False)
    if DEVICE == "cpu":  # plumbing test: a short run, not the 99% target
        data = load_mnist(data_dir, download=False, subset=2048, test_subset=1000)
    target = 0.99 if DEVICE != "cpu" else 0.5
    r = time_to_accuracy(data, resolve_device(DEVICE), target, eval_every=50, seed=1)
    if not r["reached"]:
        report(f"cnn to {100 * target:.0f}% on {DEVICE}", False, f"not reached: best {100 * r['best']:.2f}% in {r['wall_total']:.1f} s")
        return
    hit = r["reached"]
    report(f"cnn to {100 * target:.0f}% on {DEVICE}", hit["train"] <= T99_TARGET_S,
           f"{100 * hit['accuracy']:.2f}% at step {hit['step']}: {hit['train']:.2f} s training "
           f"(target {T99_TARGET_S} s), {hit['wall']:.2f} s wall with {r['evals']} test evaluations")


def run_child(code: str, timeout: int = 180) -> tuple[bool, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines()[-3:]  # the verdict, or the error
    return proc.returncode == 0, " / ".join(lines[-3:]) if lines else f"exit {proc.returncode}"


# Child programs (fresh processes, offscreen); DATA and DEVICE are replaced by their repr()s.
TRAIN_TAB_CHILD = r"""
import sys; sys.path.insert(0, ".")
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
from dataclasses import replace
from digitpad.train.tab import TrainTab
app = QApplication([])
tab = TrainTab()
config = replace(tab.form.config(), arch="cnn", device=DEVICE, epochs=1, subset=2048, data_dir=DATA)
tab.form.set_config(config)
assert tab.form.config().device == DEVICE, "the form did not keep the CUDA choice"
tab.start()
loop = QEventLoop(); timer = QTimer(); timer.timeout.connect(lambda: tab.is_running or loop.quit()); timer.start(100)
QTimer.singleShot(150_000, loop.quit); loop.exec()
run = tab.session.runs[-1]
device = next(iter(run.outcome.result.model.parameters())).device if run.outcome else None
print(f"run ended {run.status.name.lower()}, model on {device}")
sys.exit(0 if device is not None and device.type == DEVICE else 1)
"""

APP_CHILD = r"""
import sys; sys.path.insert(0, ".")
from PySide6.QtCore import QEventLoop, QTimer
from digitpad.app import create_application, launch
from trainer.pendigits import load_pendigits, place_on_canvas
app = create_application([])
window = launch(device=DEVICE)
loop = QEventLoop(); timer = QTimer(); timer.timeout.connect(lambda: window.recognizer is not None and loop.quit()); timer.start(50)
QTimer.singleShot(120_000, loop.quit); loop.exec()
rec = window.recognizer
digit = load_pendigits()[0]
p = rec.predict_strokes(place_on_canvas(digit.strokes))
print(f"app recognizer on {rec.device_name}: drew a {digit.label}, read {p.digit} ({100 * p.confidence:.1f}%)")
window.close()
on_gpu = "cpu" not in rec.device_name.lower()
sys.exit(0 if on_gpu == (DEVICE != "cpu") and p.digit == digit.label else 1)
"""


def check_train_tab(data_dir: Path) -> None:
    ok, line = run_child(TRAIN_TAB_CHILD.replace("DATA", repr(str(data_dir))).replace("DEVICE", repr(DEVICE)))
    report("Train tab device choice (offscreen)", ok, line)


def check_app() -> None:
    ok, line = run_child(APP_CHILD.replace("DEVICE", repr(DEVICE)))
    report(f"app --device {DEVICE} (offscreen)", ok, line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DIGITPAD_DATA", DEFAULT_DATA)))
    parser.add_argument("--device", default="cuda", help="cuda (the check); cpu runs the same plumbing to test this script")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    if DEVICE != "cpu" and not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}, CUDA build {torch.version.cuda}): nothing to check")
        return 2
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {gpu}; checking {DEVICE}", flush=True)
    started = time.perf_counter()
    for check in (lambda: check_recognizer(args.data_dir), lambda: check_training(args.data_dir),
                  lambda: check_train_tab(args.data_dir), check_app):
        try:
            check()
        except Exception as exc:  # one broken check must not hide the others' figures
            report(getattr(check, "__name__", "check"), False, f"{type(exc).__name__}: {exc}")
    failed = sum(not ok for _, ok, _ in results)
    print(f"{len(results) - failed} passed, {failed} failed in {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

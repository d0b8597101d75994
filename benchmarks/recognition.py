"""How well do our models read digits people draw, and how fast? Prints one table (not a test).

For every checkpoint given:
  (a) MNIST test accuracy through `Recognizer.predict_batch`, with one view ("MNIST") and with the five
      shifted views pictures get ("MNIST x5", `digitpad.recognizer.Views`);
  (b) accuracy on pen digits of the held-out writers (`trainer.pendigits.HELDOUT_WRITERS`), each placed
      on a 400-px canvas at a random size (35-80% of the height) and position, through `predict_strokes`
      of the image model alone ("pen"), and combined with the trajectory model ("+ penseq", when there is one);
  (c) the same drawings through a naive pipeline: the whole canvas rendered with the app's default pen
      and resized to 28x28, which is what preprocessing is worth;
  latency p50/p95 of `predict_strokes` (preprocessing included) next to the bare forward pass, one image,
  one CPU thread. Then per-class accuracy and the confusion matrix of the first model on the pen digits.
With a trajectory model (`--sequence`, default assets/penseq.pt when present) two more rows: the
trajectory model alone on the pen digits, and the first model combined with it the way the bundled
recognizer reads drawings (`Recognizer.predict_strokes`, weight `SEQUENCE_WEIGHT`; images still go to
the image model alone, so its MNIST figure is the image model's), with that combination's latency.
`--weights 0,0.25,...` also prints the combined accuracy at each weight (how SEQUENCE_WEIGHT was chosen,
on the held-out writers). Several `--models` make the table of what each training option adds
(benchmarks/ablation.sh trains the short runs it compares).
Seeded: the same command prints the same accuracies.

`--final-writers` reads the final held-out group (FINAL_WRITERS) instead of HELDOUT_WRITERS: for the
one final evaluation only, never while developing or choosing.

    .venv/bin/python benchmarks/recognition.py --models assets/digitnet.pt fnn.pt cnn.pt
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout

from digitpad.recognizer import (  # noqa: E402
    SEQUENCE_WEIGHT,
    Recognizer,
    SequenceView,
    Views,
    bundled_model_path,
    bundled_sequence_path,
)
from trainer.data import read_idx  # noqa: E402
from trainer.models import count_parameters  # noqa: E402
from trainer.pendigits import (  # noqa: E402
    CANVAS_SIZE,
    FINAL_WRITERS,
    HELDOUT_WRITERS,
    default_pendigits_path,
    load_pendigits,
    random_placement,
    split_by_writer,
)

SHARED_MNIST = REPO_ROOT.parent / "shared" / "mnist"
NAIVE_PEN = 18            # px on the 400-px canvas: the app's default pen (0.045 of the paper side)
LATENCY_WARMUP = 30       # calls before timing starts
LATENCY_RUNS = 300        # timed calls of each kind


@dataclass
class Drawing:
    label: int
    strokes: list[np.ndarray]   # canvas pixels, y down, on a CANVAS_SIZE canvas


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", type=Path, default=[bundled_model_path()],
                   help="checkpoints to compare; the first one gets the per-class report (default: the bundled model)")
    p.add_argument("--data-dir", type=Path, default=SHARED_MNIST, help="MNIST IDX files (default: %(default)s)")
    p.add_argument("--pendigits", type=Path, default=None, help="UNIPEN pen-digits file (default: ../shared/pendigits)")
    p.add_argument("--pen-samples", type=int, default=0, help="held-out pen digits to use, 0 = all (default: 0)")
    p.add_argument("--mnist-samples", type=int, default=0, help="MNIST test images to use, 0 = all (default: 0)")
    p.add_argument("--latency-runs", type=int, default=LATENCY_RUNS, help="timed calls (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="placement seed (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="device for the accuracy runs (default: %(default)s)")
    p.add_argument("--sequence", type=Path, default=None,
                   help="trajectory model combined with the first model for drawings (default: the bundled "
                        "penseq.pt when present; 'none' for no such rows)")
    p.add_argument("--weights", default="",
                   help="comma-separated weights of the trajectory model to compare on the pen digits (default: none)")
    p.add_argument("--final-writers", action="store_true",
                   help="read the final held-out writers (FINAL_WRITERS) instead of HELDOUT_WRITERS: the lead's one "
                        "final evaluation only")
    args = p.parse_args(argv)
    args.writers = FINAL_WRITERS if args.final_writers else HELDOUT_WRITERS
    if args.sequence is None:
        args.sequence = bundled_sequence_path() if bundled_sequence_path().is_file() else None
    elif str(args.sequence).lower() == "none":
        args.sequence = None
    try:
        args.weights = [float(w) for w in args.weights.split(",") if w.strip()]
    except ValueError:
        p.error(f"--weights: expected numbers separated by commas, got {args.weights!r}")
    return args


def heldout_drawings(
    path: Path | None, samples: int, seed: int, writers: tuple[int, ...] = HELDOUT_WRITERS
) -> list[Drawing]:
    """The `writers`' digits, each placed once on the canvas at a seeded random size and position."""
    path = path or default_pendigits_path()
    if path is None:
        sys.exit("pen digits not found: pass --pendigits or set $DIGITPAD_PENDIGITS")
    _, heldout = split_by_writer(load_pendigits(path), heldout=writers)
    rng = np.random.default_rng(seed)
    if samples and samples < len(heldout):
        heldout = [heldout[i] for i in sorted(rng.choice(len(heldout), samples, replace=False))]
    return [Drawing(d.label, random_placement(d.strokes, rng, canvas_size=CANVAS_SIZE)) for d in heldout]


def naive_image(strokes: list[np.ndarray]) -> np.ndarray:
    """The whole canvas as a naive drawing pad sends it: rendered with the app's pen, resized to 28x28."""
    canvas = Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 0)
    draw = ImageDraw.Draw(canvas)
    r = NAIVE_PEN / 2
    for stroke in strokes:
        pts = [tuple(p) for p in np.asarray(stroke).tolist()]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=NAIVE_PEN, joint="curve")
        for x, y in pts:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = canvas.resize((28, 28), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(small, dtype=np.float32) / 255.0, 0.0, 1.0)


def percentiles_ms(fn, inputs, runs: int) -> tuple[float, float]:
    """p50 and p95 of fn(x) in milliseconds, cycling through inputs."""
    for i in range(LATENCY_WARMUP):
        fn(inputs[i % len(inputs)])
    times = []
    for i in range(runs):
        x = inputs[i % len(inputs)]
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    p50, p95 = np.percentile(np.array(times) * 1e3, [50, 95])
    return float(p50), float(p95)


def load_average() -> str:
    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def image_only(rec: Recognizer) -> Recognizer:
    """The recognizer's image model alone (the bundled one also reads drawings with its trajectory model)."""
    return Recognizer(rec.model, rec.checkpoint, rec.device)


def sequence_rows(args, seq: SequenceView, seq_logp: np.ndarray, images: np.ndarray, mnist_labels: np.ndarray,
                  drawings: list[Drawing], pen_labels: np.ndarray) -> np.ndarray:
    """The trajectory model alone, and the first model combined with it, as rows of the table; the combination's
    readings of the pen digits."""
    cpu = torch.device("cpu")
    first = image_only(Recognizer.load(args.models[0], device="cpu"))
    both = Recognizer(first.model, first.checkpoint, cpu, seq)
    sample = [d.strokes for d in drawings[:100]]
    s50, s95 = percentiles_ms(seq.log_probabilities, sample, args.latency_runs)
    x = torch.from_numpy(_features(seq, sample[0]))[None]

    def forward(t):
        with torch.inference_mode():
            seq.model(t)

    f50, f95 = percentiles_ms(forward, [x], args.latency_runs)
    print(f"{seq.checkpoint.name:<22} {seq.checkpoint.arch:<12} {count_parameters(seq.model):>8} {'-':>7} {'-':>8} "
          f"{(seq_logp.argmax(1) == pen_labels).mean():>7.2%} {'-':>8} {'-':>7} {s50:>9.2f} / {s95:<7.2f} "
          f"{f50:>9.2f} / {f95:<7.2f}", flush=True)
    preds = np.array([both.predict_strokes(d.strokes).digit for d in drawings])
    mnist1, mnist5 = mnist_accuracies(both, images, mnist_labels)
    s50, s95 = percentiles_ms(both.predict_strokes, sample, args.latency_runs)
    name = f"{first.name} + {seq.checkpoint.name}"
    params = count_parameters(first.model) + count_parameters(seq.model)
    print(f"{name:<22} {'w ' + format(SEQUENCE_WEIGHT, 'g'):<12} {params:>8} {mnist1:>7.2%} {mnist5:>8.2%} "
          f"{'-':>7} {(preds == pen_labels).mean():>8.2%} {'-':>7} {s50:>9.2f} / {s95:<7.2f}", flush=True)
    if args.weights:
        weight_table(first, drawings, pen_labels, seq_logp, args.weights)
    return preds


def mnist_accuracies(rec: Recognizer, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """MNIST accuracy with one view and with the five shifted views pictures get."""
    return tuple(float((rec.predict_batch(images, views).argmax(axis=1) == labels).mean())
                 for views in (Views.ONE, Views.SHIFTED))


def _features(seq: SequenceView, strokes) -> np.ndarray:
    from trainer.trajectory import trajectory_features

    return trajectory_features(strokes, seq.points)


def weight_table(first: Recognizer, drawings: list[Drawing], pen_labels: np.ndarray, seq_logp: np.ndarray,
                 weights: list[float]) -> None:
    """Combined accuracy on the pen digits at each weight of the trajectory model."""
    cnn_logp = np.log(np.stack([first.predict_strokes(d.strokes).probabilities for d in drawings]).clip(1e-300))
    print("\nweight of the trajectory model -> pen-digit accuracy of the combination")
    for w in weights:
        acc = (((1 - w) * cnn_logp + w * seq_logp).argmax(1) == pen_labels).mean()
        print(f"  {w:>5.2f}: {acc:.2%}")


def latency(path: Path, drawings: list[Drawing], runs: int) -> tuple[float, float, float, float]:
    """(strokes p50, p95, forward p50, p95) in ms on one CPU thread, the image model alone."""
    rec = image_only(Recognizer.load(path, device="cpu"))
    sample = [d.strokes for d in drawings[:100]]
    s50, s95 = percentiles_ms(rec.predict_strokes, sample, runs)
    norm = rec.checkpoint.normalization
    x = ((torch.from_numpy(rec.predict_strokes(sample[0]).image) - norm["mean"]) / norm["std"]).view(1, 1, 28, 28)

    def forward(t):
        with torch.inference_mode():
            rec.model(t)

    f50, f95 = percentiles_ms(forward, [x], runs)
    return s50, s95, f50, f95


def confusion(labels: np.ndarray, preds: np.ndarray) -> np.ndarray:
    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (labels, preds), 1)
    return cm


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    images = read_idx(args.data_dir / "t10k-images-idx3-ubyte.gz")
    mnist_labels = read_idx(args.data_dir / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if args.mnist_samples:
        images, mnist_labels = images[: args.mnist_samples], mnist_labels[: args.mnist_samples]
    drawings = heldout_drawings(args.pendigits, args.pen_samples, args.seed, args.writers)
    pen_labels = np.array([d.label for d in drawings])
    naive = np.stack([naive_image(d.strokes) for d in drawings])

    torch.set_num_threads(1)  # one image, one core: what the canvas asks of the app
    print(f"MNIST test: {len(images)} images; held-out pen digits: {len(drawings)} "
          f"(writers {', '.join(map(str, args.writers))}), "
          f"seed {args.seed}; latency: {args.latency_runs} calls, 1 CPU thread, {load_average()}\n")
    header = (f"{'model':<22} {'arch':<12} {'params':>8} {'MNIST':>7} {'MNIST x5':>8} {'pen':>7} {'+ penseq':>8} "
              f"{'naive':>7} {'strokes p50/p95 ms':>19} {'forward p50/p95 ms':>19}")
    print(header)
    print("-" * len(header))
    seq = None if args.sequence is None else SequenceView.load(args.sequence, torch.device("cpu"))
    seq_logp = None if seq is None else np.stack([seq.log_probabilities(d.strokes) for d in drawings])
    first_preds = None
    for path in args.models:
        rec = image_only(Recognizer.load(path, device=args.device))
        mnist1, mnist5 = mnist_accuracies(rec, images, mnist_labels)
        cnn_logp = np.log(np.stack([rec.predict_strokes(d.strokes).probabilities for d in drawings]).clip(1e-300))
        preds = cnn_logp.argmax(1)
        combined = "-" if seq_logp is None else \
            format((((1 - SEQUENCE_WEIGHT) * cnn_logp + SEQUENCE_WEIGHT * seq_logp).argmax(1) == pen_labels).mean(), ".2%")
        naive_preds = np.array([rec.predict_mnist_image(img, Views.ONE).digit for img in naive])
        first_preds = preds if first_preds is None else first_preds
        s50, s95, f50, f95 = latency(path, drawings, args.latency_runs)
        print(f"{rec.name:<22} {rec.arch:<12} {count_parameters(rec.model):>8} {mnist1:>7.2%} {mnist5:>8.2%} "
              f"{(preds == pen_labels).mean():>7.2%} {combined:>8} {(naive_preds == pen_labels).mean():>7.2%} "
              f"{s50:>9.2f} / {s95:<7.2f} {f50:>9.2f} / {f95:<7.2f}", flush=True)
    combined = None if seq is None else sequence_rows(args, seq, seq_logp, images, mnist_labels, drawings, pen_labels)

    print_confusion(args.models[0].name, pen_labels, first_preds)
    if combined is not None:
        print_confusion(f"{args.models[0].name} + {args.sequence.name}", pen_labels, combined)
    return 0


def print_confusion(name: str, labels: np.ndarray, preds: np.ndarray) -> None:
    cm = confusion(labels, preds)
    print(f"\nPen digits through predict_strokes, {name}: per-class accuracy")
    print("  " + "  ".join(f"{d}: {cm[d, d] / max(cm[d].sum(), 1):.1%}" for d in range(10)))
    print("Confusion matrix (rows: true digit, columns: read as)")
    print("      " + "".join(f"{d:>5}" for d in range(10)))
    for d in range(10):
        print(f"  {d}:  " + "".join(f"{n:>5}" for n in cm[d]))


if __name__ == "__main__":
    sys.exit(main())

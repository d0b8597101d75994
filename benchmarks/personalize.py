"""How well does `Recognizer.personalized` learn one person's handwriting, and how fast? Prints one table.

Every figure uses the pen digits of the writers the bundled model never saw (trainer.pendigits.HELDOUT_WRITERS),
one writer at a time, each digit placed on the 400-unit paper at a seeded random size and position, and read
as the app reads a drawing (`predict_strokes`: the image model and the pen-path view together):

  teach:    3 examples of each digit (30) drawn at random -> accuracy on the rest of that writer's digits,
            before (base model) and after; repeated for --seeds draws;
  correct:  the writer's digits in a random order; each one is read by the current model, every misread is
            corrected (stored with its true label) and the model re-personalized at once -> accuracy over the
            second half of the order, against the base model on the same half;
  MNIST:    test accuracy (image model: pictures never see the pen-path view) of every personalized model
            above, computed from its head on cached features; one model is also checked through predict_batch;
  speed:    seconds for personalized() on 30 and on 300 new examples (features not cached), one CPU thread;
            p50/p95 of predict_strokes of the base and a personalized model, timed alternately on the same drawings.

--replay hides replay sources from personalized(), as on a machine without them: "pen" (no MNIST), "none"
(no MNIST, no pen digits: an installed app offline). MNIST test images are still read for the MNIST figure.

Note: these held-out writers were also used to choose the method and its settings (digitpad/personal/adapt.py),
so the figures are somewhat optimistic for a new person.

    .venv/bin/python benchmarks/personalize.py [--seeds 3] [--replay all|pen|none] [--data-dir ../shared/mnist]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout

from digitpad.personal import adapt  # noqa: E402
from digitpad.recognizer import SEQUENCE_WEIGHT, Recognizer  # noqa: E402
from trainer.data import read_idx  # noqa: E402
from trainer.pendigits import HELDOUT_WRITERS, default_pendigits_path, load_pendigits, random_placement  # noqa: E402
from trainer.preprocess import strokes_to_mnist  # noqa: E402
from trainer.trajectory import trajectory_features  # noqa: E402

SHARED_MNIST = REPO_ROOT.parent / "shared" / "mnist"
TARGETS = {
    "teach_mean": 99.5, "teach_worst": 97.0, "correct_mean": 99.3, "mnist_drop": 0.5,
    "time_30": 2.0, "time_300": 10.0, "p95_ms": 10.0,
}
LATENCY_RUNS = 300   # per model
LATENCY_WARMUP = 30  # calls of each model before timing
CHECKED_READINGS = 40  # drawings on which the batched reading is checked against predict_strokes


class Writer:
    """One held-out writer's digits as drawn (strokes on the paper) and as the models see them."""

    def __init__(self, digits, rng: np.random.Generator) -> None:
        self.labels = np.array([d.label for d in digits])
        self.strokes = [random_placement(d.strokes, rng) for d in digits]
        self.images = np.stack([strokes_to_mnist(s) for s in self.strokes])
        self.paths = np.stack([trajectory_features(s) for s in self.strokes])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="draws of the 30 taught digits per writer (default: 3)")
    p.add_argument("--data-dir", type=Path, default=SHARED_MNIST, help="MNIST IDX files (default: %(default)s)")
    p.add_argument("--pendigits", type=Path, default=None, help="UNIPEN file (default: ../shared/pendigits)")
    p.add_argument("--replay", choices=("all", "pen", "none"), default="all",
                   help="replay sources personalized() may use (default: all it finds)")
    p.add_argument("--latency-only", action="store_true",
                   help="only time predict_strokes of the base and of one personalized model (a few seconds)")
    return p.parse_args(argv)


def readings(rec: Recognizer, writer: Writer, index: np.ndarray) -> np.ndarray:
    """What predict_strokes reads in the writer's drawings `index`, computed in two batches (checked in main)."""
    x = torch.from_numpy(writer.images[index]).unsqueeze(1)
    with torch.inference_mode():
        mixed = torch.log_softmax(rec.model((x - rec._mean) / rec._std).double(), dim=1)
        if rec.sequence is not None:
            path = torch.log_softmax(rec.sequence.model(torch.from_numpy(writer.paths[index])).double(), dim=1)
            mixed = (1 - SEQUENCE_WEIGHT) * mixed + SEQUENCE_WEIGHT * path
    return mixed.argmax(1).numpy()


def accuracy(rec: Recognizer, writer: Writer, index: np.ndarray) -> float:
    return float((readings(rec, writer, index) == writer.labels[index]).mean() * 100)


def mnist_accuracy(rec: Recognizer, images: np.ndarray, labels: np.ndarray) -> float:
    return float((rec.predict_batch(images).argmax(1) == labels).mean() * 100)


def head_accuracy(rec: Recognizer, feats: torch.Tensor, labels: torch.Tensor) -> float:
    head = adapt.head_of(rec.model)
    with torch.inference_mode():
        return float(((feats @ head.weight.T + head.bias).argmax(1) == labels).float().mean() * 100)


def teach(rec: Recognizer, writer: Writer, seed: int) -> tuple[float, float, Recognizer]:
    rng = np.random.default_rng(seed)
    taught = np.concatenate([rng.choice(np.flatnonzero(writer.labels == d), 3, replace=False) for d in range(10)])
    rest = np.setdiff1d(np.arange(len(writer.labels)), taught)
    mine = rec.personalized([(writer.strokes[i], int(writer.labels[i])) for i in taught])
    return accuracy(rec, writer, rest), accuracy(mine, writer, rest), mine


def correct(rec: Recognizer, writer: Writer, seed: int) -> tuple[float, float, int, Recognizer]:
    order = np.random.default_rng(seed).permutation(len(writer.labels))
    current, corrections, right = rec, [], []
    for i in order:
        said = current.predict_strokes(writer.strokes[i]).digit
        right.append(said == writer.labels[i])
        if said != writer.labels[i]:
            corrections.append((writer.strokes[i], int(writer.labels[i])))
            current = rec.personalized(corrections)
    half = order[len(order) // 2 :]
    return accuracy(rec, writer, half), float(np.mean(right[len(order) // 2 :]) * 100), len(corrections), current


def speed(rec: Recognizer, writers: list[Writer], count: int, repeats: int = 3) -> list[float]:
    """Seconds of personalized() on `count` examples never seen before (a fresh jitter makes them new)."""
    pool = [(s, int(label)) for w in writers for s, label in zip(w.strokes, w.labels, strict=True)]
    times = []
    for r in range(repeats):
        rng = np.random.default_rng(1000 + r)
        chosen = rng.choice(len(pool), count, replace=False)
        examples = [([st + rng.normal(0, 0.01, st.shape) for st in pool[i][0]], pool[i][1]) for i in chosen]
        start = time.perf_counter()
        rec.personalized(examples)
        times.append(time.perf_counter() - start)
    return times


def latency_ms(models: list[Recognizer], strokes: list) -> list[tuple[float, float]]:
    """(p50, p95) ms of predict_strokes for each model, all warmed up first, then timed in turn on each drawing,
    so that the machine's load and the caches weigh on every model alike."""
    for s in strokes[:LATENCY_WARMUP]:
        for rec in models:
            rec.predict_strokes(s)
    times: list[list[float]] = [[] for _ in models]
    for i in range(LATENCY_RUNS):
        for rec, spent in zip(models, times, strict=True):
            start = time.perf_counter()
            rec.predict_strokes(strokes[i % len(strokes)])
            spent.append((time.perf_counter() - start) * 1e3)
    return [(float(np.percentile(t, 50)), float(np.percentile(t, 95))) for t in times]


def check_readings(rec: Recognizer, writer: Writer) -> None:
    """The batched reading the figures use is what predict_strokes reads."""
    index = np.arange(min(CHECKED_READINGS, len(writer.labels)))
    one_by_one = [rec.predict_strokes(writer.strokes[i]).digit for i in index]
    if list(readings(rec, writer, index)) != one_by_one:
        sys.exit("the batched reading differs from predict_strokes: fix readings()")


def latency_rows(base: tuple[float, float], mine: tuple[float, float]) -> None:
    row("personalized predict_strokes p50 / p95", f"{mine[0]:.2f} / {mine[1]:.2f} ms", f"p95 <= {TARGETS['p95_ms']} ms",
        mine[1] <= TARGETS["p95_ms"])
    row("base model predict_strokes p50 / p95 (timed alternately)", f"{base[0]:.2f} / {base[1]:.2f} ms", "", None)


def row(name: str, value: str, target: str, ok: bool | None) -> None:
    print(f"| {name} | {value} | {target} | {'' if ok is None else ('met' if ok else 'MISSED')} |")


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    print(f"load at start: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs; torch threads 1")
    rec = Recognizer.load(device="cpu")
    path = args.pendigits or default_pendigits_path()
    if path is None:
        sys.exit("pen digits not found: pass --pendigits or set $DIGITPAD_PENDIGITS")
    digits = load_pendigits(path)
    rng = np.random.default_rng(0)
    writers = {w: Writer([d for d in digits if d.writer == w], rng) for w in HELDOUT_WRITERS}
    start = time.perf_counter()
    mnist_dir, pen_path = adapt.replay_sources()
    sources = {"all": (mnist_dir, pen_path), "pen": (None, pen_path), "none": (None, None)}[args.replay]
    personalizer = adapt.personalizer_for(rec, sources)  # the one-time replay features
    sizes = [len(r.labels) if r is not None else 0 for r in (personalizer.replay, personalizer.sequence_replay)]
    print(f"models: {rec.description}; replay ({args.replay}) built once in {time.perf_counter() - start:.1f} s: "
          f"{sizes[0]} digits for the image head, {sizes[1]} for the pen-path head")
    check_readings(rec, writers[HELDOUT_WRITERS[0]])
    all_strokes = [s for w in writers.values() for s in w.strokes]
    if args.latency_only:
        _, _, mine = teach(rec, writers[HELDOUT_WRITERS[0]], 0)
        print("\n| figure | measured | target | |\n|---|---|---|---|")
        latency_rows(*latency_ms([rec, mine], all_strokes))
        print(f"\nload at end: {os.getloadavg()[0]:.2f} (1 min)")
        return
    test_images = read_idx(args.data_dir / "t10k-images-idx3-ubyte.gz")
    test_labels = torch.from_numpy(read_idx(args.data_dir / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    test_feats = personalizer.features(test_images / 255.0)
    base_mnist = head_accuracy(rec, test_feats, test_labels)

    print("\n| writer | teach: base | teach: after (per seed) | correct: base, 2nd half | correct: after | corrections |")
    print("|---|---|---|---|---|---|")
    teach_after, drops, correct_after, models, bases = {}, [], {}, [], {"teach": [], "correct": []}
    for w, writer in writers.items():
        runs = [teach(rec, writer, seed) for seed in range(args.seeds)]
        teach_after[w] = [after for _, after, _ in runs]
        models += [m for _, _, m in runs]
        base_c, after_c, n_corr, final = correct(rec, writer, w)
        correct_after[w] = after_c
        models.append(final)
        befores = statistics.mean(b for b, _, _ in runs)
        bases["teach"].append(befores)
        bases["correct"].append(base_c)
        print(f"| {w} | {befores:.2f} | {', '.join(f'{a:.2f}' for a in teach_after[w])} | {base_c:.2f} | "
              f"{after_c:.2f} | {n_corr} |")
    drops = [base_mnist - head_accuracy(m, test_feats, test_labels) for m in models]
    teach_drops = [d for i, d in enumerate(drops) if i % (args.seeds + 1) != args.seeds]
    check_readings(models[0], writers[HELDOUT_WRITERS[0]])
    check = mnist_accuracy(models[0], test_images, test_labels.numpy())
    print(f"\nMNIST test: base {base_mnist:.2f}%; first personalized model {check:.2f}% through predict_batch "
          f"({base_mnist - head_accuracy(models[0], test_feats, test_labels):.2f} drop from cached features)")

    per_writer = [statistics.mean(v) for v in teach_after.values()]
    t30, t300 = speed(rec, list(writers.values()), 30), speed(rec, list(writers.values()), 300)
    base_latency, latency = latency_ms([rec, models[0]], all_strokes)
    print("\n| figure | measured | target | |\n|---|---|---|---|")
    row("taught writers, mean accuracy", f"{statistics.mean(per_writer):.2f}%", f">= {TARGETS['teach_mean']}%",
        statistics.mean(per_writer) >= TARGETS["teach_mean"])
    row("  the base model on the same digits", f"{statistics.mean(bases['teach']):.2f}%", "", None)
    worst = min(min(v) for v in teach_after.values())
    row("taught writers, worst writer (worst seed)", f"{worst:.2f}%", f">= {TARGETS['teach_worst']}%",
        worst >= TARGETS["teach_worst"])
    mean_c = statistics.mean(correct_after.values())
    row("correcting writers, mean accuracy (2nd half)", f"{mean_c:.2f}%", f">= {TARGETS['correct_mean']}%",
        mean_c >= TARGETS["correct_mean"])
    row("  the base model on the same halves", f"{statistics.mean(bases['correct']):.2f}%", "", None)
    row(f"MNIST drop, mean / worst of {len(drops)} models", f"{statistics.mean(drops):.2f} / {max(drops):.2f} points",
        f"<= {TARGETS['mnist_drop']}", max(drops) <= TARGETS["mnist_drop"])
    row(f"  of which the {len(teach_drops)} taught models", f"{statistics.mean(teach_drops):.2f} / "
        f"{max(teach_drops):.2f} points", "", None)
    row("personalized(), 30 examples (median, max of 3)", f"{statistics.median(t30):.2f} s, {max(t30):.2f} s",
        f"<= {TARGETS['time_30']} s", statistics.median(t30) <= TARGETS["time_30"])
    row("personalized(), 300 examples (median, max of 3)", f"{statistics.median(t300):.2f} s, {max(t300):.2f} s",
        f"<= {TARGETS['time_300']} s", statistics.median(t300) <= TARGETS["time_300"])
    latency_rows(base_latency, latency)
    print(f"\nload at end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()

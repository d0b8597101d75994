"""How well does `predict_number` split and read numbers written by people it never saw? Prints tables.

Numbers are composed from real pen digits of the HELD-OUT writers (trainer.pendigits.HELDOUT_WRITERS):
one writer per number, 2, 3, 4 and 6 digits at a common height +-8% on a wobbly baseline, in paper units
(digitpad.numbers.compose). Three spacings: spaced (gaps 8-45% of the digit height), tight (-5% to 15%),
and joined (gaps -5% to 30%, some adjacent digits joined by the pen into one stroke: compose.join_pairs).
For each judge (with the "one digit" model, and the size prior alone):
  segmentation: each digit's ink is exactly its strokes; where two digits are joined, the cut lies on
  the connecting segment (one point either way allowed: ComposedNumber.spans);
  string: the text is right, beside "alone": every digit of the number is right when read by itself
  (predict_strokes), the product of the single-digit accuracies for exactly these digits;
  single digits kept whole: every held-out pen digit through predict_number gives one digit;
  pictures: predict_image_number on pictures of two digits whose ink touches, and of single digits;
  latency p50/p95 of predict_number on 4-digit numbers, one CPU thread.
Seeded: the same command prints the same accuracies.

    .venv/bin/python benchmarks/number_reading.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout

from digitpad.numbers.compose import JOINED, SPACED, TIGHT, random_numbers  # noqa: E402
from digitpad.numbers.onedigit import load_onedigit  # noqa: E402
from digitpad.numbers.segment import OneDigitJudge, PriorJudge  # noqa: E402
from digitpad.numbers.strokes import CUT_STROKES, read_strokes  # noqa: E402
from digitpad.recognizer import Recognizer  # noqa: E402
from trainer.pendigits import FINAL_WRITERS, load_pendigits, split_by_writer  # noqa: E402

LENGTHS = (2, 3, 4, 6)
SPACINGS = {"spaced": (SPACED, False), "tight": (TIGHT, False), "joined": (JOINED, True)}  # (gaps, joined)
LATENCY_WARMUP = 20
LATENCY_RUNS = 300


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--numbers", type=int, default=500, help="numbers per length and spacing (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    p.add_argument("--onedigit", type=Path, default=None, help="'one digit' model (default: assets/onedigit.json)")
    p.add_argument("--writers", choices=("heldout", "train", "final"), default="heldout",
                   help="whose digits to compose: held-out validation writers (the measure), training writers "
                        "(tuning) or the final writers (FINAL_WRITERS: the one final evaluation only, never "
                        "while choosing)")
    p.add_argument("--pendigits", type=Path, default=None, help="UNIPEN file (default: ../shared/pendigits)")
    p.add_argument("--latency-only", action="store_true", help="measure the latency table only")
    p.add_argument("--single-only", action="store_true", help="measure the single-digit table only")
    p.add_argument("--pictures-only", action="store_true", help="measure the pictures table only")
    p.add_argument("--cuts", dest="cut", action="store_true", default=None,
                   help="cut strokes where digits are joined (default: strokes.CUT_STROKES, on)")
    p.add_argument("--no-cuts", dest="cut", action="store_false", help="never cut a stroke")
    p.add_argument("--spacings", nargs="+", choices=tuple(SPACINGS), default=list(SPACINGS), help="(default: all)")
    p.add_argument("--judge", choices=("both", "onedigit", "prior"), default="both",
                   help="which judges to measure (default: %(default)s)")
    p.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS), help="digits per number (default: 2 3 4 6)")
    return p.parse_args(argv)


def judges(path: Path | None, which: str = "both") -> dict:
    model = load_onedigit(None if path is None else str(path))
    out = {} if model is None or which == "prior" else {"one-digit model": OneDigitJudge(model)}
    return out if which == "onedigit" else {**out, "size prior only": PriorJudge()}


def alone_correct(rec: Recognizer, number) -> bool:
    """Every digit of the number read right by itself (predict_strokes on its own strokes)."""
    return all(rec.predict_strokes(number.ink(k)).digit == label for k, label in enumerate(number.labels))


def segmented(reading, number) -> bool:
    """Each digit's ink exactly (ComposedNumber.matches), left to right."""
    return len(reading.parts) == len(number.groups) and all(
        number.matches(k, parts) for k, parts in enumerate(reading.parts))


def accuracy_table(rec: Recognizer, digits, rng: np.random.Generator, count: int, judge_map: dict,
                   lengths: tuple[int, ...] = LENGTHS, spacings: tuple[str, ...] = tuple(SPACINGS),
                   cut: bool | None = None) -> None:
    print("| spacing | digits | numbers | judge | segmentation | string | digits read alone |")
    print("|---|---|---|---|---|---|---|")
    for spacing in spacings:
        gaps, join = SPACINGS[spacing]
        for length in lengths:
            numbers = random_numbers(digits, rng, count, length, gaps, join=join)
            alone = np.mean([alone_correct(rec, n) for n in numbers])
            for name, judge in judge_map.items():
                readings = [read_strokes(rec, n.strokes, judge, cut) for n in numbers]
                seg = np.mean([segmented(r, n) for r, n in zip(readings, numbers, strict=True)])
                text = np.mean([r.text == n.text for r, n in zip(readings, numbers, strict=True)])
                print(f"| {spacing} | {length} | {count} | {name} | {seg:.2%} | {text:.2%} | {alone:.2%} |", flush=True)


def single_digit_table(rec: Recognizer, digits, judge_map: dict, cut: bool | None = None) -> None:
    multi = [d for d in digits if len(d.strokes) > 1]
    print("\n| judge | single digits kept whole | of them multi-stroke | read right |")
    print("|---|---|---|---|")
    for name, judge in judge_map.items():
        readings = [read_strokes(rec, d.strokes, judge, cut) for d in digits]
        whole = np.mean([len(r) == 1 for r in readings])
        whole_multi = np.mean([len(r) == 1 for r, d in zip(readings, digits, strict=True) if len(d.strokes) > 1])
        right = np.mean([r.text == str(d.label) for r, d in zip(readings, digits, strict=True)])
        print(f"| {name} | {whole:.2%} of {len(digits)} | {whole_multi:.2%} of {len(multi)} | {right:.2%} |", flush=True)


PICTURE_PAIRS = 100     # pictures of two digits whose ink touches (one connected component)
PICTURE_SINGLES = 200  # pictures of one digit
PICTURE_PEN = 14        # pen width of the pictures, pixels (digits 80-240 px tall on a 1200 x 400 picture)


def picture_table(rec: Recognizer, digits, rng: np.random.Generator, judge_map: dict) -> None:
    """read_image (predict_image_number) on pictures drawn from the pen digits: two digits whose ink
    touches, and single digits, for each judge."""
    from PIL import Image, ImageDraw

    from digitpad.numbers.compose import by_writer, compose_number
    from digitpad.numbers.images import ink_components, read_image

    def picture(strokes) -> np.ndarray:
        img = Image.new("L", (1200, 400), 255)
        pen = ImageDraw.Draw(img)
        for stroke in strokes:
            pen.line([tuple(p) for p in stroke.tolist()], fill=0, width=PICTURE_PEN, joint="curve")
        return np.asarray(img)

    writers = by_writer(digits)
    pairs = []
    while len(pairs) < PICTURE_PAIRS:
        own = writers[sorted(writers)[rng.integers(len(writers))]]
        number = compose_number([own[i] for i in rng.integers(len(own), size=2)], rng, gaps=(-0.06, -0.01))
        pic = picture(number.strokes)
        if len(ink_components(pic)[2]) == 1:  # only pictures whose two digits' ink touches
            pairs.append((pic, number.text))
    singles = [picture(compose_number([digits[i]], rng).strokes)
               for i in rng.choice(len(digits), PICTURE_SINGLES, replace=False)]
    print("\n| judge | pictures of two digits whose ink touches, read right | single digits kept whole |")
    print("|---|---|---|")
    for name, judge in judge_map.items():
        right = np.mean([read_image(rec, pic, judge).text == text for pic, text in pairs])
        whole = np.mean([len(read_image(rec, pic, judge)) == 1 for pic in singles])
        print(f"| {name} | {right:.1%} of {len(pairs)} | {whole:.1%} of {len(singles)} |", flush=True)


def latency_table(rec: Recognizer, digits, rng: np.random.Generator, judge_map: dict, cut: bool | None = None) -> None:
    numbers = random_numbers(digits, rng, LATENCY_RUNS, 4, TIGHT)
    print("\n| judge | 4-digit number p50 | p95 | strokes per number (mean) |")
    print("|---|---|---|---|")
    for name, judge in judge_map.items():
        for n in numbers[:LATENCY_WARMUP]:
            read_strokes(rec, n.strokes, judge, cut)
        times = []
        for n in numbers:
            start = time.perf_counter()
            read_strokes(rec, n.strokes, judge, cut)
            times.append((time.perf_counter() - start) * 1000)
        strokes = np.mean([len(n.strokes) for n in numbers])
        print(f"| {name} | {np.percentile(times, 50):.1f} ms | {np.percentile(times, 95):.1f} ms | {strokes:.1f} |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    pendigits = load_pendigits(args.pendigits)
    train, heldout = split_by_writer(pendigits)
    final = split_by_writer(pendigits, heldout=FINAL_WRITERS, reserved=())[1]
    digits = {"heldout": heldout, "train": train, "final": final}[args.writers]
    rec = Recognizer.load(device="cpu")
    judge_map = judges(args.onedigit, args.judge)
    print(f"{args.writers} writers' pen digits ({len(digits)}), model {rec.name}, torch threads 1, "
          f"load average {os.getloadavg()[0]:.2f} (cores {os.cpu_count()}), cuts {'on' if (CUT_STROKES if args.cut is None else args.cut) else 'off'}\n")
    rng = np.random.default_rng(args.seed)
    if args.pictures_only:
        picture_table(rec, digits, rng, judge_map)
        return 0
    if not args.latency_only:
        if not args.single_only:
            accuracy_table(rec, digits, rng, args.numbers, judge_map, tuple(args.lengths), tuple(args.spacings),
                           args.cut)
        single_digit_table(rec, digits, judge_map, args.cut)
        if not args.single_only:
            picture_table(rec, digits, rng, judge_map)
    if not args.single_only:
        latency_table(rec, digits, rng, judge_map, args.cut)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

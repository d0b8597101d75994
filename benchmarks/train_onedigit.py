"""Train the "one digit" model (assets/onedigit.json) on numbers composed from TRAINING writers' pen digits.

Every candidate of every composed number (runs of consecutive strokes and stroke parts, as `predict_number`
sees them, cut proposals included) is read by the bundled ten-class model; the label says whether the
candidate is exactly one digit's ink. A third of the numbers have digits joined by the pen (compose.join_pairs).
Rows from single digits weigh SINGLE_WEIGHT: breaking a single digit apart is the costly mistake.
A 2-layer perceptron learns that from the classifier's probabilities and the candidate's geometry.
Held-out writers (trainer.pendigits.HELDOUT_WRITERS) are never read here. Seeded: the same command
writes the same file (on the same machine and torch version).

    .venv/bin/python benchmarks/train_onedigit.py --out assets/onedigit.json
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

from digitpad.numbers.compose import JOINED, SPACED, TIGHT, random_numbers  # noqa: E402
from digitpad.numbers.onedigit import FEATURES, OneDigitModel, feature_matrix  # noqa: E402
from digitpad.numbers.strokes import StrokePieces  # noqa: E402
from digitpad.recognizer import Recognizer  # noqa: E402
from trainer.pendigits import load_pendigits, split_by_writer  # noqa: E402

LENGTHS = (1, 2, 3, 4, 6)   # digits per composed number; single digits teach "keep a 2-stroke 4 whole"
WIDE_GAPS = (-0.10, 0.60)   # a third spacing, wider than both benchmark ones on each side
SINGLE_WEIGHT = 3.0         # weight of the rows from single digits (numbers of length 1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "onedigit.json", help="(default: %(default)s)")
    p.add_argument("--numbers", type=int, default=1200, help="numbers per length and spacing (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=600, help="full-batch Adam steps (default: %(default)s)")
    p.add_argument("--distorted", type=float, default=0.5,
                   help="share of the numbers whose digits are reshaped (compose.distorted) (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="(default: %(default)s)")
    p.add_argument("--pendigits", type=Path, default=None, help="UNIPEN file (default: ../shared/pendigits)")
    return p.parse_args(argv)


def build_rows(rec: Recognizer, numbers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, weights) of every candidate of every number: label 1 = exactly one digit's ink."""
    feats, labels, weights = [], [], []
    for number in numbers:
        pieces = StrokePieces.of(number.strokes)
        table = pieces.table(rec)
        feats.append(feature_matrix(table.geometry, table.probs))
        labels += [any(number.matches(k, pieces.merged_parts(c)) for k in range(len(number.groups)))
                   for c in table.candidates]
        weights += [SINGLE_WEIGHT if len(number.groups) == 1 else 1.0] * len(table.candidates)
    return np.concatenate(feats), np.array(labels, dtype=np.float64), np.array(weights)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, hidden: int, epochs: int, seed: int) -> OneDigitModel:
    """Full-batch Adam on the logistic loss, inputs standardized; weight decay keeps the net smooth."""
    torch.manual_seed(seed)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xt = torch.tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)
    wt = torch.tensor(w / w.mean(), dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=1e-4)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt).squeeze(1), yt, weight=wt)
        loss.backward()
        opt.step()
    w1, b1 = (t.detach().double().numpy() for t in (net[0].weight.T, net[0].bias))
    w2, b2 = net[2].weight[0].detach().double().numpy(), float(net[2].bias.detach()[0])
    info = {"final_loss": round(float(loss.detach()), 5), "rows": int(len(y)), "positives": int(y.sum())}
    return OneDigitModel(mean, std, w1, b1, w2, b2, info)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    train, _ = split_by_writer(load_pendigits(args.pendigits))  # held-out writers dropped here
    rec = Recognizer.load(device="cpu")
    start = time.perf_counter()
    reshaped = round(args.numbers * args.distorted)
    numbers = [n for gaps, join in ((SPACED, False), (TIGHT, False), (WIDE_GAPS, False), (JOINED, True))
               for length in LENGTHS
               for n in random_numbers(train, rng, args.numbers - reshaped, length, gaps, join=join)
               + random_numbers(train, rng, reshaped, length, gaps, distort=True, join=join)]
    x, y, w = build_rows(rec, numbers)
    print(f"{len(numbers)} numbers, {len(y)} candidates ({int(y.sum())} whole digits) in "
          f"{time.perf_counter() - start:.0f} s; {len(FEATURES)} features")
    model = fit(x, y, w, args.hidden, args.epochs, args.seed)
    model.info.update({"command": "benchmarks/train_onedigit.py " + " ".join(argv or sys.argv[1:]),
                       "writers": "training writers only (trainer.pendigits.split_by_writer)"})
    model.save(args.out)
    print(f"final training loss {model.info['final_loss']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Is stroke augmentation a bottleneck? Pen digits augmented and rendered per second vs digitnet's training rate.

Prints figures; it is not a test. On the training writers' pen digits (trainer.pendigits, held-out
writers never read), one core:
1. rendering alone (trainer.pendigits.render_split: random placement + trainer.preprocess.strokes_to_mnist);
2. stroke augmentation alone (trainer.strokeaug.augment_strokes);
3. both, as `--stroke-augment` does for each render copy;
4. the styled drawings of `--styles all` (trainer.styles.styled_variants) for one copy;
5. training steps of the bundled architecture (digitnet, deep_convs=2) on batches of --batch-size:
   forward, backward, AdamW step, channels_last as trainer.train does on the CPU.
Then how the pen digits' preparation compares with the training it feeds.

With --finetune, instead: short fine-tunes of the bundled model (1 epoch, AdamW lr 3e-4, 10,000 MNIST
training images + 2 render copies of the training writers' pen digits, --augment), one per VARIANT:SEED
(base = no new option, aug = --stroke-augment, aug+STYLES = also --styles STYLES), each scored on the
MNIST test set, on the held-out writers placed as benchmarks/recognition.py places them (seed 0), and on
the held-out writers' digits redrawn in each style by trainer.styles (synthetic: the same synthesizers
made the training styles). About 70-80 s a variant on one core of this machine.

With --score, instead: the same held-out and styled sets read by each checkpoint given (its image model
alone, as `predict_strokes` reads a drawing), e.g. the runs of benchmarks/ablation.sh: what each style adds
for people who write that way, beside what the option costs on MNIST (benchmarks/recognition.py).

    .venv/bin/python benchmarks/stroke_augment.py             # 2000 digits, 30 training steps
    .venv/bin/python benchmarks/stroke_augment.py --digits 500 --steps 10
    .venv/bin/python benchmarks/stroke_augment.py --finetune base:1 aug:1 aug+all:1
    .venv/bin/python benchmarks/stroke_augment.py --score ablation/base.pt ablation/styles.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from trainer.models import create_model  # noqa: E402
from trainer.pendigits import load_pendigits, render_split, split_by_writer  # noqa: E402
from trainer.strokeaug import augment_strokes  # noqa: E402
from trainer.styles import STYLES, styled_variants  # noqa: E402

BUNDLED_ARCH = ("digitnet", {"deep_convs": 2})  # assets/MODEL_CARD.md
WARMUP_STEPS = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pendigits", type=Path, default=None, help="UNIPEN file (default: ../shared/pendigits)")
    p.add_argument("--digits", type=int, default=2000, help="training-writer digits to time (default: %(default)s)")
    p.add_argument("--steps", type=int, default=30, help="timed training steps (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=128, help="training batch size (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for the training steps (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    p.add_argument("--finetune", nargs="+", metavar="VARIANT:SEED", help="fine-tune comparisons instead (see above)")
    p.add_argument("--score", nargs="+", type=Path, metavar="MODEL", help="score these checkpoints instead (see above)")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "mnist", help="MNIST (default: %(default)s)")
    return p.parse_args(argv)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def training_rate(batch_size: int, steps: int, seed: int) -> float:
    """Samples per second of digitnet training steps on the CPU (random images: the rate does not depend on them)."""
    torch.manual_seed(seed)
    model = create_model(BUNDLED_ARCH[0], **BUNDLED_ARCH[1]).to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    images = torch.randn(batch_size, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch_size,))

    def step() -> None:
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP_STEPS):
        step()
    seconds, _ = timed(lambda: [step() for _ in range(steps)])
    return steps * batch_size / seconds


def finetune_options(variant: str) -> dict:
    """TrainConfig options of a VARIANT: base, aug, aug+STYLES."""
    if variant == "base":
        return {}
    head, _, styles = variant.partition("+")
    if head != "aug":
        raise SystemExit(f"unknown variant {variant!r}: base, aug or aug+STYLES")
    return {"stroke_augment": True, "styles": styles or "none"}


def heldout_sets(pendigits: Path | None) -> tuple[list, dict[str, list]]:
    """The held-out writers' digits placed as benchmarks/recognition.py places them, and redrawn in each style."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from recognition import heldout_drawings

    from trainer.pendigits import random_placement

    drawings = [(d.label, d.strokes) for d in heldout_drawings(pendigits, 0, 0)]
    _, heldout = split_by_writer(load_pendigits(pendigits))
    styled: dict[str, list] = {}
    for name, style in STYLES.items():
        rng = np.random.default_rng(10)
        made = [style.make(d.strokes, rng) for d in heldout if d.label == style.label]
        styled[name] = [(style.label, random_placement(m, rng)) for m in made if m is not None]
    return drawings, styled


def accuracy(rec, items) -> str:
    return f"{np.mean([rec.predict_strokes(s).digit == k for k, s in items]):.2%}" if items else "-"


def print_sets_header(first: str, drawings: list, styled: dict[str, list]) -> None:
    print(f"{first:<18} {'seed':>4} {'train':>6} {'s':>5} {'MNIST':>7} {'pen':>7}  "
          + " ".join(f"{n:>9}" for n in STYLES))
    print(f"{'(held-out digits)':<18} {'':>4} {'':>6} {'':>5} {10000:>7} {len(drawings):>7}  "
          + " ".join(f"{len(v):>9}" for v in styled.values()))


def score(args: argparse.Namespace) -> int:
    """Each checkpoint's image model on the held-out and styled held-out pen digits."""
    from digitpad.recognizer import Recognizer

    drawings, styled = heldout_sets(args.pendigits)
    print_sets_header("model", drawings, styled)
    for path in args.score:
        loaded = Recognizer.load(path, device="cpu")
        rec = Recognizer(loaded.model, loaded.checkpoint, loaded.device)  # the image model alone
        print(f"{path.stem:<18} {'':>4} {'':>6} {'':>5} {'':>7} {accuracy(rec, drawings):>7}  "
              + " ".join(f"{accuracy(rec, v):>9}" for v in styled.values()), flush=True)
    return 0


def finetune(args: argparse.Namespace) -> int:
    """Short fine-tunes of the bundled model, one per VARIANT:SEED, scored on MNIST, held-out and styled pen digits."""
    from digitpad.recognizer import Recognizer, bundled_model_path
    from trainer.checkpoint import load_model
    from trainer.data import load_mnist
    from trainer.train import TrainConfig, train

    drawings, styled = heldout_sets(args.pendigits)
    print_sets_header("variant", drawings, styled)
    bundled = Recognizer.load(device="cpu")
    print(f"{'bundled':<18} {'':>4} {'':>6} {'':>5} {'':>7} {accuracy(bundled, drawings):>7}  "
          + " ".join(f"{accuracy(bundled, v):>9}" for v in styled.values()), flush=True)
    for spec in args.finetune:
        variant, _, seed_text = spec.partition(":")
        seed = int(seed_text or 1)
        model, ckpt = load_model(bundled_model_path(), device="cpu")
        config = TrainConfig(arch=ckpt.arch, model_args=dict(ckpt.model_args), optimizer="adamw", lr=3e-4,
                             weight_decay=0.01, epochs=1, seed=seed, augment=True, pen_digits=True, pen_copies=2,
                             device="cpu", **finetune_options(variant))
        data = load_mnist(args.data_dir, subset=10000, seed=seed)
        start = time.perf_counter()
        result = train(config, data=data, model=model)  # pen digits rendered in here, so timed too
        seconds = time.perf_counter() - start
        rec = Recognizer.from_checkpoint(result.to_checkpoint(), device="cpu")
        print(f"{variant:<18} {seed:>4} {result.n_train:>6} {seconds:>5.0f} {result.evaluation.accuracy:>7.2%} "
              f"{accuracy(rec, drawings):>7}  " + " ".join(f"{accuracy(rec, v):>9}" for v in styled.values()), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.finetune:
        return finetune(args)
    if args.score:
        return score(args)
    train, _heldout = split_by_writer(load_pendigits(args.pendigits))
    rng = np.random.default_rng(args.seed)
    digits = [train[i] for i in sorted(rng.choice(len(train), min(args.digits, len(train)), replace=False))]
    n = len(digits)
    points = sum(len(s) for d in digits for s in d.strokes) / n
    render_s, _ = timed(lambda: render_split(digits, np.random.default_rng(1)))
    augment_s, _ = timed(lambda: [augment_strokes(d.strokes, rng) for d in digits])
    both_s, _ = timed(lambda: render_split(digits, np.random.default_rng(1), transform=augment_strokes))
    styles_s, extras = timed(lambda: styled_variants(train, tuple(STYLES), np.random.default_rng(2)))
    rate = training_rate(args.batch_size, args.steps, args.seed)

    print(f"{n} training-writer pen digits ({points:.0f} points each on average), 1 core for the strokes, "
          f"{args.threads} torch thread(s) for training\n")
    print(f"{'what':<46} {'per digit ms':>12} {'digits/s':>10}")
    for what, seconds in (("render (placement + strokes_to_mnist)", render_s),
                          ("stroke augmentation alone", augment_s),
                          ("stroke augmentation + render", both_s)):
        print(f"{what:<46} {seconds / n * 1e3:12.3f} {n / seconds:10.0f}")
    print(f"{'styles all: styled drawings of ' + str(len(train)) + ' digits':<46} "
          f"{styles_s / max(len(extras), 1) * 1e3:12.3f} {len(extras) / styles_s:10.0f}  ({len(extras)} made)")
    print(f"\ndigitnet training, batch {args.batch_size}: {rate:.0f} samples/s ({args.batch_size / rate * 1e3:.0f} ms a step)")
    per_sample_train = 1 / rate
    per_sample_prep = both_s / n
    print(f"an augmented pen image costs {per_sample_prep * 1e3:.2f} ms to make and {per_sample_train * 1e3:.2f} ms "
          f"to train on once: {per_sample_prep / per_sample_train:.2f}x one epoch's training of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train a trajectory model (trainer.models: penseq, pengru) on the pen digits of the training writers.

`digitpad-train sequence` runs this. Each epoch draws a fresh set of training drawings from the
training writers (trainer.pendigits.split_by_writer(...)[0], which leaves out both held-out groups):
every digit, plus the styled variants of trainer.styles, each `copies` times redrawn by
trainer.strokeaug.augment_strokes and placed at a random size and position on the paper (as
trainer.pendigits.render_split places them), then turned into pen-path features (trainer.trajectory).
AdamW with a one-cycle schedule; the weights saved are those after the last epoch (none is picked by
a score). Seeded: the same config on the same machine trains the same model.

`validate=True` reads the held-out writers (HELDOUT_WRITERS, never FINAL_WRITERS) after each epoch,
for the log only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.checkpoint import Checkpoint, make_checkpoint
from trainer.errors import ConfigError, DataError, NothingDrawnError
from trainer.evaluate import EvalResult, summarize
from trainer.models import ARCHITECTURES, InputKind, create_model
from trainer.pendigits import HELDOUT_WRITERS, PenDigit, load_pendigits, random_placement, split_by_writer
from trainer.strokeaug import augment_strokes
from trainer.styles import parse_styles, styled_variants
from trainer.trajectory import DEFAULT_POINTS, TRAJECTORY_FEATURES, trajectory_features

HELDOUT_PLACEMENT_SEED = 0  # the placement benchmarks/recognition.py uses for the held-out writers


@dataclass
class SequenceConfig:
    """Everything a run depends on; stored in the checkpoint's hparams."""

    arch: str = "penseq"
    model_args: dict = field(default_factory=dict)  # over the architecture's defaults
    epochs: int = 40
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.05
    copies: int = 2  # drawings of each training digit per epoch
    stroke_augment: bool = True  # redraw every copy with trainer.strokeaug (else only placed at random)
    styles: str = "all"  # trainer.styles names, "all" or "none"
    seed: int = 1
    pendigits: str | None = None  # None: trainer.pendigits.default_pendigits_path()
    validate: bool = False  # read the held-out writers after each epoch (the log only)
    subset: int | None = None  # train on this many training digits (spread over the writers): quick checks

    def validate_settings(self) -> None:
        spec = ARCHITECTURES.get(self.arch)
        if spec is None or spec.input_kind is not InputKind.TRAJECTORY:
            names = [n for n, s in ARCHITECTURES.items() if s.input_kind is InputKind.TRAJECTORY]
            raise ConfigError(f"--arch {self.arch!r} is not a trajectory model; choose one of {', '.join(names)}")
        for name in ("epochs", "batch_size", "copies", "subset"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        try:
            parse_styles(self.styles)
        except ValueError as exc:
            raise ConfigError(f"--styles: {exc}") from None

    @property
    def points(self) -> int:
        return int({**ARCHITECTURES[self.arch].default_args, **self.model_args}.get("points", DEFAULT_POINTS))


@dataclass
class SequenceResult:
    checkpoint: Checkpoint
    seconds: float
    history: list[dict]  # one entry per epoch: loss, and held-out accuracy when validating


def features_of(digits: Sequence[PenDigit], points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, TRAJECTORY_FEATURES, points) float32 features and (N,) labels, in order (drawings without ink skipped)."""
    feats, labels = [], []
    for digit in digits:
        try:
            feats.append(trajectory_features(digit.strokes, points))
        except NothingDrawnError:
            continue
        labels.append(digit.label)
    if not feats:
        return torch.zeros((0, TRAJECTORY_FEATURES, points)), torch.zeros(0, dtype=torch.int64)
    return torch.from_numpy(np.stack(feats)), torch.tensor(labels, dtype=torch.int64)


def placed_digits(digits: Sequence[PenDigit], seed: int = HELDOUT_PLACEMENT_SEED) -> list[PenDigit]:
    """Each digit once at a seeded random size and place on the paper (benchmarks/recognition.py's placement)."""
    rng = np.random.default_rng(seed)
    return [PenDigit(d.label, d.writer, random_placement(d.strokes, rng)) for d in digits]


def epoch_drawings(train: Sequence[PenDigit], config: SequenceConfig, epoch: int) -> list[PenDigit]:
    """This epoch's training drawings: digits and styled variants, `copies` times, augmented and placed."""
    rng = np.random.default_rng([config.seed, epoch])
    styles = parse_styles(config.styles)
    out = []
    for _ in range(config.copies):
        source = list(train) + (styled_variants(train, styles, rng) if styles else [])
        for digit in source:
            strokes = augment_strokes(digit.strokes, rng) if config.stroke_augment else digit.strokes
            if strokes:
                out.append(PenDigit(digit.label, digit.writer, random_placement(strokes, rng)))
    return out


def evaluate_trajectories(model: nn.Module, feats: torch.Tensor, labels: torch.Tensor) -> EvalResult:
    """Accuracy, loss, per-class accuracy and confusion of a trajectory model on features."""
    if len(labels) == 0:
        raise DataError("cannot evaluate on no pen digits")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits = torch.cat([model(feats[i : i + 1000]) for i in range(0, len(feats), 1000)])
    finally:
        model.train(was_training)
    loss = float(F.cross_entropy(logits, labels))
    return summarize(logits.argmax(1).numpy().astype(np.int64), labels.numpy().astype(np.int64), loss)


def heldout_features(points: int, path=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out writers' digits (HELDOUT_WRITERS), placed as the benchmark places them, as features."""
    _, heldout = split_by_writer(load_pendigits(path), heldout=HELDOUT_WRITERS)
    return features_of(placed_digits(heldout), points)


def training_digits(config: SequenceConfig) -> list[PenDigit]:
    """The training writers' digits (both held-out groups left out), or an even `subset` of them."""
    train, _ = split_by_writer(load_pendigits(config.pendigits))
    if config.subset is not None and config.subset < len(train):
        train = train[:: -(-len(train) // config.subset)][: config.subset]  # every k-th: all writers, all digits
    return train


def train_sequence(config: SequenceConfig, log: Callable[[str], None] = print) -> SequenceResult:
    """Train config.arch on the training writers' pen digits; the model after the last epoch, as a Checkpoint."""
    config.validate_settings()
    torch.manual_seed(config.seed)
    train = training_digits(config)
    model = create_model(config.arch, **config.model_args)
    held = heldout_features(config.points, config.pendigits) if config.validate else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler, history, start = None, [], time.perf_counter()
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        feats, labels = features_of(epoch_drawings(train, config, epoch), config.points)
        if scheduler is None:  # the first epoch's size sets the schedule (later epochs differ by a few styled digits)
            steps_per_epoch = -(-len(labels) // config.batch_size)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch + 1
            )
        loss = _train_epoch(model, optimizer, scheduler, feats, labels, config, generator)
        entry = {"epoch": epoch + 1, "loss": loss, "drawings": len(labels), "seconds": time.perf_counter() - start}
        if held is not None:
            entry["heldout_accuracy"] = evaluate_trajectories(model, *held).accuracy
        history.append(entry)
        log(_epoch_line(entry, config.epochs))
    seconds = time.perf_counter() - start
    hparams = {**asdict(config), "training_writers": sorted({d.writer for d in train}), "seconds": round(seconds, 1)}
    metrics = {"train_loss": history[-1]["loss"]} if history else {}
    if held is not None and history:
        metrics["heldout_accuracy"] = history[-1]["heldout_accuracy"]
    ckpt = make_checkpoint(model.eval(), config.arch, dict(config.model_args), hparams=hparams, metrics=metrics,
                           normalization={"mean": 0.0, "std": 1.0})  # trajectory features are not normalized
    return SequenceResult(ckpt, seconds, history)


def _train_epoch(model, optimizer, scheduler, feats, labels, config: SequenceConfig, generator) -> float:
    model.train()
    order = torch.randperm(len(labels), generator=generator)
    total, count = 0.0, 0
    for i in range(0, len(order), config.batch_size):
        idx = order[i : i + config.batch_size]
        if len(idx) < 2:  # BatchNorm needs two samples
            continue
        loss = F.cross_entropy(model(feats[idx]), labels[idx], label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler.last_epoch < scheduler.total_steps - 1:
            scheduler.step()
        total += loss.item() * len(idx)
        count += len(idx)
    return total / max(count, 1)


def _epoch_line(entry: dict, epochs: int) -> str:
    held = f", held-out {100 * entry['heldout_accuracy']:.2f}%" if "heldout_accuracy" in entry else ""
    return (f"epoch {entry['epoch']}/{epochs}: loss {entry['loss']:.4f} on {entry['drawings']:,} drawings{held} "
            f"({entry['seconds']:.0f} s)")

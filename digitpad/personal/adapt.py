"""Personalization: refit a model's last linear layer (its head) on a person's own digits.

The network's body stays as trained; only the head (for digitnet: ``fc``, 128 -> 10) is refitted
on the features of the personal examples, each rendered through `trainer.preprocess` several
times with small random affine warps and pen jitter of its strokes. The fit starts from the
trained head and is pulled back towards it (an L2 anchor), and a replay set of other people's
digits (features computed once and cached) keeps the rest of the model's knowledge. The result
is the same architecture with new head weights, so it saves as a normal checkpoint.

Everything is deterministic: each example's augmentation is seeded by its own content, and the
fit is full-batch with a fixed number of steps.
"""

from __future__ import annotations

import copy
import logging
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from trainer.checkpoint import Checkpoint
from trainer.data import default_data_dir, find_mnist_files, read_idx, stratified_indices
from trainer.errors import DataError
from trainer.pendigits import default_pendigits_path, load_pendigits, render_split, split_by_writer
from trainer.personal_examples import Example, as_examples
from trainer.preprocess import strokes_to_mnist

if TYPE_CHECKING:
    from digitpad.recognizer import Recognizer

# How many renderings each example gets: MAX_COPIES for a few examples, fewer when there are many,
# so that about AUG_BUDGET renderings (the forward passes dominate the cost) are made in all.
MAX_COPIES = 12
MIN_COPIES = 1
AUG_BUDGET = 2000
# Stroke augmentation, about the bounding-box centre: a person's own digits vary about this much.
MAX_ROTATION_DEG = 10.0
MAX_SHEAR = 0.2             # horizontal shear factor
SCALE_RANGE = (0.85, 1.15)  # x and y scaled independently: aspect ratio changes too
JITTER = 0.025              # point noise, standard deviation as a fraction of the digit's extent
# The fit.
STEPS = 120
LEARNING_RATE = 0.02
ANCHOR = 0.01               # weight of ||W - W0||^2 + ||b - b0||^2
REPLAY_WEIGHT = 1.0         # weight of the replay set's loss against the personal examples' loss
# The personal examples weigh as much as the replay set once there are this many; fewer weigh proportionally
# less, so that one correction moves the boundary towards that drawing without swallowing its neighbours.
FULL_WEIGHT_AT = 30
ADAM_BETAS = (0.9, 0.999)   # torch.optim.Adam's defaults
ADAM_EPS = 1e-8
FEATURE_CHUNK = 512         # images per forward pass when computing features
# Replay: this many MNIST training images and as many training-writer pen digits (never the held-out
# writers), drawn with a fixed seed; their features are computed once per base model and process.
REPLAY_PER_SOURCE = 2000
REPLAY_SEED = 0
SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "mnist"  # beside a checkout, as for pen digits

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Replay:
    """Other people's digits as head inputs: (N, D) features and (N,) labels."""

    features: Tensor
    labels: Tensor


def head_of(model: nn.Module) -> nn.Linear:
    """The model's last linear layer: what personalization refits."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no linear layer to personalize")
    return linears[-1]


def head_name(model: nn.Module) -> str:
    head = head_of(model)
    return next(name for name, module in model.named_modules() if module is head)


class Personalizer:
    """Refits one base model's head on personal examples; caches each example's features.

    The cache makes a rebuild after one more correction cost only the new example's renderings.
    """

    def __init__(self, model: nn.Module, checkpoint: Checkpoint, mean: float, std: float) -> None:
        # Its own copy: the app reads drawings with the base model while a rebuild runs on a worker thread.
        self.model = copy.deepcopy(model).eval()
        self._lock = threading.Lock()
        self.checkpoint = checkpoint
        self.mean, self.std = mean, std
        self.head_key = head_name(model)
        self._cache: dict[bytes, Tensor] = {}
        self.replay: Replay | None = None

    def features(self, images: np.ndarray | Tensor) -> Tensor:
        """(N, 28, 28) float images in [0, 1] -> (N, D) inputs of the head, on the CPU."""
        x = torch.as_tensor(images, dtype=torch.float32)
        head = head_of(self.model)
        device = next(self.model.parameters()).device
        captured: list[Tensor] = []
        hook = head.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].detach().cpu()))
        try:
            with torch.inference_mode():
                for start in range(0, len(x), FEATURE_CHUNK):
                    chunk = x[start : start + FEATURE_CHUNK].to(device).unsqueeze(1)
                    self.model((chunk - self.mean) / self.std)
        finally:
            hook.remove()
        dim = head.in_features
        return torch.cat(captured).float() if captured else torch.zeros((0, dim))

    def example_features(self, examples: Sequence[Example]) -> tuple[Tensor, Tensor]:
        """(features, labels) of every example's renderings, computing only those not cached."""
        copies = copies_per_example(len(examples))
        missing = [ex for ex in examples if _key(ex, copies) not in self._cache]
        if missing:
            images = np.stack([img for ex in missing for img in renderings(ex, copies)])
            feats = self.features(images).view(len(missing), copies, -1)
            for ex, f in zip(missing, feats, strict=True):
                self._cache[_key(ex, copies)] = f
        keys = [_key(ex, copies) for ex in examples]
        feats = torch.cat([self._cache[key] for key in keys])
        self._cache = {key: self._cache[key] for key in keys}  # forget deleted or relabelled examples
        labels = torch.tensor([ex.label for ex in examples for _ in range(copies)], dtype=torch.int64)
        return feats, labels

    def personalize(self, examples: Sequence[Example]) -> Checkpoint:
        """A checkpoint of the base model with its head refitted on `examples`; the base one for none."""
        if not examples:
            return self.checkpoint
        with self._lock:
            return self._personalize(examples)

    def _personalize(self, examples: Sequence[Example]) -> Checkpoint:
        feats, labels = self.example_features(examples)
        head = head_of(self.model)
        w0, b0 = head.weight.detach().cpu(), head.bias.detach().cpu()
        weight, bias = fit_head(w0, b0, feats, labels, self.replay, len(examples))
        state = dict(self.checkpoint.state_dict)
        state[f"{self.head_key}.weight"] = weight
        state[f"{self.head_key}.bias"] = bias
        ckpt = copy.copy(self.checkpoint)
        ckpt.state_dict = state
        ckpt.hparams = {**self.checkpoint.hparams, "personalized": {"examples": len(examples), "base": self.checkpoint.name}}
        ckpt.metrics = {}  # the base model's test figures do not describe this one
        ckpt.path = None
        return ckpt


def copies_per_example(count: int) -> int:
    """Renderings per example for a set of `count` examples."""
    return int(np.clip(AUG_BUDGET // max(count, 1), MIN_COPIES, MAX_COPIES))


def _key(example: Example, copies: int) -> bytes:
    return example.digest() + bytes([copies])


def renderings(example: Example, copies: int) -> list[np.ndarray]:
    """The example as drawn, then copies - 1 augmented versions; (28, 28) float32 each, seeded by its content."""
    rng = np.random.default_rng(int.from_bytes(example.digest()[:8], "little"))
    strokes = example.arrays()
    return [strokes_to_mnist(strokes)] + [strokes_to_mnist(augment_strokes(strokes, rng)) for _ in range(copies - 1)]


def augment_strokes(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A small random affine warp about the bounding-box centre, plus Gaussian jitter of every point."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre, extent = (lo + hi) / 2, max(float((hi - lo).max()), 1e-6)
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(-MAX_SHEAR, MAX_SHEAR)], [0.0, 1.0]])
    matrix = rotation @ shear @ np.diag(rng.uniform(*SCALE_RANGE, size=2))
    return [(s - centre) @ matrix.T + centre + rng.normal(0.0, JITTER * extent, s.shape) for s in strokes]


def fit_head(w0: Tensor, b0: Tensor, feats: Tensor, labels: Tensor, replay: Replay | None,
             examples: int) -> tuple[Tensor, Tensor]:
    """Full-batch Adam from (w0, b0) on: cross-entropy of the features of `examples` personal examples
    (their mean, scaled down when there are fewer than FULL_WEIGHT_AT), plus REPLAY_WEIGHT
    times that of the replay set, plus ANCHOR * squared distance from (w0, b0).

    Gradients are written out (softmax minus one-hot) rather than taken by autograd, and Adam is
    inlined: a fit is 120 small matrix products, and torch.optim's first use alone costs seconds.
    """
    copies = copies_per_example(examples)
    x, y, weights = feats, labels, torch.full((len(labels),), 1.0 / (copies * max(examples, FULL_WEIGHT_AT)))
    if replay is not None and len(replay.labels):
        x, y = torch.cat([feats, replay.features]), torch.cat([labels, replay.labels])
        weights = torch.cat([weights, torch.full((len(replay.labels),), REPLAY_WEIGHT / len(replay.labels))])
    params = [w0.clone(), b0.clone()]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    rows = torch.arange(len(y))
    for step in range(1, STEPS + 1):
        weight, bias = params
        grad_logits = torch.softmax(x @ weight.T + bias, dim=1)
        grad_logits[rows, y] -= 1.0
        grad_logits *= weights.unsqueeze(1)
        grads = (grad_logits.T @ x + 2 * ANCHOR * (weight - w0), grad_logits.sum(0) + 2 * ANCHOR * (bias - b0))
        for p, g, (m, v) in zip(params, grads, moments, strict=True):
            m.mul_(ADAM_BETAS[0]).add_(g, alpha=1 - ADAM_BETAS[0])
            v.mul_(ADAM_BETAS[1]).addcmul_(g, g, value=1 - ADAM_BETAS[1])
            m_hat, v_hat = m / (1 - ADAM_BETAS[0] ** step), v / (1 - ADAM_BETAS[1] ** step)
            p.sub_(LEARNING_RATE * m_hat / (v_hat.sqrt() + ADAM_EPS))
    return params[0].contiguous(), params[1].contiguous()


# ------------------------------------------------------------------ replay and the entry point

_PERSONALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def personalizer_for(recognizer: Recognizer) -> Personalizer:
    """The recognizer's personalizer, made (with its replay set) on first use and kept while it lives."""
    found = _PERSONALIZERS.get(recognizer)
    if found is None:
        found = Personalizer(recognizer.model, recognizer.checkpoint, recognizer._mean, recognizer._std)
        found.replay = build_replay(found, *replay_sources())
        _PERSONALIZERS[recognizer] = found
    return found


def personalize(recognizer: Recognizer, examples: Iterable[Example | tuple]) -> Checkpoint:
    """The checkpoint `Recognizer.personalized` builds: `recognizer`'s model with its head refitted."""
    examples = as_examples(examples)
    if not examples:
        return recognizer.checkpoint
    return personalizer_for(recognizer).personalize(examples)


def replay_sources() -> tuple[Path | None, Path | None]:
    """(MNIST folder, pen-digits file) found where digitpad looks for them; None for one not there."""
    mnist = next((d for d in (default_data_dir(), SHARED_MNIST) if find_mnist_files(d)), None)
    return mnist, default_pendigits_path()


def build_replay(personalizer: Personalizer, mnist_dir: Path | None, pendigits_path: Path | None,
                 per_source: int = REPLAY_PER_SOURCE) -> Replay | None:
    """Features of other people's digits from whichever sources exist; None when there are none."""
    images, labels = [], []
    for source, load in ((mnist_dir, _mnist_sample), (pendigits_path, _pen_sample)):
        if source is None:
            continue
        try:
            imgs, labs = load(source, per_source)
        except (DataError, OSError) as exc:
            log.warning("personalization replay: skipping %s (%s)", source, exc)
            continue
        images.append(imgs)
        labels.append(labs)
    if not images:
        log.warning("personalization replay: no MNIST or pen digits found; the head is only anchored")
        return None
    feats = personalizer.features(torch.cat(images).float().div_(255.0))
    return Replay(feats, torch.cat(labels))


def _mnist_sample(folder: Path, count: int) -> tuple[Tensor, Tensor]:
    files = find_mnist_files(folder)
    if files is None:
        raise DataError(f"{folder}: MNIST files not found")
    labels = torch.from_numpy(read_idx(files["train_labels"]).astype(np.int64))
    chosen = stratified_indices(labels, count, torch.Generator().manual_seed(REPLAY_SEED))
    images = read_idx(files["train_images"])[chosen.numpy()]  # fancy indexing copies: writable
    return torch.from_numpy(images), labels[chosen]


def _pen_sample(path: Path, count: int) -> tuple[Tensor, Tensor]:
    train_writers, _ = split_by_writer(load_pendigits(path))
    rng = np.random.default_rng(REPLAY_SEED)
    chosen = sorted(rng.choice(len(train_writers), min(count, len(train_writers)), replace=False))
    split = render_split([train_writers[i] for i in chosen], rng)
    return split.images, split.labels

"""Personalization: refit the models' last linear layers (their heads) on a person's own digits.

The networks' bodies stay as trained; only the heads are refitted: the image model's (for digitnet:
``fc``, 128 -> 10) and, when the recognizer reads drawings with a sequence view too, the pen-path
model's (penseq: ``fc``, 256 -> 10). Each personal example is augmented (small random affine warps
and pen jitter of its strokes); every variant is rendered through `trainer.preprocess` for the image
model and resampled through `trainer.trajectory` for the pen-path model. Each fit starts from the
trained head and is pulled back towards it (an L2 anchor), and a replay set of other people's digits
(features computed once and cached) keeps the rest of the model's knowledge. The result is the same
architectures with new head weights, so it saves as a normal checkpoint (the pen-path model in its
"sequence" field).

Pictures (MNIST, files) are read by the image model alone, so with a sequence view the image head is
anchored much harder (IMAGE_FIT_BESIDE_SEQUENCE): the pen path carries most of the person's quirk, and
the image model's reading of everyone else's digits barely moves. Settings chosen on the held-out pen
writers (trainer.pendigits.HELDOUT_WRITERS) with benchmarks/personalize.py.

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
from trainer.pendigits import default_pendigits_path, load_pendigits, random_placement, split_by_writer
from trainer.personal_examples import Example, as_examples
from trainer.preprocess import strokes_to_mnist
from trainer.trajectory import trajectory_features

if TYPE_CHECKING:
    from digitpad.recognizer import Recognizer, SequenceView


@dataclass(frozen=True)
class HeadFit:
    """One head's fit: full-batch Adam steps, learning rate, and the weight of ||W - W0||^2 + ||b - b0||^2."""

    steps: int
    learning_rate: float
    anchor: float


# Measured on the held-out writers with the bundled models (benchmarks/personalize.py, README): with the
# pen-path head adapted too, anchor 0.2 on the image head kept the worst MNIST drop at 0.06 points (0.01: 0.63)
# at the same taught accuracy; an image model reading drawings alone needs the looser fit (99.49% vs 99.30%).
IMAGE_FIT = HeadFit(steps=120, learning_rate=0.02, anchor=0.01)
IMAGE_FIT_BESIDE_SEQUENCE = HeadFit(steps=60, learning_rate=0.04, anchor=0.2)  # as good as 120 steps at 0.02
SEQUENCE_FIT = HeadFit(steps=120, learning_rate=0.05, anchor=0.001)

# How many variants each example gets: MAX_COPIES for a few examples, fewer when there are many, so that
# about AUG_BUDGET variants (their rendering and forward passes dominate the cost) are made in all.
# 8 copies read the held-out writers as well as 12 did (taught 99.73% either way) in two thirds of the time.
MAX_COPIES = 8
MIN_COPIES = 1
AUG_BUDGET = 1500
# Stroke augmentation, about the bounding-box centre: a person's own digits vary about this much.
MAX_ROTATION_DEG = 10.0
MAX_SHEAR = 0.2             # horizontal shear factor
SCALE_RANGE = (0.85, 1.15)  # x and y scaled independently: aspect ratio changes too
JITTER = 0.025              # point noise, standard deviation as a fraction of the digit's extent
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


@dataclass(eq=False)
class Features:
    """Head inputs of the personal examples' variants: image model's, pen-path model's (None without one), labels."""

    image: Tensor
    path: Tensor | None
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


def head_inputs(model: nn.Module, inputs: Tensor) -> Tensor:
    """What `model`'s head receives for `inputs` (N, ...), computed in chunks on the model's device; (N, D) on the CPU."""
    head = head_of(model)
    device = next(model.parameters()).device
    captured: list[Tensor] = []
    hook = head.register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach().cpu()))
    try:
        with torch.inference_mode():
            for start in range(0, len(inputs), FEATURE_CHUNK):
                model(inputs[start : start + FEATURE_CHUNK].to(device))
    finally:
        hook.remove()
    return torch.cat(captured).float() if captured else torch.zeros((0, head.in_features))


class Personalizer:
    """Refits one base recognizer's heads on personal examples; caches each example's features.

    The cache makes a rebuild after one more correction cost only the new example's variants.
    """

    def __init__(self, model: nn.Module, checkpoint: Checkpoint, mean: float, std: float,
                 sequence: SequenceView | None = None) -> None:
        # Own copies: the app reads drawings with the base models while a rebuild runs on a worker thread.
        self.model = copy.deepcopy(model).eval()
        self._lock = threading.Lock()
        self.checkpoint = checkpoint
        self.mean, self.std = mean, std
        self.head_key = head_name(model)
        self.sequence_model = copy.deepcopy(sequence.model).eval() if sequence is not None else None
        self.sequence_checkpoint = sequence.checkpoint if sequence is not None else None
        self.points = sequence.points if sequence is not None else 0
        self._cache: dict[bytes, tuple[Tensor, Tensor | None]] = {}
        self.replay: Replay | None = None           # for the image head
        self.sequence_replay: Replay | None = None  # for the pen-path head

    def features(self, images: np.ndarray | Tensor) -> Tensor:
        """(N, 28, 28) float images in [0, 1] -> (N, D) inputs of the image head, on the CPU."""
        x = torch.as_tensor(images, dtype=torch.float32).unsqueeze(1)
        return head_inputs(self.model, (x - self.mean) / self.std)

    def path_features(self, paths: np.ndarray | Tensor) -> Tensor:
        """(N, TRAJECTORY_FEATURES, points) pen paths -> (N, D) inputs of the pen-path head, on the CPU."""
        if self.sequence_model is None:
            raise ValueError("this recognizer has no sequence view")
        return head_inputs(self.sequence_model, torch.as_tensor(paths, dtype=torch.float32))

    def example_features(self, examples: Sequence[Example]) -> Features:
        """Features of every example's variants, computing only those not cached."""
        copies = copies_per_example(len(examples))
        missing = [ex for ex in examples if _key(ex, copies) not in self._cache]
        if missing:
            drawn = [strokes for ex in missing for strokes in variants(ex, copies)]
            image = self.features(np.stack([strokes_to_mnist(s) for s in drawn])).view(len(missing), copies, -1)
            path = None
            if self.sequence_model is not None:
                paths = np.stack([trajectory_features(s, self.points) for s in drawn])
                path = self.path_features(paths).view(len(missing), copies, -1)
            for i, ex in enumerate(missing):
                self._cache[_key(ex, copies)] = (image[i], None if path is None else path[i])
        keys = [_key(ex, copies) for ex in examples]
        cached = [self._cache[key] for key in keys]
        self._cache = {key: self._cache[key] for key in keys}  # forget deleted or relabelled examples
        labels = torch.tensor([ex.label for ex in examples for _ in range(copies)], dtype=torch.int64)
        path = torch.cat([p for _, p in cached]) if self.sequence_model is not None else None
        return Features(torch.cat([f for f, _ in cached]), path, labels)

    def personalize(self, examples: Sequence[Example]) -> Checkpoint:
        """A checkpoint of the base model with its head(s) refitted on `examples`; the base one for none."""
        if not examples:
            return self.checkpoint
        with self._lock:
            return self._personalize(examples)

    def _personalize(self, examples: Sequence[Example]) -> Checkpoint:
        feats = self.example_features(examples)
        image_fit = IMAGE_FIT if self.sequence_model is None else IMAGE_FIT_BESIDE_SEQUENCE
        ckpt = _with_head(self.checkpoint, self.model, fit_head(self.model, feats.image, feats.labels, self.replay,
                                                               len(examples), image_fit), len(examples))
        ckpt.sequence = None
        if self.sequence_model is not None and self.sequence_checkpoint is not None and feats.path is not None:
            head = fit_head(self.sequence_model, feats.path, feats.labels, self.sequence_replay, len(examples),
                            SEQUENCE_FIT)
            ckpt.sequence = _with_head(self.sequence_checkpoint, self.sequence_model, head, len(examples))
        return ckpt


def _with_head(base: Checkpoint, model: nn.Module, head: tuple[Tensor, Tensor], examples: int) -> Checkpoint:
    """A copy of `base` whose head weights are `head`, marked as personalized (no test figures, no path)."""
    key = head_name(model)
    state = dict(base.state_dict)
    state[f"{key}.weight"], state[f"{key}.bias"] = head
    ckpt = copy.copy(base)
    ckpt.state_dict = state
    ckpt.hparams = {**base.hparams, "personalized": {"examples": examples, "base": base.name}}
    ckpt.metrics = {}  # the base model's test figures do not describe this one
    ckpt.path = None
    ckpt.notes = []
    return ckpt


def copies_per_example(count: int) -> int:
    """Variants per example for a set of `count` examples."""
    return int(np.clip(AUG_BUDGET // max(count, 1), MIN_COPIES, MAX_COPIES))


def _key(example: Example, copies: int) -> bytes:
    return example.digest() + bytes([copies])


def variants(example: Example, copies: int) -> list[list[np.ndarray]]:
    """The example's strokes as drawn, then copies - 1 augmented versions, seeded by its content."""
    rng = np.random.default_rng(int.from_bytes(example.digest()[:8], "little"))
    strokes = example.arrays()
    return [strokes] + [augment_strokes(strokes, rng) for _ in range(copies - 1)]


def renderings(example: Example, copies: int) -> list[np.ndarray]:
    """The example's variants as the image model sees them: (28, 28) float32 each."""
    return [strokes_to_mnist(s) for s in variants(example, copies)]


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


def fit_head(model: nn.Module, feats: Tensor, labels: Tensor, replay: Replay | None, examples: int,
             fit: HeadFit) -> tuple[Tensor, Tensor]:
    """`model`'s head refitted from its trained weights (w0, b0) by full-batch Adam on: cross-entropy of the
    features of `examples` personal examples (their mean, scaled down when there are fewer than
    FULL_WEIGHT_AT), plus REPLAY_WEIGHT times that of the replay set, plus fit.anchor * squared distance
    from (w0, b0).

    Gradients are written out (softmax minus one-hot) rather than taken by autograd, and Adam is
    inlined: a fit is 120 small matrix products, and torch.optim's first use alone costs seconds.
    """
    head = head_of(model)
    w0, b0 = head.weight.detach().cpu().float(), head.bias.detach().cpu().float()
    copies = copies_per_example(examples)
    x, y, weights = feats, labels, torch.full((len(labels),), 1.0 / (copies * max(examples, FULL_WEIGHT_AT)))
    if replay is not None and len(replay.labels):
        x, y = torch.cat([feats, replay.features]), torch.cat([labels, replay.labels])
        weights = torch.cat([weights, torch.full((len(replay.labels),), REPLAY_WEIGHT / len(replay.labels))])
    params = [w0.clone(), b0.clone()]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    rows = torch.arange(len(y))
    for step in range(1, fit.steps + 1):
        weight, bias = params
        grad_logits = torch.softmax(x @ weight.T + bias, dim=1)
        grad_logits[rows, y] -= 1.0
        grad_logits *= weights.unsqueeze(1)
        grads = (grad_logits.T @ x + 2 * fit.anchor * (weight - w0), grad_logits.sum(0) + 2 * fit.anchor * (bias - b0))
        for p, g, (m, v) in zip(params, grads, moments, strict=True):
            m.mul_(ADAM_BETAS[0]).add_(g, alpha=1 - ADAM_BETAS[0])
            v.mul_(ADAM_BETAS[1]).addcmul_(g, g, value=1 - ADAM_BETAS[1])
            m_hat, v_hat = m / (1 - ADAM_BETAS[0] ** step), v / (1 - ADAM_BETAS[1] ** step)
            p.sub_(fit.learning_rate * m_hat / (v_hat.sqrt() + ADAM_EPS))
    return params[0].contiguous(), params[1].contiguous()


# ------------------------------------------------------------------ replay and the entry point

_PERSONALIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
Sources = tuple[Path | None, Path | None]  # (MNIST folder, pen-digits file); None for one not there


def personalizer_for(recognizer: Recognizer, sources: Sources | None = None) -> Personalizer:
    """The recognizer's personalizer, made (with its replay sets, from `sources` or else replay_sources())
    on first use and kept while the recognizer lives."""
    found = _PERSONALIZERS.get(recognizer)
    if found is None:
        found = Personalizer(recognizer.model, recognizer.checkpoint, recognizer._mean, recognizer._std,
                             recognizer.sequence)
        build_replay(found, *(sources if sources is not None else replay_sources()))
        _PERSONALIZERS[recognizer] = found
    return found


def personalize(recognizer: Recognizer, examples: Iterable[Example | tuple]) -> Checkpoint:
    """The checkpoint `Recognizer.personalized` builds: `recognizer`'s model(s) with the heads refitted."""
    examples = as_examples(examples)
    if not examples:
        return recognizer.checkpoint
    return personalizer_for(recognizer).personalize(examples)


def replay_sources() -> Sources:
    """(MNIST folder, pen-digits file) found where digitpad looks for them; None for one not there."""
    mnist = next((d for d in (default_data_dir(), SHARED_MNIST) if find_mnist_files(d)), None)
    return mnist, default_pendigits_path()


def build_replay(personalizer: Personalizer, mnist_dir: Path | None, pendigits_path: Path | None,
                 per_source: int = REPLAY_PER_SOURCE) -> None:
    """Set the personalizer's replay sets from whichever sources exist (None where there are none): images
    of MNIST and pen digits for the image head, the same pen digits' paths for the pen-path head."""
    images: list[Tensor] = []
    labels: list[Tensor] = []
    pen = None
    if mnist_dir is not None:
        try:
            mnist_images, mnist_labels = _mnist_sample(mnist_dir, per_source)
            images.append(mnist_images)
            labels.append(mnist_labels)
        except (DataError, OSError) as exc:
            log.warning("personalization replay: skipping %s (%s)", mnist_dir, exc)
    if pendigits_path is not None:
        try:
            pen = _pen_sample(pendigits_path, per_source)
        except (DataError, OSError) as exc:
            log.warning("personalization replay: skipping %s (%s)", pendigits_path, exc)
    if pen is not None:
        images.append(pen[0])
        labels.append(pen[2])
        if personalizer.sequence_model is not None:
            paths = np.stack([trajectory_features(s, personalizer.points) for s in pen[1]])
            personalizer.sequence_replay = Replay(personalizer.path_features(paths), pen[2])
    if not images:
        log.warning("personalization replay: no MNIST or pen digits found; the heads are only anchored")
        personalizer.replay = None
        return
    personalizer.replay = Replay(personalizer.features(torch.cat(images).float().div_(255.0)), torch.cat(labels))


def _mnist_sample(folder: Path, count: int) -> tuple[Tensor, Tensor]:
    files = find_mnist_files(folder)
    if files is None:
        raise DataError(f"{folder}: MNIST files not found")
    labels = torch.from_numpy(read_idx(files["train_labels"]).astype(np.int64))
    chosen = stratified_indices(labels, count, torch.Generator().manual_seed(REPLAY_SEED))
    images = read_idx(files["train_images"])[chosen.numpy()]  # fancy indexing copies: writable
    return torch.from_numpy(images), labels[chosen]


def _pen_sample(path: Path, count: int) -> tuple[Tensor, list[list[np.ndarray]], Tensor]:
    """`count` training writers' pen digits (never the held-out ones), each placed on the paper at random:
    their (N, 28, 28) uint8 images (as render_split makes them), their strokes, and their labels."""
    train_writers, _ = split_by_writer(load_pendigits(path))
    rng = np.random.default_rng(REPLAY_SEED)
    chosen = sorted(rng.choice(len(train_writers), min(count, len(train_writers)), replace=False))
    strokes = [random_placement(train_writers[i].strokes, rng) for i in chosen]
    images = np.stack([np.clip(np.rint(strokes_to_mnist(s) * 255.0), 0, 255).astype(np.uint8) for s in strokes])
    return torch.from_numpy(images), strokes, torch.tensor([train_writers[i].label for i in chosen], dtype=torch.int64)

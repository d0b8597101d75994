"""The model zoo: every architecture digitpad can train or load, by name.

Image models (`REGISTRY`) take a batch of normalized images, shape (B, 1, 28, 28) float (see
`trainer.data.normalize`; models do not normalize), and return (B, 10) logits. Trajectory models
(`ARCHITECTURES`, input_kind TRAJECTORY) take a batch of pen paths, shape (B, TRAJECTORY_FEATURES,
points) float (see `trainer.trajectory`), and return (B, 10) logits too; they read drawings only.

Parameter names follow the classic scripts each model comes from, so a bare
``torch.save(model.state_dict(), ...)`` written by those scripts loads here unchanged
(`trainer.checkpoint` infers the architecture from the keys and shapes). Constructor
arguments are plain JSON-like values because checkpoints store them as ``model_args``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainer.sizes import IMAGE_PIXELS, NUM_CLASSES
from trainer.trajectory import DEFAULT_POINTS, TRAJECTORY_FEATURES

# fnn-dropout: wide enough that dropping half the hidden units still leaves plenty to learn with
FNN_DROPOUT_HIDDEN = [512, 256]
FNN_DROPOUT_P = 0.5

# digitnet: base channel count (doubled per stage) and dropout before the classifier
DIGITNET_WIDTH = 32
DIGITNET_DROPOUT = 0.25
DIGITNET_DEEP_CONVS = 2  # 3x3 convolutions at 7x7 resolution

# penseq / pengru: the trajectory models' widths and dropout before the classifier
PENSEQ_WIDTH = 64
PENGRU_UNITS = 64
PENSEQ_DROPOUT = 0.2


class InputKind(enum.Enum):
    """What a model reads: the check a loaded file must pass and the input a recognizer feeds it follow from it."""

    IMAGE = "image"  # (B, 1, 28, 28) normalized MNIST-format images
    TRAJECTORY = "trajectory"  # (B, TRAJECTORY_FEATURES, points) pen paths from trainer.trajectory


class FNN(nn.Module):
    """Two-hidden-layer ReLU MLP: 784 -> hidden[0] -> hidden[1] -> 10, optional dropout after each hidden layer.

    Layer names ``fc1``, ``fc2``, ``fc3`` as in the coursework scripts.
    """

    def __init__(self, hidden: list[int] | tuple[int, int] = (128, 64), dropout: float = 0.0) -> None:
        super().__init__()
        h1, h2 = (int(h) for h in hidden)
        self.fc1 = nn.Linear(IMAGE_PIXELS, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, NUM_CLASSES)
        self.dropout = nn.Dropout(float(dropout))  # no parameters: keys stay those of the plain MLP

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


class CNN(nn.Module):
    """conv(1->10, 5) -> maxpool 2 -> ReLU -> conv(10->20, 5) -> maxpool 2 -> ReLU -> linear 320 -> 10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, NUM_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))  # (B, 10, 12, 12)
        x = F.relu(F.max_pool2d(self.conv2(x), 2))  # (B, 20, 4, 4)
        return self.fc1(x.flatten(1))


class TutorialCNN(nn.Module):
    """The PyTorch MNIST tutorial net: CNN with Dropout2d after conv2 and a 320 -> 50 -> 10 head with dropout.

    Attribute names (conv1, conv2, conv2_drop, fc1, fc2) are the tutorial's. The tutorial returns
    log_softmax; this returns the logits before it (same argmax, same cross-entropy).
    """

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(float(dropout))
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, NUM_CLASSES)
        self.p = float(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, p=self.p, training=self.training)
        return self.fc2(x)


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    # no conv bias: the BatchNorm shift that follows makes it redundant
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DigitNet(nn.Module):
    """digitpad's bundled model: a small VGG-style CNN with BatchNorm, sized for CPU training.

    With w = width (32 by default)::

        28x28: conv3x3(1->w) BN ReLU, maxpool 2
        14x14: conv3x3(w->2w) BN ReLU, conv3x3(2w->2w) BN ReLU, maxpool 2
         7x7:  conv3x3(2w->4w) BN ReLU, then ``deep_convs - 1`` more conv3x3(4w->4w) BN ReLU,
               global average pool
        head:  dropout, linear 4w -> 10

    Only one convolution runs at full 28x28 resolution: a second one there (the usual VGG
    pattern) costs more than the whole rest of the net and halved training throughput on a
    2-core CPU for little accuracy. The receptive field of the last convolution (22 px) covers
    a whole MNIST digit (20 px box), so global average pooling loses nothing essential.
    A second convolution at 7x7 (``deep_convs=2``, the default) doubles the parameters and cost
    about 35% more time per training step on a 2-core CPU (batch 128: 166 vs 123 ms); it bought
    the accuracy on drawn digits that one convolution did not reach (see assets/MODEL_CARD.md).
    """

    def __init__(
        self, width: int = DIGITNET_WIDTH, dropout: float = DIGITNET_DROPOUT, deep_convs: int = DIGITNET_DEEP_CONVS
    ) -> None:
        super().__init__()
        w, deep = int(width), int(deep_convs)
        if deep < 1:
            raise ValueError(f"deep_convs must be at least 1, got {deep_convs!r}")
        layers = [
            *_conv_bn_relu(1, w),
            nn.MaxPool2d(2),
            *_conv_bn_relu(w, 2 * w),
            *_conv_bn_relu(2 * w, 2 * w),
            nn.MaxPool2d(2),
            *_conv_bn_relu(2 * w, 4 * w),
        ]
        for _ in range(deep - 1):
            layers += _conv_bn_relu(4 * w, 4 * w)
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(float(dropout))
        self.fc = nn.Linear(4 * w, NUM_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x).mean(dim=(2, 3))  # global average pool -> (B, 4w)
        return self.fc(self.dropout(x))


def _conv1d_bn_relu(c_in: int, c_out: int, k: int) -> list[nn.Module]:
    return [nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]


class _TrajectoryModel(nn.Module):
    """Checks its input's shape: a sequence of the wrong length is a wrong featurization, not a digit."""

    points: int

    def _check(self, x: Tensor) -> None:
        if x.dim() != 3 or tuple(x.shape[1:]) != (TRAJECTORY_FEATURES, self.points):
            got = tuple(int(n) for n in x.shape)
            raise ValueError(f"expected (B, {TRAJECTORY_FEATURES}, {self.points}) pen paths, got shape {got}")


class PenSeq(_TrajectoryModel):
    """A 1-D CNN over the resampled pen path (trainer.trajectory); with w = width (64 by default)::

        N points:  conv5(5->w) BN ReLU, conv5(w->w) BN ReLU, maxpool 2
        N/2:       conv3(w->2w) BN ReLU, conv3(2w->2w) BN ReLU, maxpool 2
        N/4:       conv3(2w->2w) BN ReLU, then mean and max over the path, dropout, linear 4w -> 10

    Its receptive field at the last convolution (36 of 64 points) spans about half the path, a loop or a stroke.
    """

    def __init__(self, width: int = PENSEQ_WIDTH, points: int = DEFAULT_POINTS, dropout: float = PENSEQ_DROPOUT) -> None:
        super().__init__()
        w, self.points = int(width), int(points)
        self.features = nn.Sequential(
            *_conv1d_bn_relu(TRAJECTORY_FEATURES, w, 5),
            *_conv1d_bn_relu(w, w, 5),
            nn.MaxPool1d(2),
            *_conv1d_bn_relu(w, 2 * w, 3),
            *_conv1d_bn_relu(2 * w, 2 * w, 3),
            nn.MaxPool1d(2),
            *_conv1d_bn_relu(2 * w, 2 * w, 3),
        )
        self.dropout = nn.Dropout(float(dropout))
        self.fc = nn.Linear(4 * w, NUM_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        h = self.features(x)
        return self.fc(self.dropout(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)))


class PenGRU(_TrajectoryModel):
    """A bidirectional GRU over the resampled pen path: GRU(5 -> units) both ways, mean and last state, linear."""

    def __init__(self, units: int = PENGRU_UNITS, points: int = DEFAULT_POINTS, dropout: float = PENSEQ_DROPOUT) -> None:
        super().__init__()
        u, self.points = int(units), int(points)
        self.gru = nn.GRU(TRAJECTORY_FEATURES, u, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(float(dropout))
        self.fc = nn.Linear(4 * u, NUM_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        out, last = self.gru(x.transpose(1, 2))  # out (B, N, 2u), last (2, B, u)
        summary = torch.cat([out.mean(dim=1), last.transpose(0, 1).flatten(1)], dim=1)
        return self.fc(self.dropout(summary))


@dataclass(frozen=True)
class ModelSpec:
    """One registered architecture: what the app shows in its form, and how to build it."""

    name: str
    description: str  # one line: the layers
    source: str  # one line: where the design comes from and what it is known to reach
    factory: Callable[..., nn.Module]
    default_args: dict = field(default_factory=dict)  # JSON-like; stored in checkpoints as model_args
    # Arguments added after files of this architecture were first saved, with the value that
    # rebuilds those files' model (they store no value for an argument that did not exist yet).
    older_args: dict = field(default_factory=dict)
    input_kind: InputKind = InputKind.IMAGE


# Every architecture a checkpoint may name, image and trajectory models alike.
ARCHITECTURES: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="fnn",
            description="MLP 784-128-64-10, ReLU",
            source="the classic coursework multilayer perceptron (reported ~97.6% MNIST test accuracy)",
            factory=FNN,
            default_args={"hidden": [128, 64], "dropout": 0.0},
        ),
        ModelSpec(
            name="fnn-dropout",
            description=f"MLP 784-{FNN_DROPOUT_HIDDEN[0]}-{FNN_DROPOUT_HIDDEN[1]}-10, ReLU, dropout {FNN_DROPOUT_P}",
            source="dropout MLP after Hinton et al. 2012 / Srivastava et al. 2014 (dropout 0.5 on hidden units)",
            factory=FNN,
            default_args={"hidden": list(FNN_DROPOUT_HIDDEN), "dropout": FNN_DROPOUT_P},
        ),
        ModelSpec(
            name="cnn",
            description="conv 1-10 (5x5), pool, ReLU, conv 10-20 (5x5), pool, ReLU, linear 320-10",
            source="the classic coursework CNN (reported ~99% MNIST test accuracy)",
            factory=CNN,
            default_args={},
        ),
        ModelSpec(
            name="cnn-dropout",
            description="cnn with Dropout2d after conv2 and a 320-50-10 head with dropout",
            source="the PyTorch MNIST tutorial net (~97% after 3 SGD epochs); its state_dicts load as is",
            factory=TutorialCNN,
            default_args={"dropout": 0.5},
        ),
        ModelSpec(
            name="digitnet",
            description="BatchNorm CNN, 3x3 convs 32 / 64-64 / 128-128, global average pool, dropout, linear 128-10",
            source="digitpad's bundled model: VGG-style design sized for fast CPU training; aims at >= 99.6% with augmentation",
            factory=DigitNet,
            default_args={"width": DIGITNET_WIDTH, "dropout": DIGITNET_DROPOUT, "deep_convs": DIGITNET_DEEP_CONVS},
            older_args={"deep_convs": 1},  # before deep_convs existed, digitnet had one conv at 7x7
        ),
        ModelSpec(
            name="penseq",
            description="1-D CNN over the pen path: convs 64-64 / 128-128 / 128, mean+max pool, linear 256-10",
            source="digitpad's trajectory model: reads a drawing's resampled pen path, combined with digitnet",
            factory=PenSeq,
            default_args={"width": PENSEQ_WIDTH, "points": DEFAULT_POINTS, "dropout": PENSEQ_DROPOUT},
            input_kind=InputKind.TRAJECTORY,
        ),
        ModelSpec(
            name="pengru",
            description="bidirectional GRU (64 units) over the pen path, mean + last state, linear 256-10",
            source="a recurrent alternative to penseq, measured against it (see benchmarks/recognition.py)",
            factory=PenGRU,
            default_args={"units": PENGRU_UNITS, "points": DEFAULT_POINTS, "dropout": PENSEQ_DROPOUT},
            input_kind=InputKind.TRAJECTORY,
        ),
    )
}
# The image models: what `digitpad-train train`, the Train tab and explanations offer, and what a bare
# state_dict may be (coursework scripts save image models).
REGISTRY: dict[str, ModelSpec] = {n: s for n, s in ARCHITECTURES.items() if s.input_kind is InputKind.IMAGE}


def model_names() -> list[str]:
    """The registered image-model names (the trainable architectures), in registry order."""
    return list(REGISTRY)


def create_model(name: str, **model_args) -> nn.Module:
    """A fresh model of architecture `name`; `model_args` override the spec's defaults.

    Raises ValueError for an unknown name (listing the known ones) and TypeError for an
    argument the architecture does not take.
    """
    spec = ARCHITECTURES.get(name)
    if spec is None:
        raise ValueError(f"unknown model architecture {name!r}; choose one of: {', '.join(ARCHITECTURES)}")
    return spec.factory(**{**spec.default_args, **model_args})


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

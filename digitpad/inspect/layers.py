"""What each layer of a model computed for one input, found with forward hooks on its module tree.

Nothing here knows an architecture: every leaf module (one without children) gets a hook for the
time of one forward pass, and records its output under the name the module tree gives it
("conv1", "features.3", "fc"). Steps a model does with functions instead of modules
(``F.max_pool2d`` in the classic CNN, the global average pool of digitnet) are seen in the input
of the next module: when that input has a smaller resolution than the previous module's output, it
is recorded as a pooling layer, "pool before <module>".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn

POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)
NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus)
# Identity at inference: recording them would show the previous layer twice.
SKIPPED_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity, nn.Flatten)


@dataclass(frozen=True)
class Layer:
    """One layer's output for one input: (C, H, W) maps, or (N,) units."""

    name: str
    kind: str          # "conv", "pool", "norm", "activation", "dense", "output", or the module's type in lower case
    values: np.ndarray

    def as_tuple(self) -> tuple[str, str, np.ndarray]:
        return self.name, self.kind, self.values


def kind_of(module: nn.Module) -> str:
    """The kind of layer a module is, by its type."""
    if isinstance(module, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(module, POOL_TYPES):
        return "pool"
    if isinstance(module, NORM_TYPES):
        return "norm"
    if isinstance(module, ACTIVATION_TYPES):
        return "activation"
    if isinstance(module, nn.Linear):
        return "dense"
    return type(module).__name__.lower()


class LayerRecorder:
    """Records, for item `index` of a batch, each leaf module's input and output during forward passes."""

    def __init__(self, model: nn.Module, index: int = -1) -> None:
        self.index = index
        self.calls: list[tuple[str, nn.Module, Tensor, Tensor]] = []  # (name, module, input, output), in order
        self._model = model

    @contextmanager
    def recording(self) -> Iterator[LayerRecorder]:
        handles = []
        for name, module in self._model.named_modules():
            if next(module.children(), None) is None and not isinstance(module, SKIPPED_TYPES):
                handles.append(module.register_forward_hook(self._hook(name or type(module).__name__.lower())))
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            if isinstance(output, Tensor) and inputs and isinstance(inputs[0], Tensor):
                # copies: an in-place ReLU next would overwrite a BatchNorm's recorded output
                self.calls.append((name, module, inputs[0][self.index].detach().clone(),
                                   output[self.index].detach().clone()))
        return hook

    def layers(self) -> list[Layer]:
        """The recorded outputs in forward order, with pooling done by functions put where it happened."""
        found: list[Layer] = []
        seen: dict[str, int] = {}
        previous: Tensor | None = None
        for name, module, given, output in self.calls:
            pooled = _functional_pool(previous, given)
            if pooled is not None:
                found.append(Layer(f"pool before {name}", "pool", pooled))
            seen[name] = seen.get(name, 0) + 1
            shown = name if seen[name] == 1 else f"{name} ({seen[name]})"  # a module called twice
            found.append(Layer(shown, kind_of(module), output.float().cpu().numpy()))
            previous = output
        if found and found[-1].kind == "dense":
            found[-1] = Layer(found[-1].name, "output", found[-1].values)
        return found

    def first_weighted(self) -> nn.Module | None:
        """The first module of the forward pass that has a weight (the one whose filters are shown)."""
        for _name, module, _given, _output in self.calls:
            if isinstance(getattr(module, "weight", None), Tensor) and kind_of(module) in ("conv", "dense"):
                return module
        return None


def _functional_pool(previous: Tensor | None, given: Tensor) -> np.ndarray | None:
    """The input of a module when a function pooled the previous module's output on the way, else None."""
    if previous is None or previous.dim() != 3:
        return None
    channels, height, width = previous.shape
    if given.dim() == 3 and given.shape[0] == channels and given.shape[1] < height:
        return given.float().cpu().numpy()
    if given.dim() == 1 and given.numel() < previous.numel() and given.numel() % channels == 0:
        side = round((given.numel() // channels) ** 0.5)
        if side * side * channels == given.numel():  # flattened (C, s, s) maps: a global pool has s = 1
            maps = given.reshape(channels, side, side)
            return maps.float().cpu().numpy() if side > 1 else maps.flatten().float().cpu().numpy()
    return None

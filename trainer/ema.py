"""An exponential moving average (EMA) of a model's weights, kept beside the model while it trains.

The average of the last few hundred steps' weights generalizes a little better than the last
step's weights alone (Polyak averaging), for one cheap in-place update per step. BatchNorm running
statistics are averaged too, so the averaged model is evaluated with statistics that match its weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

# early on, the average would be dominated by the random initial weights: the decay grows as
# (1 + t) / (WARMUP + t) until it reaches the one asked for (as in TensorFlow's ExponentialMovingAverage)
WARMUP = 10


class WeightAverage:
    """The running average of `model`'s weights: call `update()` after every optimizer step.

    `.model` is the averaged copy (eval mode, no gradients); `copy_back()` writes it into `model`.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        pairs = list(zip(_tensors(self.model), _tensors(model), strict=True))  # a deep copy: same tensors
        self._float_avg = [a for a, _ in pairs if a.is_floating_point()]
        self._float_src = [s for a, s in pairs if a.is_floating_point()]
        self._other = [(a, s) for a, s in pairs if not a.is_floating_point()]  # e.g. BatchNorm's num_batches_tracked

    @torch.no_grad()
    def update(self) -> None:
        """Move the average one step towards the model's current weights."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (WARMUP + self.updates))
        torch._foreach_lerp_(self._float_avg, self._float_src, 1.0 - decay)
        for average, current in self._other:
            average.copy_(current)

    @torch.no_grad()
    def copy_back(self) -> None:
        """Replace the model's weights (and BatchNorm statistics) by their average."""
        torch._foreach_copy_(self._float_src, self._float_avg)
        for average, current in self._other:
            current.copy_(average)


def _tensors(model: nn.Module) -> list[torch.Tensor]:
    return [t.detach() for t in (*model.parameters(), *model.buffers())]

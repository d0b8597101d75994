"""Which input pixels made the model say a digit: three attribution methods on the 28x28 ink image.

Every method explains the log-probability of one digit against a blank paper (no ink), in the ink
space the model is fed from (image in [0, 1], ink = 1; the model's normalization is inside
`forward`). Positive values are pixels whose ink speaks for the digit, negative ones against it.
`benchmarks/explain.py` measures how faithful each is (deletion curves) and what it costs.
"""

from __future__ import annotations

from enum import Enum
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from trainer.sizes import IMAGE_SIZE

Forward = Callable[[Tensor], Tensor]   # (B, 1, 28, 28) ink in [0, 1] -> (B, 10) logits

IG_STEPS = 8            # integrated gradients: points on the straight path from blank paper to the image
OCCLUSION_PATCH = 4     # occlusion: side of the blanked square, pixels ...
OCCLUSION_STRIDE = 2    # ... and the step between squares (13 x 13 positions on 28 x 28)


class Method(Enum):
    GRADIENT_X_INPUT = "gradient × input"
    INTEGRATED_GRADIENTS = "integrated gradients"
    OCCLUSION = "occlusion"


def path_batch(image: Tensor, steps: int = IG_STEPS) -> Tensor:
    """(steps, 1, 28, 28): the image scaled by 1/steps ... 1 (the last item is the image itself)."""
    alphas = torch.arange(1, steps + 1, dtype=image.dtype, device=image.device) / steps
    return alphas.view(-1, 1, 1, 1) * image.view(1, 1, IMAGE_SIZE, IMAGE_SIZE)


def integrated_gradients(logits: Tensor, batch: Tensor, image: Tensor, digit: int) -> Tensor:
    """IG (right Riemann sum) from `logits` = forward(batch) of `path_batch`; keeps the graph for more digits."""
    target = F.log_softmax(logits.float(), dim=1)[:, digit].sum()
    (grad,) = torch.autograd.grad(target, batch, retain_graph=True)
    return image * grad.mean(dim=0)[0]


def gradient_x_input(forward: Forward, image: Tensor, digit: int) -> Tensor:
    """The gradient of log p(digit) times the ink: IG with one step."""
    batch = path_batch(image, 1).requires_grad_(True)
    return integrated_gradients(forward(batch), batch, image, digit)


def occlusion(forward: Forward, image: Tensor, digit: int) -> Tensor:
    """How much log p(digit) falls when a small square of the image is blanked, averaged per pixel."""
    starts = range(0, IMAGE_SIZE - OCCLUSION_PATCH + 1, OCCLUSION_STRIDE)
    masks = torch.ones(len(starts) ** 2, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=image.dtype, device=image.device)
    cover = torch.zeros(IMAGE_SIZE, IMAGE_SIZE, dtype=image.dtype, device=image.device)
    for i, (top, left) in enumerate((t, left) for t in starts for left in starts):
        masks[i, 0, top : top + OCCLUSION_PATCH, left : left + OCCLUSION_PATCH] = 0
        cover[top : top + OCCLUSION_PATCH, left : left + OCCLUSION_PATCH] += 1
    with torch.no_grad():
        base = F.log_softmax(forward(image.view(1, 1, IMAGE_SIZE, IMAGE_SIZE)).float(), dim=1)[0, digit]
        scores = F.log_softmax(forward(masks * image).float(), dim=1)[:, digit]
    drops = (base - scores).view(-1, 1, 1) * (1 - masks[:, 0])
    return drops.sum(dim=0) / cover.clamp(min=1)


def attribute(method: Method, forward: Forward, image: Tensor, digit: int) -> Tensor:
    """(28, 28) attribution of `digit` for a (28, 28) image by `method`."""
    if method is Method.OCCLUSION:
        return occlusion(forward, image, digit)
    if method is Method.GRADIENT_X_INPUT:
        return gradient_x_input(forward, image, digit)
    batch = path_batch(image).requires_grad_(True)
    return integrated_gradients(forward(batch), batch, image, digit)

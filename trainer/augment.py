"""Batch augmentation: a small random affine warp per image, done on whole batches on the device.

One ``affine_grid``/``grid_sample`` call warps the batch, wherever it lives (CPU or CUDA); only
the (B, 2, 3) matrices are drawn per sample. The ranges keep a digit what it is: people tilt,
slant, shrink and shift their digits by about this much, while a 45-degree turn would make a
6 look like something else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MAX_ROTATION_DEG = 12.0  # rotation drawn uniformly in [-12, 12] degrees
SCALE_RANGE = (0.9, 1.1)  # zoom factor drawn uniformly in this range
MAX_SHEAR_DEG = 10.0  # horizontal shear (slant) angle drawn uniformly in [-10, 10] degrees
MAX_TRANSLATE_PX = 2.0  # shift drawn uniformly in [-2, 2] pixels along each axis


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    # Drawn where the generator lives (a CPU generator may drive CUDA batches); the caller moves it.
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def random_affine_matrices(batch: int, height: int, width: int, generator: torch.Generator | None = None) -> Tensor:
    """(batch, 2, 3) matrices for ``F.affine_grid``: output coordinates -> input coordinates.

    The forward warp is ``translate . rotate . shear . scale`` about the image centre; the grid
    needs its inverse, since each output pixel looks up where it came from.
    """
    angle = torch.deg2rad(_uniform(batch, -MAX_ROTATION_DEG, MAX_ROTATION_DEG, generator))
    scale = _uniform(batch, *SCALE_RANGE, generator)
    shear = torch.tan(torch.deg2rad(_uniform(batch, -MAX_SHEAR_DEG, MAX_SHEAR_DEG, generator)))
    # affine_grid coordinates span [-1, 1] over each axis, so one pixel is 2/width (x) or 2/height (y).
    pixel = torch.tensor([2.0 / width, 2.0 / height], device=angle.device)
    shift = _uniform(2 * batch, -MAX_TRANSLATE_PX, MAX_TRANSLATE_PX, generator).view(batch, 2) * pixel

    cos, sin = torch.cos(angle), torch.sin(angle)
    # forward linear part M = R @ [[1, shear], [0, 1]] @ diag(scale, scale)
    a = cos * scale
    b = (cos * shear - sin) * scale
    c = sin * scale
    d = (sin * shear + cos) * scale
    det = a * d - b * c
    inv = torch.stack([torch.stack([d, -b], 1), torch.stack([-c, a], 1)], 1) / det.view(batch, 1, 1)
    offset = -(inv @ shift.unsqueeze(2))  # input = M^-1 (output - shift)
    return torch.cat([inv, offset], dim=2)


def random_affine(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Warp each image of ``x`` (B, 1, H, W) float by its own small random affine transform.

    Pixels uncovered by the warp become 0, so pass images whose background is 0 (e.g. in [0, 1],
    before normalization). A seeded ``generator`` gives the same warps every time; it may be a CPU
    generator while ``x`` is on CUDA.
    """
    if x.dim() != 4:
        raise ValueError(f"random_affine expects (B, C, H, W), got {tuple(x.shape)}")
    batch, _, height, width = x.shape
    if batch == 0:
        return x
    theta = random_affine_matrices(batch, height, width, generator).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


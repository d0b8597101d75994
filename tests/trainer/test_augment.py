"""Augmentation: small, shape-keeping, reproducible warps of whole batches."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.augment import (
    MAX_ROTATION_DEG,
    MAX_TRANSLATE_PX,
    SCALE_RANGE,
    random_affine,
    random_affine_matrices,
)
from trainer.data import load_mnist


@pytest.fixture(scope="module")
def digits(mnist_dir) -> torch.Tensor:
    """200 real MNIST digits as (B,1,28,28) floats in [0,1]."""
    return load_mnist(mnist_dir, download=False, test_subset=200).test.images.unsqueeze(1).float() / 255


def test_keeps_shape_dtype_and_range(digits):
    out = random_affine(digits, torch.Generator().manual_seed(0))
    assert out.shape == digits.shape and out.dtype == digits.dtype
    assert out.min() >= 0 and out.max() <= 1 + 1e-6


def test_mostly_keeps_the_ink(digits):
    out = random_affine(digits, torch.Generator().manual_seed(1))
    ratio = out.sum(dim=(1, 2, 3)) / digits.sum(dim=(1, 2, 3))
    # Scaling by 0.9-1.1 changes the area by 0.81-1.21; bilinear resampling blurs a little.
    assert 0.9 < ratio.mean().item() < 1.1
    assert ratio.min().item() > 0.7 and ratio.max().item() < 1.4
    # The digit stays where it was: most of the ink overlaps the original.
    overlap = (out * digits).sum() / (digits * digits).sum()
    assert overlap > 0.4


def test_changes_the_images(digits):
    out = random_affine(digits, torch.Generator().manual_seed(2))
    assert (out - digits).abs().mean() > 0.02


def test_reproducible_with_a_seeded_generator(digits):
    a = random_affine(digits, torch.Generator().manual_seed(3))
    b = random_affine(digits, torch.Generator().manual_seed(3))
    c = random_affine(digits, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_warps_stay_within_the_documented_ranges():
    theta = random_affine_matrices(5000, 28, 28, torch.Generator().manual_seed(5))
    assert theta.shape == (5000, 2, 3)
    linear = theta[:, :, :2]
    # |det| of the inverse warp is 1/scale^2 (rotation and shear keep area).
    scale = 1 / linear.det().sqrt()
    assert scale.min() >= SCALE_RANGE[0] - 1e-4 and scale.max() <= SCALE_RANGE[1] + 1e-4
    # Translation: the forward shift is -M @ offset, at most MAX_TRANSLATE_PX pixels (2/28 per pixel).
    forward = torch.linalg.inv(linear)
    shift_px = -(forward @ theta[:, :, 2:]).squeeze(2) * 14
    assert shift_px.abs().max() <= MAX_TRANSLATE_PX + 1e-4
    # Rotation: the shear is horizontal, so the image of the x axis turns by exactly the rotation angle.
    angle = torch.rad2deg(torch.atan2(forward[:, 1, 0], forward[:, 0, 0]))
    assert angle.abs().max() <= MAX_ROTATION_DEG + 1e-3
    assert angle.abs().max() > 0.9 * MAX_ROTATION_DEG  # the whole range is used
    assert not math.isnan(theta.sum().item())


def test_an_empty_batch_passes_through():
    empty = torch.zeros((0, 1, 28, 28))
    assert random_affine(empty).shape == (0, 1, 28, 28)


def test_rejects_unbatched_input():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        random_affine(torch.zeros((28, 28)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_with_a_cpu_generator(digits):
    cpu = random_affine(digits, torch.Generator().manual_seed(6))
    cuda = random_affine(digits.cuda(), torch.Generator().manual_seed(6))
    assert cuda.is_cuda
    assert torch.allclose(cuda.cpu(), cpu, atol=1e-4)
    gen = torch.Generator(device="cuda").manual_seed(6)
    assert random_affine(digits.cuda(), gen).is_cuda

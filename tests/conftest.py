"""Shared fixtures: the read-only datasets beside the checkout (../shared), skipped when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory with the four MNIST IDX files (../shared/mnist), or skip."""
    path = SHARED / "mnist"
    if not all((path / name).is_file() for name in MNIST_FILES):
        pytest.skip(f"MNIST not found at {path}: this test needs ../shared/mnist beside the checkout")
    return path


@pytest.fixture(scope="session")
def pendigits_path() -> Path:
    """The UNIPEN pen-digits file (../shared/pendigits/pendigits-orig.tra.gz), or skip."""
    path = SHARED / "pendigits" / "pendigits-orig.tra.gz"
    if not path.is_file():
        pytest.skip(f"pen digits not found at {path}: this test needs ../shared/pendigits beside the checkout")
    return path


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test runs torch on one thread, restored afterwards.

    The suite's models and batches are small, and CI has two shared cores: a second OpenMP thread
    waiting for a busy core made small training runs several times slower (17 s vs 6 s for three
    tests) and single-image inference 6-140 ms instead of 1.3 ms.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

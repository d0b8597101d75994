"""Which torch device to run on, and what to call it: one resolver and one namer for every entry point.

    resolve_device("auto") -> torch.device       # CUDA, then Apple MPS, then the CPU
    choose_device("cuda", fallback=True)          # DeviceChoice(device=cpu, note="CUDA is not available ...")
    describe_device(device) -> "CPU" | "Apple MPS" | the CUDA device's name

The three command lines (digitpad, digitpad predict, digitpad-train) offer the same names,
DEVICE_CHOICES plus "cuda:N", checked by `device_arg`. torch is imported only when a device is
resolved, so a parser can use this module and still answer --help at once.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.errors import ConfigError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # and "cuda:N" for the N-th CUDA device
DEVICE_HELP = "auto = CUDA, then Apple MPS, then CPU; or cpu, cuda, cuda:N, mps"
_NAMES_TEXT = "auto, cpu, cuda, cuda:N, mps"


@dataclass(frozen=True)
class DeviceChoice:
    """The device to use, and a note for the user when it is not the one asked for."""

    device: torch.device
    note: str | None = None


def normalize_device_name(name: str) -> str:
    return (name or "auto").strip().lower()


def device_name_problem(name: object) -> str | None:
    """Why `name` is not a device name we accept, or None (availability is not checked here)."""
    if not isinstance(name, str):
        return f"invalid choice: {name!r} (choose from {_NAMES_TEXT})"
    base, colon, index = normalize_device_name(name).partition(":")
    if base in DEVICE_CHOICES and not colon or base == "cuda" and index.isdigit():
        return None
    return f"invalid choice: {name!r} (choose from {_NAMES_TEXT})"


def device_arg(text: str) -> str:
    """argparse `type=` for --device: the normalized name, or argparse's usage error."""
    problem = device_name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return normalize_device_name(text)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device `name` means on this machine; ConfigError when it is unknown or not available here."""
    return choose_device(name).device


def choose_device(name: str | torch.device = "auto", *, fallback: bool = False) -> DeviceChoice:
    """Like resolve_device; with `fallback`, an unavailable CUDA or MPS device gives the CPU and a note."""
    import torch

    text = str(name) if isinstance(name, torch.device) else normalize_device_name(name)
    problem = device_name_problem(text)
    if problem:
        raise ConfigError(f"unknown device {name!r}; choose one of {_NAMES_TEXT}")
    if text == "auto":
        return DeviceChoice(_auto_device())
    device = torch.device(text)
    missing = _unavailable_reason(device)
    if missing is None:
        return DeviceChoice(_with_index(device) if device.type == "cuda" else device)
    if fallback:
        return DeviceChoice(torch.device("cpu"), f"device {text!r} was asked for, but {missing}: using the CPU instead")
    raise ConfigError(f"device {text!r} was asked for, but {missing}; use --device auto or --device cpu")


def _auto_device() -> torch.device:
    import torch

    if torch.cuda.is_available():
        return _with_index(torch.device("cuda"))
    if mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _unavailable_reason(device: torch.device) -> str | None:
    """Why `device` cannot be used here, or None when it can."""
    import torch

    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            return f"CUDA is not available on this machine (PyTorch sees no CUDA GPU; torch {torch.__version__}, {build})"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"it does not exist: this machine has {count} CUDA device(s)"
    if device.type == "mps" and not mps_available():
        return "Apple MPS is not available on this machine"
    return None


def _with_index(device: torch.device) -> torch.device:
    # "cuda" -> "cuda:N": tensors report their device with the index, and equal devices avoid extra copies
    import torch

    return device if device.index is not None else torch.device(device.type, torch.cuda.current_device())


def mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def describe_device(device: torch.device) -> str:
    """A human name: "CPU", "Apple MPS", or the CUDA device's name (e.g. "NVIDIA H100 80GB HBM3")."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return device.type.upper()

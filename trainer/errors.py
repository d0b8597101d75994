"""The project's exception types: one per kind of failure a user can meet.

Each carries a message meant to be shown as is (CLI stderr, a dialog, the Train panel).
"""

import errno
import sys


class DigitpadError(Exception):
    """Base class of every error digitpad reports to a user."""


class ConfigError(DigitpadError, ValueError):
    """A setting is invalid or asks for something this machine does not have (a CLI usage error)."""


class DataError(DigitpadError, ValueError):
    """A dataset is missing, unreadable or malformed."""


class CheckpointError(DigitpadError, ValueError):
    """A model file is missing, broken, hostile or does not fit any known architecture."""


class TrainingError(DigitpadError, RuntimeError):
    """Training cannot go on (a NaN/inf loss, the device ran out of memory)."""


class NothingDrawnError(DigitpadError, ValueError):
    """The drawing or image holds no ink: there is nothing to recognize."""

    def __init__(self, message: str = "nothing drawn") -> None:
        super().__init__(message)


MAX_MESSAGE = 1000  # characters of a message shown to the user; file content in it is cut far shorter


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a device (CUDA, MPS) or host allocation failure raised by torch."""
    torch = sys.modules.get("torch")  # never imported here: the window shows before torch loads
    if isinstance(exc, MemoryError) or (torch is not None and isinstance(exc, torch.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


DISK_FULL_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
# what torch.save's zip writer says when a write comes up short: the disk filled up under it
DISK_FULL_TEXTS = ("unexpected pos", "no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc`, or an error it was raised from, says the disk (or the user's quota) is full."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain of causes, never a cycle
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in DISK_FULL_ERRNOS:
            return True
        if any(text in str(seen).lower() for text in DISK_FULL_TEXTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def describe_error(exc: BaseException) -> str:
    """One line for the user: our own errors speak for themselves, others get their type."""
    if isinstance(exc, DigitpadError):
        text = " ".join(str(exc).split())
    elif is_out_of_memory(exc):
        first = str(exc).splitlines()[0] if str(exc) else ""
        text = f"the device ran out of memory: {first} — try a smaller batch size or the CPU"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"

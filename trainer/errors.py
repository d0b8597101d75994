"""The project's exception types: one per kind of failure a user can meet.

Each carries a message meant to be shown as is (CLI stderr, a dialog, the Train panel).
"""


class DigitpadError(Exception):
    """Base class of every error digitpad reports to a user."""


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

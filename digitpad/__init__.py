"""digitpad: draw a digit, see what a neural network reads, retrain it in the same window."""

from trainer import __version__

__all__ = ["__version__"]

"""Several digits in one drawing: segment strokes (or an image's ink) into digits, guided by recognition."""

from digitpad.numbers.reading import NumberReading

__all__ = ["NumberReading"]

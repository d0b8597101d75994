"""Arrays to pictures for the Network tab: grayscale maps, a diverging map centred on zero, heat overlays.

The numpy work is Qt-free; `to_qimage` is the one step into Qt.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

NEGATIVE = np.array([33, 102, 172], np.float32)   # blue: below zero (ColorBrewer RdBu ends)
ZERO = np.array([247, 247, 247], np.float32)      # near white: zero
POSITIVE = np.array([178, 24, 43], np.float32)    # red: above zero
HEAT_ALPHA = 0.9                                  # opacity of the strongest saliency over the input
HEAT_PERCENTILE = 98                              # saliency this strong (percentile of the non-zero) is full colour
INK_SHADE = 0.6                                   # ink under the heat map: mid gray, so the colours show


def value_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of finite values, (0, 0) when there are none."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def gray(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """(..., 3) uint8: low black, high white (a flat map is mid gray)."""
    span = high - low
    t = np.full(values.shape, 0.5, np.float32) if span <= 0 else np.clip((values - low) / span, 0, 1)
    return np.repeat((np.nan_to_num(t) * 255).astype(np.uint8)[..., None], 3, axis=-1)


def diverging(values: np.ndarray, limit: float) -> np.ndarray:
    """(..., 3) uint8: -limit blue, 0 white, +limit red."""
    t = np.zeros(values.shape, np.float32) if limit <= 0 else np.clip(np.nan_to_num(values) / limit, -1, 1)
    t = t[..., None]
    rgb = np.where(t >= 0, ZERO + (POSITIVE - ZERO) * t, ZERO + (NEGATIVE - ZERO) * -t)
    return rgb.astype(np.uint8)


def limit_of(values: np.ndarray) -> float:
    """The largest absolute finite value (the diverging map's end)."""
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


def heat_overlay(image: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """(28, 28, 3) uint8: the input (ink gray on white) with the saliency's colour laid over it by strength.

    Strength is relative to a high percentile, not the maximum, so a few extreme pixels do not leave the
    rest invisible; its square root lifts the weaker evidence into view.
    """
    paper = gray(1.0 - INK_SHADE * image, 0.0, 1.0).astype(np.float32)
    strength = np.abs(np.nan_to_num(saliency))
    nonzero = strength[strength > 0]
    limit = float(np.percentile(nonzero, HEAT_PERCENTILE)) if nonzero.size else 0.0
    heat = diverging(saliency, limit).astype(np.float32)
    alpha = (np.zeros_like(strength) if limit <= 0 else np.sqrt(np.clip(strength / limit, 0, 1)))[..., None]
    alpha = alpha * HEAT_ALPHA
    return (paper * (1 - alpha) + heat * alpha).astype(np.uint8)


def to_qimage(pixels: np.ndarray, *, alpha: bool = False) -> QImage:
    """(H, W, 3) uint8 RGB (or (H, W, 4) RGBA with `alpha`) -> a QImage that owns its pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w, channels = pixels.shape
    fmt = QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGB888
    return QImage(pixels.data, w, h, channels * w, fmt).copy()

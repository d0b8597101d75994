"""Turn a drawing (vector strokes) or a picture of a digit into the 28x28 input an MNIST model expects.

This is the one rasterization path of the project: the canvas, image files, the pen-digit
training data and the tests all go through it, so a model sees drawings exactly the way
it was taught.

The MNIST recipe (LeCun et al.): the ink is fitted into a 20x20 box keeping its aspect ratio,
anti-aliased, then placed in a 28x28 field so that its centre of mass is at the centre.
White ink (1.0) on black (0.0). Normalization (mean/std) is the model's business and is
applied later by the recognizer from the checkpoint.

Stroke thickness: strokes are centre lines, so we render them directly at the target scale
with a pen whose width is fixed *relative to the 20-px box* (supersampled, then averaged
down), so a digit drawn small or large, with a thin or thick canvas pen, comes out with
MNIST-like strokes. Resizing a rendered canvas instead would make a small drawing's strokes
fat and a large drawing's strokes faint.

Pure numpy/PIL: no Qt, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from trainer.errors import DataError, NothingDrawnError
from trainer.images import plain_mode, read_image_file, shrink, shrink_array
from trainer.sizes import IMAGE_SIZE

FIT_BOX = 20.0           # the ink (pen width included) is fitted into a FIT_BOX x FIT_BOX box
COM_TARGET = 14.0        # centre of mass lands here (pixel-index coordinates), by a whole-pixel shift as in MNIST
# Stroke width in 28-px units. Rendered pen digits then match MNIST: mean ink mass 94.8 vs 95.7, run length
# of pixels > 0.5 across a stroke 3.68 vs 3.68 px; pen-digit accuracy of an MNIST-only model is flat 2.0-2.5.
PEN_WIDTH = 2.2
SUPERSAMPLE = 8          # strokes are drawn at SUPERSAMPLE x resolution, then box-averaged: anti-aliasing
DOT_EXTENT = 1e-6        # a drawing smaller than this (canvas px) is a single dot: drawn at pen size, not blown up
MAX_COORDINATE = 1e6     # |x|, |y| of a stroke point (canvas px); 1e308 would overflow the fit
MAX_POINTS = 100_000     # points in one drawing (a long stroke on the canvas has a few hundred)
STROKES_EXPECTED = (
    "strokes must be a list of strokes, each an (N, 2) sequence of (x, y) numbers "
    f"within +-{MAX_COORDINATE:g}"
)

INK_NOISE_FLOOR = 0.1    # image pixels fainter than this (after background removal) are paper, not ink
MIN_CONTRAST = 0.12      # an image whose ink is less than this above its background is blank
# Image strokes thinner than THIN_STROKE * PEN_WIDTH once fitted (a pencil photo, a big canvas saved as
# PNG) are re-drawn at PEN_WIDTH; 0.1% of MNIST digits are that thin. Thick strokes are kept: eroding
# them is unsafe (the width estimate errs high where strokes overlap) and MNIST has fat digits too.
THIN_STROKE = 0.5
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 weights for RGB -> gray

Strokes = Sequence[Sequence[Sequence[float]]]


# ----------------------------------------------------------------------------- strokes


def strokes_to_mnist(strokes: Strokes) -> np.ndarray:
    """Rasterize strokes (canvas pixels, y down) the MNIST way: (28, 28) float32 in [0, 1], ink = 1.

    Any canvas size, drawing size and position; one or many strokes; a stroke of one point is a dot.
    Raises NothingDrawnError when there are no points.
    """
    return lines_to_mnist(clean_strokes(strokes))


def lines_to_mnist(lines: list[np.ndarray]) -> np.ndarray:
    """strokes_to_mnist of strokes clean_strokes already checked ((n, 2) float arrays of finite points):
    the same rasterization without checking again (number reading renders a dozen groupings of them)."""
    if not lines:
        raise NothingDrawnError("nothing drawn")
    return _place_integer(_downsample(_render_glyph(lines)))


def clean_strokes(strokes: Strokes) -> list[np.ndarray]:
    """Each stroke as an (n, 2) float64 array of finite points; empty strokes dropped.

    Points with a NaN or infinite coordinate are dropped (nothing left: nothing drawn); anything that
    is not a list of (N, 2) numbers, or lies beyond MAX_COORDINATE, is a DataError saying so.
    """
    return indexed_strokes(strokes)[0]


def indexed_strokes(strokes: Strokes) -> tuple[list[np.ndarray], list[int]]:
    """clean_strokes, and the index in `strokes` of each stroke kept (a number's digits name their strokes)."""
    if strokes is None or isinstance(strokes, (str, bytes, dict)) or not hasattr(strokes, "__iter__"):
        raise DataError(f"{STROKES_EXPECTED}; got {type(strokes).__name__}")
    lines, ids, total = [], [], 0
    for i, stroke in enumerate(strokes):
        pts = _stroke_points(stroke, i)
        pts = pts[np.isfinite(pts).all(axis=1)]
        total += len(pts)
        if total > MAX_POINTS:
            raise DataError(f"{STROKES_EXPECTED}; got more than {MAX_POINTS:,} points")
        if len(pts) and float(np.abs(pts).max()) > MAX_COORDINATE:
            raise DataError(f"{STROKES_EXPECTED}; stroke {i} has a coordinate of {float(np.abs(pts).max()):.3g}")
        if len(pts):
            lines.append(pts)
            ids.append(i)
    return lines, ids


def _stroke_points(stroke: Any, i: int) -> np.ndarray:
    """One stroke as an (n, 2) float64 array, or DataError naming what it is instead."""
    if stroke is None or isinstance(stroke, (str, bytes, dict)):
        raise DataError(f"{STROKES_EXPECTED}; stroke {i} is {type(stroke).__name__}")
    try:
        raw = np.asarray(stroke)
    except (TypeError, ValueError):  # ragged: points of different lengths
        raise DataError(f"{STROKES_EXPECTED}; stroke {i} has points of different lengths") from None
    if raw.size == 0:
        return np.empty((0, 2))
    if raw.dtype.kind not in "iuf":
        what = "text" if raw.dtype.kind in "US" else f"{raw.dtype} values"
        raise DataError(f"{STROKES_EXPECTED}; stroke {i} holds {what}, not numbers")
    if raw.ndim != 2 or raw.shape[1] != 2:
        raise DataError(f"{STROKES_EXPECTED}; stroke {i} has shape {raw.shape}")
    return raw.astype(np.float64)


def _render_glyph(lines: list[np.ndarray]) -> np.ndarray:
    """Draw the strokes fitted into the 20-px box at SUPERSAMPLE x resolution; uint8 array, ink = 255."""
    allpts = np.concatenate(lines)
    lo = allpts.min(axis=0)
    extent = float((allpts.max(axis=0) - lo).max())
    pen = PEN_WIDTH * SUPERSAMPLE
    # The centre line is fitted so that the ink, pen included, spans FIT_BOX (less a 1/4-px safety margin).
    scale = (FIT_BOX * SUPERSAMPLE - round(pen) - 2) / (extent * SUPERSAMPLE) if extent > DOT_EXTENT else 0.0
    margin = pen / 2 + 1
    size = np.ceil((allpts.max(axis=0) - lo) * scale * SUPERSAMPLE + 2 * margin).astype(int)
    image = Image.new("L", (int(size[0]), int(size[1])), 0)
    draw = ImageDraw.Draw(image)
    radius = pen / 2
    for pts in lines:
        xy = (pts - lo) * (scale * SUPERSAMPLE) + margin
        coords = [tuple(p) for p in xy.tolist()]
        if len(coords) > 1:
            draw.line(coords, fill=255, width=max(1, round(pen)))
        # Round caps and joins: a pen-sized disc at every point (PIL's joint="curve" is slow Python).
        for x, y in coords:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(image)


def _downsample(glyph: np.ndarray) -> np.ndarray:
    """A supersampled glyph (ink = 255) -> 28-px scale in [0, 1]: cropped to its ink, box-averaged.

    Cropping first puts the ink's box on pixel boundaries, as in MNIST (whose digits span at most 20 pixels).
    """
    rows = np.flatnonzero(glyph.any(axis=1))
    cols = np.flatnonzero(glyph.any(axis=0))
    glyph = np.asarray(glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], dtype=np.float32)
    limit = int(FIT_BOX * SUPERSAMPLE)
    if max(glyph.shape) > limit:  # the image path's re-drawn strokes can overshoot by a few sub-pixels
        scale = limit / max(glyph.shape)
        glyph = _resize(glyph, (max(1, int(glyph.shape[1] * scale)), max(1, int(glyph.shape[0] * scale))), 255.0)
    h, w = -(-glyph.shape[0] // SUPERSAMPLE), -(-glyph.shape[1] // SUPERSAMPLE)
    padded = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), dtype=np.float32)
    padded[: glyph.shape[0], : glyph.shape[1]] = glyph
    return padded.reshape(h, SUPERSAMPLE, w, SUPERSAMPLE).mean(axis=(1, 3)) * (1.0 / 255.0)


# ----------------------------------------------------------------------------- images


def image_to_mnist(image: Any) -> np.ndarray:
    """A picture of one digit -> (28, 28) float32 in [0, 1], ink = 1, the MNIST way.

    `image`: a path (PNG, JPEG, ...), a PIL image, or a numpy array (H, W), (H, W, 3) or (H, W, 4);
    uint8/uint16/bool or float in [0, 1]. Transparent pixels count as white paper. Dark ink on
    light paper and light ink on dark are both accepted (the background is taken from the border).
    Files are read as `trainer.images.read_image_file` says (regular files, up to 40 megapixels, the
    first frame of an animation); big pictures are shrunk to 1024 px a side first.
    Raises NothingDrawnError for a blank image, DataError for an unreadable file.
    """
    if not isinstance(image, (str, Path)):
        return _image_to_mnist(image)
    picture, note = read_image_file(image)
    try:
        return _image_to_mnist(picture)
    except NothingDrawnError as exc:
        if note:  # an animation whose first frame is blank: say which frame was read
            raise NothingDrawnError(f"{exc} ({note})") from None
        raise


def _image_to_mnist(image: Any) -> np.ndarray:
    gray = _to_gray(image)
    ink = _ink_layer(gray)
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    width = stroke_width(ink)
    if width * FIT_BOX / max(ink.shape) < THIN_STROKE * PEN_WIDTH:
        return _place_integer(_downsample(_redraw_thin(ink, width)))
    return _place_integer(_fit_box(ink))


def _to_gray(image: Any) -> np.ndarray:
    """Any supported source -> (H, W) float32 in [0, 1], 1 = white paper (alpha composited on white)."""
    if isinstance(image, (str, Path)):
        image = read_image_file(image)[0]
    if isinstance(image, Image.Image):
        image = np.asarray(shrink(plain_mode(image)))  # uint8 (or 32-bit gray) until shrunk
    arr = shrink_array(np.asarray(image))
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise DataError(f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.size == 0:
        raise NothingDrawnError("nothing drawn: the image is empty")
    values = _unit_range(arr)
    if values.ndim == 2:
        return values
    gray = values[..., :3] @ LUMA
    if values.shape[-1] == 4:
        alpha = values[..., 3]
        gray = gray * alpha + (1.0 - alpha)
    return gray.astype(np.float32)


def _unit_range(arr: np.ndarray) -> np.ndarray:
    """Scale integer/bool/float pixel values to float32 in [0, 1]."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        top = 255.0 if arr.max(initial=0) <= 255 else 65535.0
        return np.clip(arr.astype(np.float32) / top, 0.0, 1.0)
    values = np.nan_to_num(arr.astype(np.float32), nan=0.0)
    if values.max(initial=0.0) > 1.0:
        values = values / 255.0
    return np.clip(values, 0.0, 1.0)


def _ink_layer(gray: np.ndarray) -> np.ndarray:
    """Gray picture -> ink in [0, 1] on 0 (polarity from the border, background removed, contrast stretched)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper
        gray, background = 1.0 - gray, 1.0 - background
    peak = float(gray.max())
    if peak - background < MIN_CONTRAST:
        raise NothingDrawnError("nothing drawn: the image is blank")
    ink = np.clip((gray - background) / (peak - background), 0.0, 1.0)
    ink[ink < INK_NOISE_FLOOR] = 0.0
    return ink


def _fit_box(ink: np.ndarray) -> np.ndarray:
    """Anti-aliased resize so the longer side is FIT_BOX pixels, aspect ratio kept."""
    h, w = ink.shape
    scale = FIT_BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return ink.astype(np.float32)
    return _resize(ink, size)


def _resize(ink: np.ndarray, size: tuple[int, int], top: float = 1.0) -> np.ndarray:
    """Anti-aliased resize of a float image in [0, top] to size = (width, height)."""
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized), 0.0, top)


def stroke_width(ink: np.ndarray) -> float:
    """Estimated stroke width in pixels: ink area / half its perimeter (a stroke is a long thin band).

    The perimeter counts pixel-edge transitions, which overestimate a curve's length by 4/pi on average.
    """
    mask = np.pad(np.asarray(ink) > 0.5, 1)
    area = int(mask.sum())
    if area == 0:
        return 0.0
    edges = np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
    return 2.0 * area / (edges * np.pi / 4)


def _redraw_thin(ink: np.ndarray, width: float) -> np.ndarray:
    """Thin strokes re-drawn with the MNIST pen; a supersampled glyph, ink = 255.

    The ink is fitted, like strokes, so that its centre line spans FIT_BOX - PEN_WIDTH, at SUPERSAMPLE x
    resolution; there it is binarized and dilated to PEN_WIDTH.
    """
    h, w = ink.shape
    scale = SUPERSAMPLE * (FIT_BOX - PEN_WIDTH) / max(max(h, w) - width, 1.0)
    work = _resize(ink, (max(1, round(w * scale)), max(1, round(h * scale))))
    work_width = width * scale
    mask = work > 0.5 * min(1.0, work_width) * work.max()
    radius = max(0, round((PEN_WIDTH * SUPERSAMPLE - max(work_width, 1.0)) / 2))
    return _dilate(np.pad(mask, radius + 1), radius).astype(np.float32) * 255.0


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by an octagon of the given radius (alternating 3x3 square and cross steps)."""
    out = mask.copy()
    for step in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        if step % 2 == 0:  # square step: diagonals too
            grown[1:, 1:] |= out[:-1, :-1]
            grown[1:, :-1] |= out[:-1, 1:]
            grown[:-1, 1:] |= out[1:, :-1]
            grown[:-1, :-1] |= out[1:, 1:]
        out = grown
    return out


def _place_integer(glyph: np.ndarray) -> np.ndarray:
    """Paste a 28-px-scale glyph so that its centre of mass is on COM_TARGET (whole-pixel shift, as MNIST)."""
    if glyph.sum() <= 0:
        raise NothingDrawnError("nothing drawn: the image is blank")
    cy, cx = center_of_mass(glyph)
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    _paste(out, glyph, round(COM_TARGET - cy), round(COM_TARGET - cx))
    return out


# ----------------------------------------------------------------------------- helpers


def center_of_mass(img: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass in pixel-index coordinates; the array centre for an all-zero image."""
    weights = np.asarray(img, dtype=np.float64)
    total = weights.sum()
    if total <= 0:
        return (weights.shape[0] - 1) / 2, (weights.shape[1] - 1) / 2
    rows = weights.sum(axis=1) @ np.arange(weights.shape[0]) / total
    cols = weights.sum(axis=0) @ np.arange(weights.shape[1]) / total
    return float(rows), float(cols)


def _paste(dst: np.ndarray, src: np.ndarray, top: int, left: int) -> None:
    """dst[top:, left:] = src, clipped to dst (ink pushed past the edge is lost, as in MNIST)."""
    h, w = src.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, dst.shape[0]), min(left + w, dst.shape[1])
    if y1 > y0 and x1 > x0:
        dst[y0:y1, x0:x1] = src[y0 - top : y1 - top, x0 - left : x1 - left]


def to_uint8(img28: np.ndarray) -> np.ndarray:
    """A [0, 1] float image -> uint8 0-255 (the MNIST file format)."""
    return np.clip(np.rint(np.asarray(img28, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)

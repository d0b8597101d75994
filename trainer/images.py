"""Read a picture file for recognition without trusting it: pixels, not file size, decide memory.

A 735 KB PNG can declare 13000 x 13000 pixels (6.3 GB once preprocessed in float32), and a FIFO
named digit.png blocks a reader forever. So a file is stat'ed before it is opened (regular files
only), its size is read from the header (PIL opens lazily) and refused above MAX_IMAGE_PIXELS,
and below that it is decoded in 8-bit modes and shrunk right away (JPEG: while decoding, with
``Image.draft``) so that its longer side is at most WORK_MAX_SIDE: the rest of preprocessing never
sees more than WORK_MAX_SIDE**2 pixels, whatever the file. Of an animated image the first frame is
read, and the note returned says so.

Pure PIL/numpy: no Qt, no torch.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from trainer.errors import DataError
from trainer.files import regular_file

MAX_IMAGE_PIXELS = 40_000_000  # 40 megapixels: a 7300 x 5500 photo; decoding it takes < 200 MB
# Preprocessing works on at most this many pixels a side (a digit ends up 20 px tall; the thin-stroke
# path draws at 160 px): 1024 px in float32 is 4 MB per copy, and preprocessing makes about ten.
WORK_MAX_SIDE = 1024
SHRINK_BAND_ROWS = 64  # output rows shrunk at a time
PLAIN_MODES = ("L", "RGBA", "I", "F")  # what decoding leaves: 8-bit gray, 8-bit RGBA, or 32-bit gray


def check_image_path(path: str | os.PathLike) -> Path:
    """`path` if it is a regular file; DataError otherwise. Never opens it (a FIFO would block)."""
    regular_file(path, DataError, "an image")
    return Path(path)


def read_image_file(path: str | os.PathLike) -> tuple[Image.Image, str]:
    """(the picture, decoded and shrunk to WORK_MAX_SIDE in a PLAIN_MODES mode, a note or "").

    The note says which frame of an animated image was read. DataError for anything unreadable
    or above MAX_IMAGE_PIXELS.
    """
    path = check_image_path(path)
    try:
        with warnings.catch_warnings():  # PIL's own bomb warning: our limit is lower and says more
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError:
        raise DataError(_too_big(path, "")) from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not a readable image (UnidentifiedImageError)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read image: {exc.strerror or exc}") from None
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise DataError(_too_big(path, f" ({width} x {height} = {width * height / 1e6:.0f} megapixels)"))
        frames = getattr(image, "n_frames", 1)
        note = f"frame 1 of {frames} of the animated image was read" if frames > 1 else ""
        try:
            return _decoded(image), note
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # truncated, corrupt
            raise DataError(f"{path}: cannot read image: {type(exc).__name__}: {str(exc)[:200]}") from None


def _too_big(path: Path, size: str) -> str:
    return (f"{path}: refused: the image is too large{size}; digitpad reads images of up to "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels (scale it down first)")


def _decoded(image: Image.Image) -> Image.Image:
    factor = _factor(image.size)
    if factor > 1 and image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale straight away
        image.draft("RGB" if image.mode not in ("L", "1") else "L", (image.size[0] // factor, image.size[1] // factor))
    image.load()
    return shrink(plain_mode(image))


def plain_mode(image: Image.Image) -> Image.Image:
    """`image` in one of PLAIN_MODES: transparency kept as RGBA, 16-bit gray as I, colour as L."""
    if image.mode in PLAIN_MODES:
        return image
    if image.mode in ("RGBa", "LA", "La", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image.convert("L")


def shrink(image: Image.Image) -> Image.Image:
    """`image` box-averaged down (a whole factor) so that its longer side is at most WORK_MAX_SIDE.

    Band by band: PIL's reduce copies an RGBA image whole (to premultiply alpha) before reducing it,
    which doubled the memory of a big picture. Bands a multiple of the factor tall give the same pixels.
    """
    factor = _factor(image.size)
    if factor == 1:
        return image
    width, height = image.size
    out = Image.new(image.mode, (-(-width // factor), -(-height // factor)))
    band = factor * SHRINK_BAND_ROWS
    for top in range(0, height, band):
        out.paste(image.crop((0, top, width, min(height, top + band))).reduce(factor), (0, top // factor))
    return out


def shrink_array(array: np.ndarray) -> np.ndarray:
    """An 8-bit (H, W), (H, W, 3) or (H, W, 4) array larger than WORK_MAX_SIDE, shrunk like `shrink`."""
    fits = array.ndim in (2, 3) and (array.ndim == 2 or array.shape[-1] in (3, 4))
    if array.dtype != np.uint8 or not fits or _factor(array.shape[1::-1]) == 1:
        return array
    return np.asarray(shrink(Image.fromarray(np.ascontiguousarray(array))))


def _factor(size: tuple[int, int]) -> int:
    return max(1, math.ceil(max(size) / WORK_MAX_SIDE))

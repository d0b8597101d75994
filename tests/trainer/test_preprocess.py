"""A drawing or a picture becomes an MNIST-like 28x28 digit, whatever its size, position, pen or colours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from trainer.errors import DataError, NothingDrawnError
from trainer.preprocess import (
    COM_TARGET,
    center_of_mass,
    image_to_mnist,
    stroke_width,
    strokes_to_mnist,
    to_uint8,
)

# Digits as a person draws them, in canvas pixels (y down), about 100 px tall.
SEVEN = [[(0, 0), (60, 0), (55, 10), (25, 100)], [(15, 50), (50, 50)]]
FOUR = [[(40, 0), (0, 65), (60, 65)], [(45, 30), (45, 100)]]
ZERO = [[(30 + 28 * np.sin(t), 50 - 48 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]]
ONE = [[(100, 50), (100, 250)]]
DIGITS = {"7": SEVEN, "4": FOUR, "0": ZERO, "1": ONE}


def transform(strokes, scale=1.0, dx=0.0, dy=0.0):
    return [[(x * scale + dx, y * scale + dy) for x, y in stroke] for stroke in strokes]


def ink_box(img, threshold=0.3):
    rows = np.flatnonzero((img > threshold).any(axis=1))
    cols = np.flatnonzero((img > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def canvas_image(strokes, size=400, pen=12, ink=0, paper=255, mode="L"):
    """The strokes drawn on a canvas with a real pen width, as a screenshot or a saved PNG would show them."""
    img = Image.new(mode, (size, size), paper)
    draw = ImageDraw.Draw(img)
    for stroke in strokes:
        draw.line([tuple(p) for p in stroke], fill=ink, width=pen, joint="curve")
        for x, y in stroke:
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=ink)
    return img


def naive_resize(strokes, pen=12, size=400):
    """What a naive pad does: render the canvas, crop the ink, resize it to 20 px (no pen normalization)."""
    arr = 1.0 - np.asarray(canvas_image(strokes, size, pen), dtype=np.float32) / 255.0
    h, w = ink_box(arr, 0.5)
    rows, cols = np.flatnonzero(arr.any(axis=1)), np.flatnonzero(arr.any(axis=0))
    crop = arr[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(crop.shape)
    small = Image.fromarray(crop, mode="F").resize(
        (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))), Image.Resampling.LANCZOS
    )
    out = np.zeros((28, 28), np.float32)
    small = np.clip(np.asarray(small), 0, 1)
    out[4 : 4 + small.shape[0], 4 : 4 + small.shape[1]] = small
    return out


# ----------------------------------------------------------------------------- strokes


@pytest.mark.parametrize("name", DIGITS)
def test_a_drawing_becomes_a_28x28_white_on_black_image(name):
    img = strokes_to_mnist(DIGITS[name])
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0
    assert img.max() > 0.95  # solid ink in the middle of a stroke
    assert img[0].max() == img[-1].max() == img[:, 0].max() == img[:, -1].max() == 0.0  # a black border


@pytest.mark.parametrize("name", DIGITS)
def test_the_centre_of_mass_lands_on_the_centre(name):
    cy, cx = center_of_mass(strokes_to_mnist(transform(DIGITS[name], 1.7, 250, 40)))
    assert abs(cy - COM_TARGET) < 0.5 and abs(cx - COM_TARGET) < 0.5


@pytest.mark.parametrize("name", DIGITS)
def test_where_and_how_big_the_digit_is_drawn_barely_matters(name):
    reference = strokes_to_mnist(DIGITS[name])
    for scale, dx, dy in [(0.3, 5, 300), (1.0, 150, 20), (3.5, 0, 0), (0.55, 321.7, 12.3)]:
        moved = strokes_to_mnist(transform(DIGITS[name], scale, dx, dy))
        assert np.abs(moved - reference).mean() < 0.01
        assert np.abs(moved - reference).max() < 0.35


def test_the_same_pen_looks_the_same_at_any_drawing_size_unlike_a_resized_canvas():
    small, large = transform(SEVEN, 0.8, 50, 50), transform(SEVEN, 3.2, 50, 50)
    ours = np.abs(strokes_to_mnist(small) - strokes_to_mnist(large)).mean()
    naive_small, naive_large = naive_resize(small), naive_resize(large)
    naive = np.abs(naive_small - naive_large).mean()
    assert ours < 0.01
    assert naive > 5 * ours
    # The resized canvas makes the small drawing's strokes far fatter than the large one's.
    assert naive_small.sum() > 1.8 * naive_large.sum()


def test_a_vertical_one_stays_tall_and_thin():
    img = strokes_to_mnist(ONE)
    height, width = ink_box(img)
    assert 19 <= height <= 21
    assert width <= 4  # not stretched to a square


def test_a_horizontal_line_stays_wide_and_flat():
    img = strokes_to_mnist([[(10, 300), (390, 300)]])
    height, width = ink_box(img)
    assert 19 <= width <= 21 and height <= 4
    assert abs(center_of_mass(img)[0] - COM_TARGET) < 0.5


def test_a_single_dot_is_a_small_centred_blob():
    img = strokes_to_mnist([[(123.0, 45.0)]])
    assert 2.0 < img.sum() < 8.0  # one pen-sized disc, not blown up to fill the box
    height, width = ink_box(img)
    assert height <= 3 and width <= 3
    cy, cx = center_of_mass(img)
    assert abs(cy - COM_TARGET) < 0.5 and abs(cx - COM_TARGET) < 0.5


def test_a_dot_is_part_of_the_drawing_and_numpy_strokes_work():
    # An exclamation mark: a bar, a gap, a dot; the dot counts in the 20-px fit.
    img = strokes_to_mnist([np.array([[0.0, 0.0], [0.0, 70.0]]), np.array([[0.0, 100.0]])])
    inked = (img > 0.05).any(axis=1)
    rows = np.flatnonzero(inked)
    assert 19 <= rows[-1] - rows[0] + 1 <= 21
    assert not inked[rows[0] : rows[-1]].all()  # a blank row between bar and dot
    assert img[rows[-1] - 1 :].sum() > 0.5


@pytest.mark.parametrize("strokes", [[], [[]], [[], []], [[(float("nan"), 1.0)]]])
def test_an_empty_drawing_is_nothing_drawn(strokes):
    with pytest.raises(NothingDrawnError, match="nothing drawn"):
        strokes_to_mnist(strokes)


def test_to_uint8_is_the_mnist_file_format():
    img = strokes_to_mnist(SEVEN)
    raw = to_uint8(img)
    assert raw.dtype == np.uint8 and raw.max() == 255
    assert np.abs(raw / 255.0 - img).max() <= 0.5 / 255 + 1e-6


# ----------------------------------------------------------------------------- images


def test_dark_on_light_and_light_on_dark_give_the_same_digit():
    dark_on_light = image_to_mnist(canvas_image(SEVEN, 200, 8, ink=0, paper=255))
    light_on_dark = image_to_mnist(canvas_image(SEVEN, 200, 8, ink=255, paper=0))
    assert np.abs(dark_on_light - light_on_dark).max() < 1e-6
    assert abs(center_of_mass(dark_on_light)[0] - COM_TARGET) < 0.5


def test_rgba_with_a_transparent_background_is_ink_on_white_paper():
    gray = image_to_mnist(canvas_image(FOUR, 200, 8))
    rgba = canvas_image(FOUR, 200, 8, ink=(20, 20, 200, 255), paper=(0, 0, 0, 0), mode="RGBA")
    assert np.abs(image_to_mnist(rgba) - gray).mean() < 0.01
    rgb_array = np.asarray(canvas_image(FOUR, 200, 8, ink=(0, 0, 0), paper=(250, 250, 240), mode="RGB"))
    assert np.abs(image_to_mnist(rgb_array) - gray).mean() < 0.01


def test_image_files_are_read(tmp_path):
    img = canvas_image(ZERO, 120, 6)
    img.save(tmp_path / "zero.png")
    img.convert("RGB").save(tmp_path / "zero.jpg", quality=90)
    png = image_to_mnist(tmp_path / "zero.png")
    jpg = image_to_mnist(str(tmp_path / "zero.jpg"))
    assert np.abs(png - jpg).mean() < 0.02
    assert np.abs(png - image_to_mnist(img)).max() < 1e-6


@pytest.mark.parametrize("pixel", [0, 255, 128])
def test_a_blank_image_is_nothing_drawn(pixel):
    with pytest.raises(NothingDrawnError, match="nothing drawn"):
        image_to_mnist(np.full((50, 80), pixel, np.uint8))


def test_faint_paper_texture_is_nothing_drawn():
    rng = np.random.default_rng(0)
    with pytest.raises(NothingDrawnError):
        image_to_mnist(rng.integers(235, 256, size=(64, 64)).astype(np.uint8))


def test_unreadable_files_are_a_data_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="notes.txt"):
        image_to_mnist(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="missing.png"):
        image_to_mnist(tmp_path / "missing.png")


def test_an_mnist_style_image_passes_through_nearly_unchanged():
    mnist_like = to_uint8(strokes_to_mnist(FOUR))
    out = image_to_mnist(mnist_like)
    assert np.abs(out - mnist_like / 255.0).mean() < 0.01


def test_real_mnist_digits_pass_through_nearly_unchanged(mnist_dir):
    from trainer.data import read_idx

    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:300]
    diffs = np.array([np.abs(image_to_mnist(x) - x / 255.0).mean() for x in images])
    assert np.median(diffs) < 0.003
    assert np.mean(diffs < 0.01) > 0.95
    # The rest moved by one pixel: their centre of mass sits on a half pixel, a tie either way rounds.
    for x in images[diffs >= 0.01]:
        out = image_to_mnist(x)
        shifted = min(
            np.abs(np.roll(out, (dy, dx), axis=(0, 1)) - x / 255.0).mean() for dy in (-1, 0, 1) for dx in (-1, 0, 1)
        )
        assert shifted < 0.01


@pytest.mark.parametrize(("size", "pen"), [(1500, 6), (400, 3), (400, 24), (60, 3)])
def test_a_picture_of_a_drawing_matches_the_drawing_whatever_the_pen(size, pen):
    strokes = transform(ZERO + SEVEN, size / 250, size * 0.2, size * 0.1)
    from_strokes = strokes_to_mnist(strokes)
    from_image = image_to_mnist(canvas_image(strokes, size, pen))
    # A small aliased PIL drawing is a bit jagged, a thick pen a bit fat: close, not identical.
    assert np.abs(from_image - from_strokes).mean() < 0.07
    assert 0.7 < from_image.sum() / from_strokes.sum() < 1.5


def test_stroke_width_estimate():
    band = np.zeros((100, 100), np.float32)
    band[10:90, 40:46] = 1.0
    assert 5.0 < stroke_width(band) < 9.0

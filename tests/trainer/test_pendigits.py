"""Pen digits: real trajectories parsed upright, split by writer, placed on a canvas like a person draws."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from trainer.errors import DataError
from trainer.pendigits import (
    FINAL_WRITERS,
    HELDOUT_WRITERS,
    PenDigit,
    default_pendigits_path,
    load_pendigits,
    place_on_canvas,
    random_placement,
    render_split,
    split_by_writer,
)

SAMPLE = """.INCLUDE        dene.doc

.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 4  120
.PEN_DOWN
 100  300
 200  300
 120  100
.PEN_UP
.DT 100

.SEGMENT DIGIT 1-2 ? "4"
.COMMENT 4 9  80
.PEN_DOWN
 10  50
 0  10
 40  10
.PEN_UP
.PEN_DOWN
 30  60
 30  0
.PEN_UP
"""


@pytest.fixture(scope="module")
def all_digits(pendigits_path) -> list[PenDigit]:
    return load_pendigits(pendigits_path)


def write(tmp_path, text: str, name: str = "digits.tra"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- parsing


def test_parses_labels_writers_and_strokes(tmp_path):
    seven, four = load_pendigits(write(tmp_path, SAMPLE))
    assert (seven.label, seven.writer, len(seven.strokes)) == (7, 4, 1)
    assert (four.label, four.writer, len(four.strokes)) == (4, 9, 2)
    assert four.strokes[1].shape == (2, 2) and four.strokes[1].dtype == np.float64


def test_y_axis_is_flipped_to_screen_orientation(tmp_path):
    seven, _ = load_pendigits(write(tmp_path, SAMPLE))
    # Tablet y=300 was the top (the 7's bar); on screen the top has the smallest y.
    np.testing.assert_array_equal(seven.strokes[0], [[100, 0], [200, 0], [120, 200]])


def test_reads_gzip(tmp_path):
    path = tmp_path / "digits.tra.gz"
    path.write_bytes(gzip.compress(SAMPLE.encode()))
    assert [d.label for d in load_pendigits(path)] == [7, 4]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("just some text\n", "coordinates outside"),
        (".LEXICON \"0\"\n", "no digits found"),
        (SAMPLE.replace('"7"', '"x"'), "label 'x' is not a digit"),
        (SAMPLE.replace(".COMMENT 7 4  120", ".COMMENT 3 4  120"), "disagrees"),
        (SAMPLE.replace(".COMMENT 7 4  120\n", ""), "no '.COMMENT"),
        (SAMPLE.replace(" 200  300", " 200  abc"), "other than numbers"),
        (SAMPLE.replace(" 200  300", " 200"), "'x y' pairs"),
        (SAMPLE.rsplit(".PEN_UP", 1)[0], "not closed"),
    ],
)
def test_broken_files_are_reported_with_file_and_line(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=problem) as info:
        load_pendigits(path)
    assert str(path) in str(info.value)


def test_missing_and_binary_files_are_reported(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_pendigits(tmp_path / "absent.tra.gz")
    (tmp_path / "junk.tra.gz").write_bytes(b"\x00\xff" * 50)
    with pytest.raises(DataError, match="not gzip"):
        load_pendigits(tmp_path / "junk.tra.gz")
    (tmp_path / "junk.tra").write_bytes(b"\x00\xff" * 50)
    with pytest.raises(DataError, match="binary"):
        load_pendigits(tmp_path / "junk.tra")


def test_path_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITPAD_PENDIGITS", str(tmp_path / "mine.tra"))
    assert default_pendigits_path() == tmp_path / "mine.tra"


def test_real_file_has_every_digit_of_every_writer(all_digits):
    assert len(all_digits) == 7494
    assert {d.label for d in all_digits} == set(range(10))
    assert {d.writer for d in all_digits} == set(range(1, 31))
    assert all(d.strokes and all(len(s) for s in d.strokes) for d in all_digits)


def test_real_sevens_have_their_bar_at_the_top(all_digits):
    sevens = [d for d in all_digits if d.label == 7]

    def bar_on_top(digit: PenDigit) -> bool:
        pts = np.concatenate(digit.strokes)
        top, bottom = pts[:, 1].min(), pts[:, 1].max()
        band = (bottom - top) * 0.2
        width = lambda rows: np.ptp(pts[rows, 0]) if rows.any() else 0.0  # noqa: E731
        return width(pts[:, 1] <= top + band) > width(pts[:, 1] >= bottom - band)

    assert np.mean([bar_on_top(d) for d in sevens]) > 0.9


def test_each_call_returns_fresh_copies(pendigits_path):
    first = load_pendigits(pendigits_path)
    first[0].strokes[0][:] = -1
    assert load_pendigits(pendigits_path)[0].strokes[0].min() >= 0


# --------------------------------------------------------------------------- writers


def test_heldout_writers_are_a_fixed_spread_subset():
    assert len(HELDOUT_WRITERS) == len(set(HELDOUT_WRITERS)) == 8
    assert set(HELDOUT_WRITERS) <= set(range(1, 31))


def test_the_final_writers_are_a_second_smaller_group_apart_from_the_first():
    assert len(FINAL_WRITERS) == len(set(FINAL_WRITERS)) < len(HELDOUT_WRITERS)
    assert set(FINAL_WRITERS) <= set(range(1, 31)) and not set(FINAL_WRITERS) & set(HELDOUT_WRITERS)


def test_training_writers_exclude_both_held_out_groups(all_digits):
    train, heldout = split_by_writer(all_digits)
    final = [d for d in all_digits if d.writer in FINAL_WRITERS]
    assert len(train) + len(heldout) + len(final) == len(all_digits) and final
    assert {d.writer for d in heldout} == set(HELDOUT_WRITERS)
    assert not {d.writer for d in train} & (set(HELDOUT_WRITERS) | set(FINAL_WRITERS))
    _, final_split = split_by_writer(all_digits, heldout=FINAL_WRITERS)
    assert {d.writer for d in final_split} == set(FINAL_WRITERS)
    other_train, other_heldout = split_by_writer(all_digits, heldout=(1,), reserved=())
    assert {d.writer for d in other_heldout} == {1} and len(other_train) == len(all_digits) - len(other_heldout)


# --------------------------------------------------------------------------- placing


def bbox(strokes):
    pts = np.concatenate(strokes)
    return pts.min(axis=0), pts.max(axis=0)


def test_place_on_canvas_scales_to_the_height_and_keeps_aspect():
    square = [np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 20.0]])]
    placed = place_on_canvas(square, canvas_size=400, height_frac=0.5)
    lo, hi = bbox(placed)
    np.testing.assert_allclose(hi - lo, [100, 200])
    np.testing.assert_allclose((lo + hi) / 2, [200, 200])  # centred by default
    placed = place_on_canvas(square, canvas_size=400, height_frac=0.5, center=(390, 10))
    lo, hi = bbox(placed)
    assert lo.min() >= 0 and hi.max() <= 400  # pushed back inside the canvas


def test_a_wide_digit_still_fits_across_the_canvas():
    wide = [np.array([[0.0, 0.0], [100.0, 10.0]])]
    lo, hi = bbox(place_on_canvas(wide, canvas_size=400, height_frac=0.8))
    assert lo.min() >= 0 and hi.max() <= 400
    assert (hi - lo)[0] / (hi - lo)[1] == pytest.approx(10)


def test_random_placement_stays_inside_the_canvas(all_digits):
    rng = np.random.default_rng(0)
    heights, centres = [], []
    for digit in all_digits[:300]:
        placed = random_placement(digit.strokes, rng, canvas_size=400, min_frac=0.35, max_frac=0.8)
        lo, hi = bbox(placed)
        assert lo.min() >= -1e-9 and hi.max() <= 400 + 1e-9
        assert len(placed) == len(digit.strokes)
        heights.append(hi[1] - lo[1])
        centres.append((lo + hi) / 2)
    heights = np.array(heights)
    assert heights.max() <= 0.8 * 400 + 1e-6
    assert np.median(heights) > 0.35 * 400  # most digits are as tall as drawn (only wide ones shrink)
    assert np.std(np.array(centres), axis=0).min() > 20  # positions really vary


def test_random_placement_is_reproducible(all_digits):
    strokes = all_digits[0].strokes
    a = random_placement(strokes, np.random.default_rng(5))
    b = random_placement(strokes, np.random.default_rng(5))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- rendering


def test_render_split_gives_mnist_like_uint8_images(all_digits):
    digits = all_digits[:40]
    split = render_split(digits, np.random.default_rng(0), copies=2)
    assert len(split) == 80
    assert split.images.shape == (80, 28, 28) and split.images.dtype == torch.uint8
    assert split.labels.dtype == torch.int64
    assert split.labels.tolist() == [d.label for d in digits] * 2
    ink = split.images.float().mean(dim=(1, 2))
    assert (ink > 5).all() and (ink < 120).all()
    # MNIST layout: the digit sits in the middle (20-px box, centre of mass centred), the frame is
    # nearly blank whatever the digit's size and position on the canvas.
    frame = torch.ones(28, 28, dtype=torch.bool)
    frame[3:-3, 3:-3] = False
    assert split.images.float()[:, frame].sum() < 0.03 * split.images.float().sum()


def test_rendered_sevens_are_upright(all_digits):
    sevens = [d for d in all_digits if d.label == 7][:30]
    images = render_split(sevens, np.random.default_rng(1)).images.float()
    # The bar at the top: the upper rows hold more ink than the lower rows, on average.
    assert images[:, 4:10, :].sum() > images[:, 18:24, :].sum()

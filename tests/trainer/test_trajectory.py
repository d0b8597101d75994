"""A drawing's pen path as the trajectory models read it: fixed size, where and how big it is drawn does not matter."""

from __future__ import annotations

import time

import numpy as np
import pytest

from trainer.errors import DataError, NothingDrawnError
from trainer.trajectory import DEFAULT_POINTS, TRAJECTORY_FEATURES, trajectory_features

SEVEN = [np.array([[0.0, 0.0], [40.0, 0.0], [15.0, 80.0]]), np.array([[10.0, 40.0], [35.0, 40.0]])]


def test_a_drawing_becomes_a_fixed_size_sequence_whatever_its_number_of_points():
    short = trajectory_features(SEVEN)
    dense = [np.stack([np.interp(np.linspace(0, len(s) - 1, 200), np.arange(len(s)), s[:, k]) for k in (0, 1)], 1)
             for s in SEVEN]
    assert short.shape == (TRAJECTORY_FEATURES, DEFAULT_POINTS) and short.dtype == np.float32
    # the same path sampled 100x more densely resamples to (nearly) the same sequence: positions within 2% of
    # the digit's size, steps (about 3 on this path) within 0.2 where a corner falls between samples
    diff = np.abs(trajectory_features(dense) - short)
    assert diff[:2].max() < 0.02 and diff.max() < 0.2
    assert trajectory_features(SEVEN, points=128).shape == (TRAJECTORY_FEATURES, 128)


def test_features_are_deterministic_and_ignore_where_and_how_big_the_digit_is_drawn():
    base = trajectory_features(SEVEN)
    assert np.array_equal(base, trajectory_features([s.copy() for s in SEVEN]))
    moved = [s * 3.7 + np.array([250.0, -90.0]) for s in SEVEN]
    assert np.abs(trajectory_features(moved) - base).max() < 1e-4


def test_positions_keep_the_aspect_ratio_and_fit_the_unit_box():
    f = trajectory_features(SEVEN)
    x, y = f[0], f[1]
    assert y.max() - y.min() == pytest.approx(1.0, abs=0.03)  # the taller side is 1 (resampling may cut a corner)
    assert x.max() - x.min() == pytest.approx(0.5, abs=0.02)  # the 7 is half as wide as tall


def test_the_pen_up_flag_marks_the_jump_between_strokes_only():
    f = trajectory_features(SEVEN)
    assert 0 < f[4].sum() < DEFAULT_POINTS / 2  # some points lie on the jump to the bar
    assert trajectory_features([SEVEN[0]])[4].sum() == 0  # one stroke: the pen never lifts


@pytest.mark.parametrize("strokes", [[[(5.0, 5.0)]], [[(5.0, 5.0), (5.0, 5.0)]], [[(0.0, 3.0), (30.0, 3.0)]]])
def test_dots_and_flat_strokes_give_finite_features(strokes):
    f = trajectory_features(strokes)
    assert np.isfinite(f).all() and np.abs(f[:2]).max() <= 0.5 + 1e-6


def test_nothing_drawn_and_bad_input_are_refused_like_the_rasterizer_refuses_them():
    with pytest.raises(NothingDrawnError):
        trajectory_features([])
    with pytest.raises(NothingDrawnError):
        trajectory_features([[(np.nan, 1.0), (np.inf, 2.0)]])  # NaN and inf points are dropped: none left
    with pytest.raises(DataError):
        trajectory_features([[(1e300, 0.0), (0.0, 0.0)]])
    with pytest.raises(DataError):
        trajectory_features("not strokes")
    with pytest.raises(ValueError):
        trajectory_features(SEVEN, points=10**9)


def test_a_million_points_are_refused_cheaply():
    huge = [np.zeros((1_000_000, 2))]
    start = time.perf_counter()
    with pytest.raises(DataError, match="points"):
        trajectory_features(huge)
    assert time.perf_counter() - start < 1.0


def test_a_pen_digit_takes_well_under_half_a_millisecond(pendigits_path):
    from trainer.pendigits import load_pendigits

    digits = load_pendigits(pendigits_path)[:300]
    start = time.perf_counter()
    for d in digits:
        trajectory_features(d.strokes)
    per_digit = (time.perf_counter() - start) / len(digits)
    assert per_digit < 2e-3  # ~0.1-0.25 ms measured on the shared 2-core machine; 2 ms leaves room for load

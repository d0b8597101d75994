"""Cuts inside a stroke: where two digits are written without lifting the pen."""

from __future__ import annotations

import numpy as np

from digitpad.numbers.compose import ComposedNumber, join_pairs
from digitpad.numbers.cuts import cut_points
from digitpad.numbers.strokes import StrokePieces


def ring(cx: float, cy: float, r: float, start: float = np.pi / 2, points: int = 40) -> np.ndarray:
    """A closed loop drawn counter-clockwise (y down) from angle `start`: a 0."""
    t = start + np.linspace(0, 2 * np.pi, points)
    return np.column_stack([cx + 0.7 * r * np.cos(t), cy - r * np.sin(t)])


def test_two_zeros_written_in_one_stroke_get_a_cut_on_the_joining_line():
    first, second = ring(50, 100, 50), ring(170, 100, 50)
    link = np.linspace(first[-1], second[0], 12)[1:-1]
    stroke = np.concatenate([first, link, second])
    cuts = cut_points(stroke, ref=100.0)
    assert any(len(first) - 1 <= c <= len(first) + len(link) + 1 for c in cuts)


def test_one_zero_or_a_one_gets_no_cut():
    assert cut_points(ring(50, 100, 50), ref=100.0) == []
    assert cut_points(np.column_stack([np.full(30, 10.0), np.linspace(0, 100, 30)]), ref=100.0) == []


def test_a_joined_pair_is_one_stroke_in_both_digits_groups():
    a = [ring(50, 100, 50)]
    b = [ring(170, 100, 50)]
    number = ComposedNumber(a + b, [[0], [1]], [0, 0])
    joined = join_pairs(number, np.random.default_rng(0))
    assert len(joined.strokes) == 1 and joined.groups == [[0], [0]]
    stroke, first, last = joined.joins[0]
    assert stroke == 0 and first == len(a[0]) - 1 and last > first
    assert [len(s) for s in joined.ink(0)] == [len(a[0])] and [len(s) for s in joined.ink(1)] == [len(b[0])]


def test_a_stroke_kept_whole_renders_as_the_stroke_itself():
    first, second = ring(50, 100, 50), ring(170, 100, 50)
    stroke = np.concatenate([first, np.linspace(first[-1], second[0], 12)[1:-1], second])
    pieces = StrokePieces.of([stroke])
    assert len(pieces.parts) > 1                       # proposed cuts make parts of the one stroke
    from digitpad.numbers.candidates import Candidate

    whole = pieces.ink(Candidate(0, len(pieces.parts)))
    assert len(whole) == 1 and whole[0] is stroke


def test_a_cut_digit_is_read_without_the_connecting_line_it_kept():
    from digitpad.numbers.cuts import CONNECTOR_LENGTH, without_connector

    connector = np.column_stack([np.linspace(0, 40, 9), np.linspace(100, 60, 9)])   # straight, up-right
    digit = ring(80, 60, 30, start=np.pi, points=30)                                  # then the pen turns
    line = np.concatenate([connector, digit])
    kept = without_connector(line, True, ref=100.0)
    np.testing.assert_array_equal(kept, line[len(connector) - 1:])                    # from the turn on
    np.testing.assert_array_equal(without_connector(line[::-1], False, ref=100.0), kept[::-1])
    straight = np.column_stack([np.zeros(20), np.linspace(0, 100, 20)])             # a 1: nothing but straight
    assert len(without_connector(straight, True, ref=100.0)) >= 3
    long = without_connector(straight, True, ref=10.0)                                # never more than the limit
    assert np.ptp(straight[:, 1]) - np.ptp(long[:, 1]) <= CONNECTOR_LENGTH * 10.0 + 1e-9

"""How consecutive pieces' ink meets: the cue that keeps a 4's crossing strokes together."""

from __future__ import annotations

import numpy as np
import pytest

from digitpad.numbers.candidates import GEOMETRY_FEATURES, Candidate, candidate_features, stroke_boxes
from digitpad.numbers.links import MAX_SEGMENTS, closest, crosses, point_links, stroke_links, thinned

BAR = np.array([[0.0, 50.0], [60.0, 50.0]])            # a 4's first stroke, reduced to its bar
DOWN = np.array([[40.0, 0.0], [40.0, 100.0]])          # ... and its downstroke, through the bar
NEXT_DIGIT = np.array([[90.0, 0.0], [90.0, 100.0]])    # a 1 written 30 units to the right


def test_a_4s_downstroke_crosses_its_bar_and_a_neighbouring_digit_does_not():
    assert crosses(BAR, DOWN)
    assert not crosses(DOWN, NEXT_DIGIT)
    assert closest(BAR, DOWN) == 0.0
    assert closest(BAR, NEXT_DIGIT) == pytest.approx(30.0)


def test_lines_meeting_only_at_an_end_do_not_cross_but_touch():
    corner = np.array([[60.0, 50.0], [60.0, 90.0]])
    assert not crosses(BAR, corner)
    assert closest(BAR, corner) == pytest.approx(0.0)


def test_the_distance_is_to_the_nearest_segment_not_the_nearest_sampled_point():
    dot = np.array([[30.0, 54.0]])                      # 4 units above the bar's middle, far from its ends
    assert closest(BAR, dot) == pytest.approx(4.0)
    assert closest(dot, BAR) == pytest.approx(4.0)


def test_links_are_in_digit_heights_one_row_per_consecutive_pair():
    links = stroke_links([BAR, DOWN, NEXT_DIGIT], ref=100.0)
    assert links.shape == (2, 2)
    assert links[0].tolist() == [0.0, 1.0]
    assert links[1].tolist() == pytest.approx([0.5, 0.0])   # DOWN at x=40 to NEXT_DIGIT at x=90
    assert stroke_links([BAR], ref=100.0).shape == (0, 2)


def test_a_long_line_is_thinned_to_a_bounded_number_of_segments_keeping_both_ends():
    line = np.column_stack([np.arange(10_000.0), np.zeros(10_000)])
    thin = thinned(line)
    assert len(thin) <= MAX_SEGMENTS + 1
    assert thin[0].tolist() == line[0].tolist() and thin[-1].tolist() == line[-1].tolist()


def test_picture_pieces_never_cross():
    left = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    right = np.array([[25.0, 0.0], [30.0, 10.0]])
    assert point_links([left, right], ref=10.0).tolist() == [[pytest.approx(1.5), 0.0]]


def test_candidates_see_whether_their_strokes_cross_and_how_close_their_neighbours_come():
    lines = [BAR, DOWN, NEXT_DIGIT]
    candidates = [Candidate(0, 1), Candidate(0, 2), Candidate(2, 3)]
    geo = candidate_features(stroke_boxes(lines), candidates, 100.0, links=stroke_links(lines, 100.0))
    col = {name: geo[:, GEOMETRY_FEATURES.index(name)] for name in GEOMETRY_FEATURES}
    assert col["cross_next"].tolist() == [1.0, 0.0, 0.0]      # the bar alone is cut off from what crosses it
    assert col["inner_cross"].tolist() == [0.0, 1.0, 0.0]     # the whole 4 holds the crossing
    assert col["ink_prev"][2] == pytest.approx(0.5)           # the 1 keeps half a digit height from the 4

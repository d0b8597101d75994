"""The dynamic program and the "one digit" model file, without any drawing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitpad.numbers.candidates import Candidate, enumerate_candidates, reference_height
from digitpad.numbers.onedigit import bundled_onedigit_path, load_onedigit
from digitpad.numbers.segment import best_runs
from trainer.errors import CheckpointError


def test_the_best_runs_cover_every_piece_once_with_the_highest_total():
    candidates = enumerate_candidates(4, max_pieces=3)
    scores = np.full(len(candidates), -5.0)
    good = {Candidate(0, 2): -0.1, Candidate(2, 3): -0.2, Candidate(3, 4): -0.1}
    for k, cand in enumerate(candidates):
        scores[k] = good.get(cand, -5.0)
    chosen = [candidates[k] for k in best_runs(4, candidates, scores)]
    assert chosen == [Candidate(0, 2), Candidate(2, 3), Candidate(3, 4)]


def test_candidates_are_runs_of_at_most_max_pieces():
    runs = enumerate_candidates(5, max_pieces=2)
    assert all(1 <= c.stop - c.start <= 2 for c in runs) and len(runs) == 9


def test_the_reference_height_is_a_digit_height_not_the_whole_drawing():
    boxes = np.array([[0, 0, 5, 100], [30, 10, 80, 110], [100, 20, 150, 120]], dtype=float)
    assert reference_height(boxes) == pytest.approx(100.0)


def test_the_bundled_one_digit_model_loads():
    if bundled_onedigit_path() is None:
        pytest.skip("assets/onedigit.json is not in this checkout")
    assert load_onedigit() is not None


def test_a_broken_one_digit_model_file_is_one_clear_error(tmp_path):
    path = tmp_path / "onedigit.json"
    path.write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(CheckpointError, match="not a 'one digit' model"):
        load_onedigit(str(path))
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_onedigit(str(path))


def test_scores_a_broken_model_gives_still_cover_every_piece():
    candidates = enumerate_candidates(3, max_pieces=2)
    scores = np.full(len(candidates), np.nan)
    chosen = [candidates[k] for k in best_runs(3, candidates, scores)]
    assert [p for c in chosen for p in c.pieces] == [0, 1, 2]

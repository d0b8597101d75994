"""The teaching session asks for every digit three times in a random order and measures what it bought, fairly."""

from __future__ import annotations

from collections import Counter

import pytest

from digitpad.personal.teach import TeachSession, TeachState, evaluate, folds
from digitpad.recognizer import Recognizer
from trainer.pendigits import load_pendigits, place_on_canvas, split_by_writer
from trainer.personal_examples import Example


def test_asks_each_digit_three_times_in_a_random_order():
    session = TeachSession(seed=1)
    assert Counter(session.prompts) == {d: 3 for d in range(10)}
    assert session.prompts != sorted(session.prompts)
    assert TeachSession(seed=1).prompts == session.prompts  # seeded
    assert session.progress == (0, 30) and session.prompt().startswith(f"Write a {session.current}")


def test_each_drawing_is_labelled_with_the_digit_asked_for_until_done():
    session = TeachSession(seed=2)
    asked = []
    while session.state is TeachState.ASKING:
        asked.append(session.current)
        session.submit([[(10.0, 10.0), (20.0, 40.0)]])
    assert [ex.label for ex in session.examples] == asked == session.prompts
    assert session.current is None and session.progress == (30, 30)
    with pytest.raises(ValueError):
        session.submit([[(1.0, 1.0)]])
    session.undo()
    assert session.current == asked[-1] and session.state is TeachState.ASKING


def test_nothing_drawn_is_refused_and_not_counted():
    session = TeachSession(seed=3)
    with pytest.raises(ValueError):
        session.submit([[]])
    assert session.progress == (0, 30)


def test_folds_hold_one_of_each_digit():
    examples = [Example.of([[(float(i), 0.0)]], d) for i, d in enumerate(TeachSession(seed=4).prompts)]
    parts = folds(examples)
    assert len(parts) == 3 and sorted(i for p in parts for i in p) == list(range(30))
    for part in parts:
        assert sorted(examples[i].label for i in part) == list(range(10))


@pytest.mark.slow
def test_before_and_after_are_measured_on_drawings_the_model_never_saw(pendigits_path):
    rec = Recognizer.load(device="cpu")
    _, heldout = split_by_writer(load_pendigits(pendigits_path))
    writer = [d for d in heldout if d.writer == 2]  # their 9s are read as 3 by the bundled model
    session = TeachSession(seed=5)
    pools = {d: [x for x in writer if x.label == d] for d in range(10)}
    while session.state is TeachState.ASKING:
        session.submit(place_on_canvas(pools[session.current].pop().strokes))
    result = evaluate(rec, session.examples)
    assert result.count == 30 and result.after >= result.before
    assert "before" in result.summary() and "never saw it" in result.summary()

"""Several digits in one drawing: real pen digits of held-out writers, composed into numbers, read back."""

from __future__ import annotations

import numpy as np
import pytest

from digitpad.numbers.compose import TIGHT, by_writer, compose_number
from digitpad.numbers.reading import NumberReading
from digitpad.numbers.strokes import read_strokes
from digitpad.recognizer import Recognizer, bundled_model_path
from trainer.errors import DataError, NothingDrawnError

WRITERS = (2, 6, 10)       # held-out writers whose "2026" is read in the test
MULTI_STROKE_SAMPLE = 60   # two-stroke 4s and 5s of held-out writers checked to stay whole
KEPT_WHOLE_FLOOR = 0.97    # 98.3% of these 4s, 100% of the 5s; benchmarks/number_reading.py: 99.95% of all stay whole
TOUCHING_PAIRS = 40        # pairs of digits written with touching or overlapping boxes
TOUCHING_FLOOR = 0.9       # of those split exactly into their two digits
JOINED_PAIRS = 40          # pairs of digits joined by the pen into one stroke (compose.join_pairs)
JOINED_FLOOR = 0.75        # of those cut exactly on the joining line (85% here; benchmarks/number_reading.py: 87% of 500)


@pytest.fixture(scope="module")
def rec():
    if not bundled_model_path().is_file():
        pytest.skip("the bundled model is missing")
    return Recognizer.load(device="cpu")


@pytest.fixture(scope="module")
def heldout(pendigits_path):
    from trainer.pendigits import load_pendigits, split_by_writer

    return split_by_writer(load_pendigits(pendigits_path))[1]


def first_of(digits, writer: int, label: int):
    return next(d for d in digits if d.writer == writer and d.label == label)


@pytest.mark.parametrize("writer", WRITERS)
def test_2026_written_by_a_new_person_reads_2026(rec, heldout, writer):
    number = compose_number([first_of(heldout, writer, d) for d in (2, 0, 2, 6)], np.random.default_rng(writer))
    reading = rec.predict_number(number.strokes)
    assert isinstance(reading, NumberReading)
    assert reading.text == "2026"
    assert reading.groups == number.groups
    assert len(reading.digits) == 4 and [p.digit for p in reading.digits] == [2, 0, 2, 6]
    assert all(p.image.shape == (28, 28) and p.probabilities.sum() == pytest.approx(1.0) for p in reading.digits)
    assert 0.0 < reading.confidence <= 1.0


@pytest.mark.parametrize("label", [4, 5])
def test_a_two_stroke_4_or_5_with_a_detached_bar_stays_one_digit(rec, heldout, label):
    multi = [d for d in heldout if d.label == label and len(d.strokes) == 2][:MULTI_STROKE_SAMPLE]
    assert len(multi) >= 20, "the held-out writers wrote two-stroke digits of this kind"
    readings = [rec.predict_number(d.strokes) for d in multi]
    whole = [len(r) == 1 and r.groups == [[0, 1]] for r in readings]
    assert np.mean(whole) >= KEPT_WHOLE_FLOOR
    assert np.mean([r.text == str(label) for r in readings]) >= KEPT_WHOLE_FLOOR


def test_one_digit_reads_as_predict_strokes_reads_it(rec, heldout):
    # the same image, and the same mix of the image model and the pen-path model
    digit = first_of(heldout, 2, 7)
    reading = rec.predict_number(digit.strokes)
    alone = rec.predict_strokes(digit.strokes)
    assert reading.groups == [list(range(len(digit.strokes)))]
    assert np.array_equal(reading.digits[0].image, alone.image)
    assert np.allclose(reading.digits[0].probabilities, alone.probabilities, atol=1e-5)
    assert reading.text == str(alone.digit) == "7"


@pytest.mark.parametrize("writer", WRITERS)
def test_each_digit_of_a_number_reads_as_it_reads_drawn_alone(rec, heldout, writer):
    digits = [first_of(heldout, writer, d) for d in (3, 8, 5, 9)]
    number = compose_number(digits, np.random.default_rng(writer), gaps=TIGHT)
    reading = rec.predict_number(number.strokes)
    assert reading.groups == number.groups
    for group, got in zip(reading.groups, reading.digits, strict=True):
        alone = rec.predict_strokes([number.strokes[i] for i in group])
        assert got.digit == alone.digit
        assert np.allclose(got.probabilities, alone.probabilities, atol=1e-5)


def same_writer_pairs(heldout, rng: np.random.Generator, count: int):
    """`count` pairs of digits, each pair from one randomly chosen writer (drawn lazily, in the rng's order)."""
    writers = by_writer(heldout)
    for _ in range(count):
        own = writers[sorted(writers)[rng.integers(len(writers))]]
        yield [own[i] for i in rng.integers(len(own), size=2)]


def test_two_digits_drawn_touching_are_split(rec, heldout):
    rng = np.random.default_rng(3)
    split = []
    for pair in same_writer_pairs(heldout, rng, TOUCHING_PAIRS):
        number = compose_number(pair, rng, gaps=(TIGHT[0], 0.0))   # boxes touch or overlap
        split.append(rec.predict_number(number.strokes).groups == number.groups)
    assert np.mean(split) >= TOUCHING_FLOOR


def test_groups_name_the_input_strokes_even_around_empty_ones(rec, heldout):
    number = compose_number([first_of(heldout, 6, 1), first_of(heldout, 6, 4)], np.random.default_rng(0))
    strokes = [[], *[s.tolist() for s in number.strokes[:1]], [], *[s.tolist() for s in number.strokes[1:]]]
    reading = rec.predict_number(strokes)
    shifted = [[i + 1 + (i >= 1) for i in g] for g in number.groups]
    assert reading.groups == shifted


def test_a_number_wider_than_the_paper_is_read(rec, heldout):
    digits = [first_of(heldout, 10, d) for d in (3, 1, 4, 1, 5, 9)]
    number = compose_number(digits, np.random.default_rng(1), height=260.0)
    assert max(s[:, 0].max() for s in number.strokes) > 1000   # far past the 400-unit paper
    assert rec.predict_number(number.strokes).text == "314159"


@pytest.mark.parametrize("strokes", [[], [[]], [[], []], [[(float("nan"), 1.0)]]])
def test_nothing_drawn_raises_nothing_drawn_error(rec, strokes):
    with pytest.raises(NothingDrawnError):
        rec.predict_number(strokes)


@pytest.mark.parametrize(("strokes", "message"), [
    ("2026", "list of strokes"),
    ([[("a", "b")]], "holds text, not numbers"),
    ({"strokes": []}, "got dict"),
    ([[(0, 0), (1e300, 1)]], "within"),
])
def test_what_is_not_strokes_is_one_clear_data_error(rec, strokes, message):
    with pytest.raises(DataError, match=message):
        rec.predict_number(strokes)


def test_too_many_strokes_are_refused_before_any_work():
    from digitpad.numbers.strokes import MAX_STROKES

    strokes = [[(float(i), 0.0), (float(i), 10.0)] for i in range(MAX_STROKES + 1)]
    with pytest.raises(DataError, match=f"too many strokes to read as a number: {MAX_STROKES + 1}"):
        read_strokes(None, strokes)   # refused before the recognizer is asked anything


@pytest.mark.parametrize(("strokes", "text"), [
    ([[(200, 100), (200, 300)], [(165, 140), (190, 112)]], "1"),                        # a 1, its flag drawn apart
    ([[(120, 100), (280, 100), (190, 330)], [(160, 210), (250, 210)]], "7"),            # a crossed 7
])
def test_a_flag_or_bar_drawn_apart_stays_with_its_digit(rec, strokes, text):
    reading = rec.predict_number(strokes)
    assert reading.text == text and reading.groups == [[0, 1]]


def test_two_digits_joined_by_the_pen_into_one_stroke_are_cut_apart(rec, heldout):
    from digitpad.numbers.compose import JOINED, join_pairs

    rng = np.random.default_rng(4)
    cut, read = [], []
    for pair in same_writer_pairs(heldout, rng, JOINED_PAIRS):
        number = join_pairs(compose_number(pair, rng, gaps=JOINED), rng)
        reading = rec.predict_number(number.strokes)   # predict_number cuts strokes by default
        cut.append(len(reading) == 2 and all(number.matches(k, p) for k, p in enumerate(reading.parts)))
        read.append(reading.text == number.text)      # each digit read without the connecting line it kept
    assert np.mean(cut) >= JOINED_FLOOR
    assert np.mean(read) >= JOINED_FLOOR               # 90% here (85% with the connecting lines left on)


@pytest.mark.parametrize("cut", [False, True])
def test_a_single_digit_is_one_part_holding_every_point(rec, heldout, cut):
    digit = first_of(heldout, 6, 2)
    reading = read_strokes(rec, digit.strokes, cut=cut)
    assert reading.parts == [[(i, 0, len(s)) for i, s in enumerate(digit.strokes)]]


@pytest.mark.parametrize("label", [4, 5, 7])
def test_cutting_strokes_leaves_single_digits_as_they_were(rec, heldout, label):
    digits = [d for d in heldout if d.label == label][:20]
    for digit in digits:
        plain, cut = read_strokes(rec, digit.strokes, cut=False), read_strokes(rec, digit.strokes, cut=True)
        assert cut.groups == plain.groups and cut.text == plain.text


def test_a_digit_of_a_cut_stroke_is_given_back_as_its_own_part_only(rec, heldout):
    from digitpad.numbers.compose import JOINED, join_pairs
    from digitpad.numbers.strokes import digit_ink

    rng = np.random.default_rng(4)
    for pair in same_writer_pairs(heldout, rng, JOINED_PAIRS):
        number = join_pairs(compose_number(pair, rng, gaps=JOINED), rng)
        reading = read_strokes(rec, number.strokes, cut=True)
        if len(reading) == 2 and all(number.matches(k, p) for k, p in enumerate(reading.parts)):
            break
    else:
        pytest.fail("no joined pair was cut apart")
    inks = [digit_ink(reading, k, number.strokes) for k in range(2)]
    shared = set(reading.groups[0]) & set(reading.groups[1])
    assert shared, "the joining stroke is in both digits' groups"
    points = sum(len(s) for ink in inks for s in ink)
    assert points == sum(len(s) for s in number.strokes)   # every point once: none lost, none in both digits
    whole = read_strokes(rec, number.strokes, cut=False)   # no cut: every stroke whole, in one digit
    assert sum(len(s) for k in range(len(whole)) for s in digit_ink(whole, k, number.strokes)) == points


def test_a_digit_s_ink_leaves_out_strokes_undone_since_the_reading(rec, heldout):
    from digitpad.numbers.strokes import digit_ink

    number = compose_number([first_of(heldout, 6, 1), first_of(heldout, 6, 4)], np.random.default_rng(0))
    reading = rec.predict_number(number.strokes)
    undone = number.strokes[:-1]                       # the 4's last stroke taken back
    assert len(digit_ink(reading, 1, undone)) == len(reading.groups[1]) - 1

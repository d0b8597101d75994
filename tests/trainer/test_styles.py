"""Style synthesis: each style adds to real digits what it says it adds, and the trainer option selects them."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.cli import main
from trainer.config import TrainConfig
from trainer.errors import ConfigError
from trainer.pendigits import PenDigit, load_pendigits, split_by_writer
from trainer.styles import STYLE_RATE, STYLES, parse_styles, stem_crossings, styled_variants

# The share of a label's training-writer digits each style must apply to, a little under what it does
# (measured on the 22 training writers: slashed-0 572/572, flag-1 83/572 (most of their 1s have a flag
# already), crossed-7 95/570 (most of their 7s are crossed already), curl-7 430/570, open-4 319/572,
# hook-6 525/528, g-9 212/527 (a stem that is not going down at its end, often hooked already, is skipped)).
MIN_APPLIED = {"slashed-0": 0.95, "flag-1": 0.1, "crossed-7": 0.12, "curl-7": 0.7, "open-4": 0.45, "hook-6": 0.9,
               "g-9": 0.35}


@pytest.fixture(scope="module")
def training_digits(pendigits_path) -> list[PenDigit]:
    train, _heldout = split_by_writer(load_pendigits(pendigits_path))
    return train


def styled(training_digits, name: str, seed: int = 0):
    """(original strokes, styled strokes) of every digit of the style's label that it applies to."""
    rng = np.random.default_rng(seed)
    pairs = []
    for digit in training_digits:
        if digit.label == STYLES[name].label:
            out = STYLES[name].make(digit.strokes, rng)
            if out is not None:
                pairs.append((digit.strokes, out))
    return pairs


def kept_points(name: str, old: list[np.ndarray]) -> np.ndarray:
    """The original points a style keeps: all, but for the parts it redraws."""
    if name == "hook-6":  # the loop's end is left off
        return old[0][: len(old[0]) // 2]
    if name == "open-4":  # the arm is straightened: the stem stays
        return old[1]
    if name == "flag-1":  # the flag replaces a landing tick above the stem's top
        stem = old[int(np.argmin([s[:, 1].min() for s in old]))]
        return stem[int(np.argmin(stem[:, 1])):]
    return np.concatenate(old)


def box(strokes):
    pts = np.concatenate(strokes)
    return pts.min(axis=0), pts.max(axis=0)


@pytest.mark.parametrize("name", list(STYLES))
def test_each_style_applies_to_real_digits_and_keeps_their_strokes(training_digits, name):
    pairs = styled(training_digits, name)
    of_label = sum(d.label == STYLES[name].label for d in training_digits)
    assert len(pairs) >= MIN_APPLIED[name] * of_label, (name, len(pairs), of_label)
    for old, new in pairs:
        assert all(np.isfinite(s).all() and s.ndim == 2 and s.shape[1] == 2 for s in new)
        # the writer's own ink is still there: the original points lie on the styled drawing
        kept = np.concatenate(new)
        points = kept_points(name, old)
        nearest = np.linalg.norm(points[:, None] - kept[None], axis=-1).min(axis=1)
        assert nearest.max() <= 1e-6 * float(np.ptp(np.concatenate(old), axis=0).max()), name


def test_a_slash_crosses_the_zero_from_corner_to_corner(training_digits):
    for old, new in styled(training_digits, "slashed-0"):
        lo, hi = box(old)
        w, h = hi - lo
        slash = new[-1]
        assert len(new) == len(old) + 1
        left, right = slash[np.argmin(slash[:, 0])], slash[np.argmax(slash[:, 0])]
        assert left[1] > lo[1] + 0.8 * h and right[1] < lo[1] + 0.2 * h  # from low left up to high right
        assert np.ptp(slash[:, 0]) >= 0.7 * w and np.ptp(slash[:, 1]) >= 0.95 * h  # across the whole box
        centre = (lo + hi) / 2
        assert np.linalg.norm(slash - centre, axis=1).min() <= 0.2 * max(w, h)  # through the middle


def test_a_flag_runs_from_down_left_into_the_top_of_the_ones_stem(training_digits):
    for old, new in styled(training_digits, "flag-1"):
        lo, hi = box(old)
        h = hi[1] - lo[1]
        top = np.concatenate(old)[np.argmin(np.concatenate(old)[:, 1])]
        flagged = next(s for s in new if np.linalg.norm(s - top, axis=1).min() < 1e-9 and s[0, 0] < top[0])
        start = flagged[0]  # the pen lands down-left of the top and goes up into the stem
        assert top[0] - start[0] >= 0.15 * h and start[1] - top[1] >= 0.15 * h
        assert np.linalg.norm(start - top) >= 0.35 * h - 1e-9  # a long flag, not a serif
        assert np.linalg.norm(start - top) <= 0.55 * h + 1e-9


def test_a_bar_crosses_the_sevens_stem(training_digits):
    pairs = styled(training_digits, "crossed-7")
    for old, new in pairs:
        lo, hi = box(old)
        h = hi[1] - lo[1]
        bar = new[-1]
        y = float(bar[:, 1].mean())
        assert lo[1] + 0.35 * h < y < lo[1] + 0.7 * h  # about mid-height, below the top bar
        stem_x = stem_crossings(old, y)
        assert len(stem_x) == 1 and bar[:, 0].min() < stem_x[0] < bar[:, 0].max()
        assert np.ptp(bar[:, 1]) < 0.1 * h  # level


def test_a_curl_turns_the_sevens_foot_forwards(training_digits):
    for old, new in styled(training_digits, "curl-7"):
        h = box(old)[1][1] - box(old)[0][1]
        grown = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if len(b) > len(a)]
        assert len(grown) == 1
        curl = new[grown[0]][len(old[grown[0]]) - 1:]
        assert curl[-1, 0] - curl[-2, 0] > 0  # the pen leaves the curl going right
        assert np.linalg.norm(np.diff(curl, axis=0), axis=1).sum() >= 0.12 * h - 1e-9


def test_a_g_like_nine_ends_in_a_curl_to_the_left(training_digits):
    pairs = styled(training_digits, "g-9")
    leftwards = 0
    for old, new in pairs:
        grown = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if len(b) > len(a)]
        assert len(grown) == 1
        foot, tail = old[grown[0]][-1], new[grown[0]][len(old[grown[0]]):]
        assert tail[:, 1].max() > foot[1]  # it dips below the stem's end before it turns
        assert tail[-1, 0] - tail[-2, 0] < 0  # and leaves going left
        leftwards += tail[-1, 0] < foot[0]
    assert leftwards >= 0.9 * len(pairs)  # ending left of the stem (a stem leaning right may end under it)


def test_a_hooked_six_leaves_its_loop_open(training_digits):
    opened = 0
    pairs = styled(training_digits, "hook-6")
    for old, new in pairs:
        (s,), (t,) = old, new
        h = box(old)[1][1] - box(old)[0][1]
        np.testing.assert_allclose(t[:-1], s[: len(t) - 1])  # the same stroke, shortened
        stem = s[: len(s) // 2]
        gap_before = np.linalg.norm(stem - s[-1], axis=1).min()
        gap_after = np.linalg.norm(stem - t[-1], axis=1).min()
        opened += gap_after > gap_before and gap_after > 0.1 * h
    assert opened >= 0.8 * len(pairs)


def test_an_open_four_is_one_stroke_with_its_top_open(training_digits):
    gaps = []
    for old, new in styled(training_digits, "open-4"):
        assert len(old) == 2 and len(new) == 1
        stroke = new[0]
        h = box(old)[1][1] - box(old)[0][1]
        stem_top = old[1][np.argmin(old[1][:, 1])]
        arm_top = stroke[0]
        gaps.append((stem_top[0] - arm_top[0]) / h)  # arm and stem apart at the top: open
        corner = old[0][np.argmax(old[0][:, 1] - 0.3 * old[0][:, 0])]  # where the arm met the bar
        assert abs(arm_top[0] - corner[0]) <= 0.06 * h  # the arm stands upright over its corner
        foot = old[1][0] if old[1][0, 1] > old[1][-1, 1] else old[1][-1]
        np.testing.assert_allclose(stroke[-1], foot)  # the pen ends at the stem's foot
    # the lean is random (±5% of the height): the gap is 15% of it or more for nearly all, 10% for every one
    assert min(gaps) >= 0.1 and np.mean(np.array(gaps) >= 0.15) >= 0.99


def test_styled_variants_add_some_digits_of_each_chosen_label_only(training_digits):
    extras = styled_variants(training_digits, parse_styles("slashed-0,crossed-7"), np.random.default_rng(0))
    labels = np.array([d.label for d in extras])
    assert set(labels) == {0, 7}
    zeros = sum(d.label == 0 for d in training_digits)
    assert abs((labels == 0).sum() - STYLE_RATE * zeros) < 0.1 * zeros
    assert styled_variants(training_digits, (), np.random.default_rng(0)) == []


def test_styles_option_appears_in_help_and_validates(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--styles NAMES with --pen-digits: add pen digits redrawn in these writing styles" in text
    assert "--stroke-augment with --pen-digits: redraw each pen digit's copies" in text
    for name in STYLES:
        assert name in text
    assert parse_styles("all") == tuple(STYLES) and parse_styles("none") == ()
    assert parse_styles(" Flag-1 , g-9,flag-1") == ("flag-1", "g-9")
    TrainConfig(styles="slashed-0,open-4", stroke_augment=True).validate()
    with pytest.raises(ConfigError, match="styles: unknown style 'slashed-8'"):
        TrainConfig(styles="slashed-0,slashed-8").validate()
    assert main(["train", "--styles", "crossed-1", "--dry-run"]) != 0
    assert "unknown style 'crossed-1'" in capsys.readouterr().err

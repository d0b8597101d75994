"""Stroke augmentation redraws a real pen digit as another writer might: the digit stays the same digit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainer.pendigits import PenDigit, load_pendigits, render_split, split_by_writer
from trainer.strokeaug import DEFAULT, StrokeAugment, augment_strokes

# Every change off: only the resampling at a fine spacing remains.
NOTHING = StrokeAugment(
    spacing=(0.01, 0.01), speed=0.0, gap_p=0.0, lift_p=0.0, hook_p=0.0, stroke_rotate=0.0, stroke_scale=0.0,
    stroke_shift=0.0, slant=0.0, rotate=0.0, aspect=0.0, warp=0.0,
)
# Each kind of change alone, at the default strength (or always, where it is a chance).
ALONE = {
    "resampling and speed": dict(spacing=DEFAULT.spacing, speed=DEFAULT.speed),
    "gaps and lifts": dict(gap_p=1.0, lift_p=1.0),
    "hooks and tails": dict(hook_p=1.0),
    "per-stroke jitter": dict(stroke_rotate=DEFAULT.stroke_rotate, stroke_scale=DEFAULT.stroke_scale,
                              stroke_shift=DEFAULT.stroke_shift),
    "slant, rotation, aspect": dict(slant=DEFAULT.slant, rotate=DEFAULT.rotate, aspect=DEFAULT.aspect),
    "elastic warp": dict(warp=DEFAULT.warp),
}
PER_CLASS = 30  # training-writer digits of each label read by the bundled model
FLOOR = 0.90  # of each digit's augmented drawings read as that digit


@pytest.fixture(scope="module")
def training_digits(pendigits_path) -> list[PenDigit]:
    train, _heldout = split_by_writer(load_pendigits(pendigits_path))
    return train


@pytest.fixture(scope="module")
def sample(training_digits) -> list[PenDigit]:
    """PER_CLASS digits of each label, spread over the training writers."""
    rng = np.random.default_rng(5)
    chosen = []
    for label in range(10):
        of_label = [d for d in training_digits if d.label == label]
        chosen += [of_label[i] for i in rng.choice(len(of_label), PER_CLASS, replace=False)]
    return chosen


@pytest.fixture(scope="module")
def recognizer():
    from digitpad.recognizer import Recognizer

    return Recognizer.load(device="cpu")


def read_as_labelled(recognizer, digits: list[PenDigit], params: StrokeAugment, seed: int) -> np.ndarray:
    """Per label, the share of the digits' augmented drawings the bundled model reads as that label."""
    split = render_split(digits, np.random.default_rng(seed), transform=lambda s, rng: augment_strokes(s, rng, params))
    predicted = recognizer.predict_batch(split.images.numpy()).argmax(axis=1)
    labels = split.labels.numpy()
    return np.array([(predicted[labels == k] == k).mean() for k in range(10)])


def polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance of each point to the nearest segment of `line`."""
    a, b = line[:-1], line[1:]
    d = b - a
    t = np.clip(((points[:, None] - a) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-12), 0, 1)
    nearest = a + t[..., None] * d
    return np.linalg.norm(points[:, None] - nearest, axis=-1).min(axis=1)


def test_augmented_digits_are_still_read_as_their_digit(recognizer, sample):
    shares = read_as_labelled(recognizer, sample, DEFAULT, seed=1)
    assert shares.min() >= FLOOR, dict(enumerate(shares.round(3)))
    assert shares.mean() >= 0.95


@pytest.mark.parametrize("kind", list(ALONE))
def test_each_kind_of_change_alone_keeps_the_digit(recognizer, sample, kind):
    shares = read_as_labelled(recognizer, sample, dataclasses.replace(NOTHING, **ALONE[kind]), seed=2)
    assert shares.min() >= FLOOR, (kind, dict(enumerate(shares.round(3))))


def test_the_same_seed_gives_the_same_drawing_and_the_input_is_left_alone(training_digits):
    digit = training_digits[0]
    before = [s.copy() for s in digit.strokes]
    a = augment_strokes(digit.strokes, np.random.default_rng(3))
    b = augment_strokes(digit.strokes, np.random.default_rng(3))
    c = augment_strokes(digit.strokes, np.random.default_rng(4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(x.shape == y.shape and np.allclose(x, y) for x, y in zip(a, c, strict=False))
    assert all(np.array_equal(x, y) for x, y in zip(before, digit.strokes, strict=True))


def test_resampling_moves_points_along_the_pens_path_only(training_digits):
    # speed changes and density re-space the points but every point stays on the original trajectory
    params = dataclasses.replace(NOTHING, spacing=(0.02, 0.06), speed=0.6)
    rng = np.random.default_rng(0)
    for digit in training_digits[:50]:
        size = float(np.ptp(np.concatenate(digit.strokes), axis=0).max())
        out = augment_strokes(digit.strokes, rng, params)
        assert len(out) == len(digit.strokes)
        for new, old in zip(out, digit.strokes, strict=True):
            assert polyline_distance(new, old).max() <= 1e-6 * size
            np.testing.assert_allclose(new[[0, -1]], old[[0, -1]], atol=1e-6 * size)


def test_hooks_and_tails_add_a_short_flick_at_each_stroke_end(training_digits):
    params = dataclasses.replace(NOTHING, hook_p=1.0)
    digit = next(d for d in training_digits if len(d.strokes) == 2)
    size = float(np.ptp(np.concatenate(digit.strokes), axis=0).max())
    out = augment_strokes(digit.strokes, np.random.default_rng(0), params)
    plain = augment_strokes(digit.strokes, np.random.default_rng(0), NOTHING)
    for new, old in zip(out, plain, strict=True):
        assert len(new) == len(old) + 8  # four points before the first, four after the last
        np.testing.assert_allclose(new[4:-4], old)
        for flick, end in ((new[:4], old[0]), (new[-4:], old[-1])):
            reach = np.linalg.norm(flick - end, axis=1).max()
            assert 0.01 * size < reach <= params.hook[1] * size + 1e-9


def test_gaps_trim_stroke_ends_apart_without_moving_the_rest(training_digits):
    params = dataclasses.replace(NOTHING, gap_p=1.0)
    rng = np.random.default_rng(0)
    two_strokes = [d for d in training_digits if len(d.strokes) == 2][:40]
    trimmed = 0
    for digit in two_strokes:
        size = float(np.ptp(np.concatenate(digit.strokes), axis=0).max())
        out = augment_strokes(digit.strokes, rng, params)
        for new, old in zip(out, digit.strokes, strict=True):
            assert polyline_distance(new, old).max() <= 1e-6 * size
            moved = max(np.linalg.norm(new[0] - old[0]), np.linalg.norm(new[-1] - old[-1]))
            assert moved <= params.gap[1] * size * 1.01
            trimmed += moved > 1e-6 * size
    assert trimmed >= len(two_strokes) // 2  # each end is trimmed with even chance


def test_whole_digit_changes_stay_near_the_digit(training_digits):
    rng = np.random.default_rng(0)
    for digit in training_digits[:200]:
        pts = np.concatenate(digit.strokes)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        size = float((hi - lo).max())
        out = np.concatenate(augment_strokes(digit.strokes, rng))
        assert np.isfinite(out).all()
        centre = (lo + hi) / 2
        assert np.abs(out - centre).max() <= 0.9 * size  # the digit's half-size plus its slant, hooks and warp


@pytest.mark.slow
def test_training_pen_digits_are_redrawn_per_copy_and_styles_add_digits(pendigits_path, monkeypatch):
    import torch

    from trainer import pendigits
    from trainer.train import pen_digit_split

    digits = pendigits.load_pendigits(pendigits_path)[:300]  # a few, to stay fast
    monkeypatch.setenv("DIGITPAD_PENDIGITS", str(pendigits_path))
    monkeypatch.setattr(pendigits, "load_pendigits", lambda path: digits)
    train_writers, _ = split_by_writer(digits)

    plain = pen_digit_split(1, 2)
    # without the options, the same images as before they existed
    assert torch.equal(plain.images, render_split(train_writers, np.random.default_rng(1), copies=2).images)
    redrawn = pen_digit_split(1, 2, stroke_augment=True)
    assert torch.equal(redrawn.labels, plain.labels) and not torch.equal(redrawn.images, plain.images)
    n = len(train_writers)
    assert not torch.equal(redrawn.images[:n], redrawn.images[n:])  # each copy its own drawing

    styled = pen_digit_split(1, 2, styles="slashed-0,g-9")
    counts, before = torch.bincount(styled.labels, minlength=10), torch.bincount(plain.labels, minlength=10)
    assert (counts[[0, 9]] > before[[0, 9]]).all()
    assert torch.equal(counts[[1, 2, 3, 4, 5, 6, 7, 8]], before[[1, 2, 3, 4, 5, 6, 7, 8]])

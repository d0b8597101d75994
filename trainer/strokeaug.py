"""Stroke-level augmentation of pen digits: new drawings of the same digit from a real trajectory.

A pen digit (trainer.pendigits.PenDigit.strokes: (n, 2) arrays in tablet units, y down) is changed the
way another writer, another pen speed or another tablet would change it, before it is placed on the
paper and rendered (trainer.pendigits.render_split):

- resampling: each stroke's points re-spaced along its arc length at a random density, with the pen
  speeding up and slowing down along the stroke (sparse points cut corners, as a fast pen does);
- small gaps between strokes: the ends of a multi-stroke digit's strokes are trimmed a little, and now
  and then a single stroke is lifted for a moment (split in two with a small gap);
- pen-landing hooks and tails: a short flick before a stroke's first point or after its last;
- per-stroke affine jitter: each stroke rotated, scaled and shifted a little about its own centre;
- slant, rotation and aspect of the whole digit;
- a smooth elastic warp: a displacement field of a few random low-frequency waves.

Every size is a fraction of the digit's larger side, so the result does not depend on tablet units.
Each step is vectorized over a digit's points (a digit has tens to a few hundred); a digit takes well
under the time of rendering it (benchmarks/stroke_augment.py measures both). Pure numpy.

    from trainer.strokeaug import StrokeAugment, augment_strokes
    new_strokes = augment_strokes(digit.strokes, np.random.default_rng(0))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_SIZE = 1e-6  # a digit smaller than this (a dot) is left as it is


@dataclass(frozen=True)
class StrokeAugment:
    """How strong each change is; sizes are fractions of the digit's larger side, angles in degrees."""

    spacing: tuple[float, float] = (0.015, 0.07)  # resampled point spacing (pendigits' own is ~0.05)
    speed: float = 0.6  # pen speed varies along a stroke by up to this fraction (0 = even spacing)
    gap_p: float = 0.5  # chance that a multi-stroke digit's strokes are trimmed apart
    gap: tuple[float, float] = (0.01, 0.05)  # arc length trimmed from a stroke end
    lift_p: float = 0.05  # chance that a one-stroke digit is lifted once mid-stroke
    hook_p: float = 0.25  # chance of a hook or tail at each stroke end
    hook: tuple[float, float] = (0.03, 0.09)  # its length
    hook_angle: tuple[float, float] = (20.0, 150.0)  # its turn away from the stroke's own direction
    stroke_rotate: float = 6.0  # per-stroke rotation, +-
    stroke_scale: float = 0.08  # per-stroke scale, 1 +-
    stroke_shift: float = 0.03  # per-stroke shift, +-
    slant: float = 0.3  # shear x += slant * y, +-
    rotate: float = 10.0  # whole-digit rotation, +-
    aspect: float = 0.12  # width scale 1 +- (height kept)
    warp: float = 0.03  # elastic displacement amplitude
    warp_waves: int = 3  # low-frequency waves summed per axis
    warp_wavelength: tuple[float, float] = (0.8, 2.0)


DEFAULT = StrokeAugment()


def augment_strokes(
    strokes: Sequence[np.ndarray], rng: np.random.Generator, params: StrokeAugment = DEFAULT
) -> list[np.ndarray]:
    """A randomly changed copy of a digit's strokes, in the same units and place; the input is not modified."""
    pts = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    if not pts:
        return []
    allpts = np.concatenate(pts)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    size = float((hi - lo).max())
    if size < MIN_SIZE:
        return [p.copy() for p in pts]
    centre = (lo + hi) / 2
    unit = [(p - centre) / size for p in pts]  # the digit's larger side is 1, centred on 0
    unit = _resample_all(unit, rng, params)
    unit = [_add_hooks(s, rng, params) for s in unit]
    unit = [_jitter_stroke(s, rng, params) for s in unit]
    unit = _whole_digit(unit, rng, params)
    return [s * size + centre for s in unit]


# ----------------------------------------------------------------------------- resampling and gaps


def _resample_all(strokes: list[np.ndarray], rng: np.random.Generator, p: StrokeAugment) -> list[np.ndarray]:
    spacing = rng.uniform(*p.spacing)  # one pen, one tablet: the same density for the whole digit
    trim = len(strokes) > 1 and rng.random() < p.gap_p
    out = []
    for stroke in strokes:
        start = rng.uniform(*p.gap) if trim and rng.random() < 0.5 else 0.0
        end = rng.uniform(*p.gap) if trim and rng.random() < 0.5 else 0.0
        out.extend(_resample(stroke, spacing, start, end, rng, p))
    if len(strokes) == 1 and rng.random() < p.lift_p:
        out = _lift(out[0], rng, p) if len(out) == 1 else out
    return out


def _resample(
    stroke: np.ndarray, spacing: float, start: float, end: float, rng: np.random.Generator, p: StrokeAugment
) -> list[np.ndarray]:
    """The stroke re-sampled every ~`spacing` of arc length between `start` and length - `end`."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))])
    length = float(arc[-1])
    if length < 4 * spacing or start + end > 0.5 * length:  # a dot or a short tick: keep as it is
        return [stroke.copy()]
    n = max(2, math.ceil((length - start - end) / spacing) + 1)
    u = np.linspace(0.0, 1.0, n)
    # speed: a monotone warp of the arc-length parameter (|a| < 1 keeps it increasing)
    a = rng.uniform(-p.speed, p.speed)
    phase = rng.uniform(0, 2 * np.pi)
    u = u + a * (np.sin(2 * np.pi * u + phase) - np.sin(phase)) / (2 * np.pi)  # 0 and 1 stay put
    s = start + np.clip(u, 0.0, 1.0) * (length - start - end)
    return [np.stack([np.interp(s, arc, stroke[:, 0]), np.interp(s, arc, stroke[:, 1])], axis=1)]


def _lift(stroke: np.ndarray, rng: np.random.Generator, p: StrokeAugment) -> list[np.ndarray]:
    """The stroke split at a random inner point, leaving a small gap: the pen skipped for a moment."""
    n = len(stroke)
    if n < 8:
        return [stroke]
    cut = int(rng.integers(n // 4, 3 * n // 4))
    step = float(np.linalg.norm(stroke[cut + 1] - stroke[cut])) or 1.0
    skip = max(1, round(rng.uniform(*p.gap) / step))
    return [stroke[:cut], stroke[cut + skip:]] if cut + skip < n - 1 else [stroke]


# ----------------------------------------------------------------------------- hooks and tails


def _add_hooks(stroke: np.ndarray, rng: np.random.Generator, p: StrokeAugment) -> np.ndarray:
    if len(stroke) < 3:
        return stroke
    head = _hook(stroke[0], stroke[0] - stroke[min(2, len(stroke) - 1)], rng, p)
    tail = _hook(stroke[-1], stroke[-1] - stroke[max(-3, -len(stroke))], rng, p)
    parts = [head[::-1]] if head is not None else []
    parts.append(stroke)
    if tail is not None:
        parts.append(tail)
    return np.concatenate(parts) if len(parts) > 1 else stroke


def _hook(end: np.ndarray, outward: np.ndarray, rng: np.random.Generator, p: StrokeAugment) -> np.ndarray | None:
    """Points of a short flick leaving `end`, turned away from the stroke's `outward` direction; or None."""
    norm = float(np.linalg.norm(outward))
    if rng.random() >= p.hook_p or norm < MIN_SIZE:
        return None
    direction = math.atan2(outward[1], outward[0])
    turn = math.radians(rng.uniform(*p.hook_angle)) * rng.choice((-1.0, 1.0))
    length = rng.uniform(*p.hook)
    # a short arc: it leaves along the stroke and bends by `turn`, so a small turn is a tail, a big one a hook
    t = np.linspace(1 / 4, 1.0, 4)
    angles = direction + turn * t
    steps = np.stack([np.cos(angles), np.sin(angles)], axis=1) * (length / 4)
    return end + np.cumsum(steps, axis=0)


# ----------------------------------------------------------------------------- affine changes and the warp


def _rotation(degrees: float) -> np.ndarray:
    r = math.radians(degrees)
    return np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])


def _jitter_stroke(stroke: np.ndarray, rng: np.random.Generator, p: StrokeAugment) -> np.ndarray:
    """One stroke rotated, scaled and shifted a little about its own centre."""
    centre = (stroke.min(axis=0) + stroke.max(axis=0)) / 2
    m = _rotation(rng.uniform(-p.stroke_rotate, p.stroke_rotate)) * rng.uniform(1 - p.stroke_scale, 1 + p.stroke_scale)
    shift = rng.uniform(-p.stroke_shift, p.stroke_shift, size=2)
    return (stroke - centre) @ m.T + centre + shift


def _whole_digit(strokes: list[np.ndarray], rng: np.random.Generator, p: StrokeAugment) -> list[np.ndarray]:
    """Slant, rotation, aspect and the elastic warp, applied to all points at once."""
    lengths = [len(s) for s in strokes]
    pts = np.concatenate(strokes)
    shear = np.array([[1.0, rng.uniform(-p.slant, p.slant)], [0.0, 1.0]])
    aspect = np.diag([rng.uniform(1 - p.aspect, 1 + p.aspect), 1.0])
    m = _rotation(rng.uniform(-p.rotate, p.rotate)) @ shear @ aspect
    pts = pts @ m.T
    pts = pts + _warp_field(pts, rng, p)
    return np.split(pts, np.cumsum(lengths)[:-1])


def _warp_field(pts: np.ndarray, rng: np.random.Generator, p: StrokeAugment) -> np.ndarray:
    """A smooth random displacement at each point: per axis, a sum of plane waves of long wavelength."""
    k = p.warp_waves
    wavelength = rng.uniform(*p.warp_wavelength, size=(2, k))
    angle = rng.uniform(0, 2 * np.pi, size=(2, k))
    wave = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * (2 * np.pi / wavelength)[..., None]  # (2, k, 2)
    phase = rng.uniform(0, 2 * np.pi, size=(2, k))
    amplitude = rng.uniform(0, p.warp, size=(2, k)) / math.sqrt(k)
    return (amplitude * np.sin(np.einsum("nd,akd->nak", pts, wave) + phase)).sum(axis=2)

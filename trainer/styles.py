"""Writing styles that MNIST and our pen digits lack, synthesized from real pen strokes.

Each style takes a real digit of one label (trainer.pendigits.PenDigit.strokes: tablet units, y down)
and adds or changes a piece the way people who write that style do; the digit's own strokes are kept,
so the result is still that writer's hand. A style returns None where a digit does not lend itself
(a 1 that already has a flag, a 7 already crossed, a 9 whose stem is not written downwards ...).

    slashed-0  a slash through the 0, lower left to upper right beyond its box ("Ø")
    flag-1     the European 1: a long up-stroke into the top of the stem from down-left
    crossed-7  a short bar across the 7's stem at about mid-height
    curl-7     the 7's stem ends in a small curl forwards at its foot
    open-4     the open-top 4 in one stroke: upright arm down, bar across to the stem, up and down the stem
    hook-6     the 6's loop left open: only a hook at its foot
    g-9        the 9's stem ends in a leftward curl, like a "g"

The trainer option ``--styles`` (TrainConfig.styles) names the styles to add, "all" or "none"; for each
render copy (``--pen-copies``) each training-writer digit of a styled label gets, with chance STYLE_RATE,
one extra drawing in one of its label's chosen styles (trainer.train.pen_digit_split).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

StyleFn = Callable[[list[np.ndarray], np.random.Generator], "list[np.ndarray] | None"]

STYLE_RATE = 0.5  # chance that a digit of a styled label gets an extra, styled drawing per copy
MIN_SIZE = 1e-6


@dataclass(frozen=True)
class Style:
    name: str
    label: int
    make: StyleFn
    description: str


# ----------------------------------------------------------------------------- geometry helpers


def _box(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pts = np.concatenate(strokes)
    return pts.min(axis=0), pts.max(axis=0)


def _line(a: np.ndarray, b: np.ndarray, n: int, bow: float = 0.0) -> np.ndarray:
    """n points from a to b, bowed sideways by `bow` (a fraction of the length) at the middle."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    d = b - a
    normal = np.array([-d[1], d[0]])
    return a + t * d + bow * np.sin(np.pi * t) * normal


def _curl(end: np.ndarray, heading: float, length: float, target: float, sense: float, n: int = 8) -> np.ndarray:
    """n points continuing from `end` along `heading`, turning in `sense` (+1: clockwise on screen) until it
    heads `target` (radians, y down), over `length`."""
    turn = ((target - heading) * sense) % (2 * np.pi) * sense
    angles = heading + turn * np.linspace(0.0, 1.0, n)
    steps = np.stack([np.cos(angles), np.sin(angles)], axis=1) * (length / n)
    return end + np.cumsum(steps, axis=0)


def _heading(stroke: np.ndarray, back: int = 3) -> float:
    """Direction (radians, y down) of the stroke's last few points."""
    d = stroke[-1] - stroke[max(0, len(stroke) - 1 - back)]
    return math.atan2(d[1], d[0])


def _downward_foot(strokes: list[np.ndarray], height: float) -> tuple[int, float] | None:
    """(the stroke ending at the digit's bottom, its heading there) when the pen is going down, else None."""
    foot = _foot_stroke(strokes, height) if height > MIN_SIZE else None
    if foot is None:
        return None
    heading = _heading(strokes[foot])
    return (foot, heading) if math.sin(heading) > 0.5 else None  # within 60 degrees of straight down


def _copy(strokes: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(s, dtype=np.float64).reshape(-1, 2).copy() for s in strokes if len(s)]


def _foot_stroke(strokes: list[np.ndarray], height: float) -> int | None:
    """The stroke that ends at the digit's bottom (a stem written downwards), or None."""
    bottom = _box(strokes)[1][1]
    for i, s in enumerate(strokes):
        if len(s) >= 3 and float(s[-1, 1]) >= bottom - 0.08 * height:
            return i
    return None


def _off_line(stroke: np.ndarray) -> float:
    """How far the stroke strays from the line through its top and bottom points (a slanted stem: 0)."""
    a, b = stroke[np.argmin(stroke[:, 1])], stroke[np.argmax(stroke[:, 1])]
    d = b - a
    norm = float(np.hypot(*d))
    if norm < MIN_SIZE:
        return 0.0
    return float(np.abs((stroke - a) @ np.array([-d[1], d[0]]) / norm).max())


def stem_crossings(strokes: Sequence[np.ndarray], y: float) -> list[float]:
    """The x of every place where the strokes cross the horizontal line at height `y`."""
    xs = []
    for s in strokes:
        a, b = s[:-1], s[1:]
        hit = (a[:, 1] - y) * (b[:, 1] - y) <= 0
        hit &= a[:, 1] != b[:, 1]
        t = (y - a[hit, 1]) / (b[hit, 1] - a[hit, 1])
        xs.extend((a[hit, 0] + t * (b[hit, 0] - a[hit, 0])).tolist())
    return xs


# ----------------------------------------------------------------------------- the styles


def slashed_zero(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray] | None:
    """The 0 with a slash from below its lower-left corner to above its upper-right one, as a last stroke."""
    out = _copy(strokes)
    lo, hi = _box(out)
    w, h = hi - lo
    if h < MIN_SIZE:
        return None
    start = np.array([lo[0] + rng.uniform(-0.15, 0.1) * w, hi[1] + rng.uniform(0.0, 0.12) * h])
    end = np.array([hi[0] + rng.uniform(-0.1, 0.15) * w, lo[1] - rng.uniform(0.0, 0.12) * h])
    if rng.random() < 0.5:  # written either way
        start, end = end, start
    out.append(_line(start, end, 10, bow=rng.uniform(-0.04, 0.04)))
    return out


def flag_one(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray] | None:
    """The European 1: a long up-stroke from down-left into the stem's top, in the same stroke.

    Skipped for a 1 whose ink strays more than 15% of its height from its (maybe slanted) stem: it has
    a flag or a base already.
    """
    out = _copy(strokes)
    lo, hi = _box(out)
    h = hi[1] - lo[1]
    if h < MIN_SIZE or max(_off_line(s) for s in out) > 0.15 * h:
        return None
    which = int(np.argmin([s[:, 1].min() for s in out]))
    stroke = out[which]
    top_index = int(np.argmin(stroke[:, 1]))
    top = stroke[top_index]
    length = rng.uniform(0.35, 0.55) * h
    angle = math.radians(rng.uniform(30.0, 60.0))  # below the horizontal: a 7's bar is level, this is not
    start = top + length * np.array([-math.cos(angle), math.sin(angle)])
    flag = _line(start, top, 7, bow=rng.uniform(-0.06, 0.06))
    if top_index <= 2:  # the stem starts at its top: one stroke, flag then stem
        out[which] = np.concatenate([flag[:-1], stroke[top_index:]])
    else:
        out.insert(which, flag)
    return out


def crossed_seven(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray] | None:
    """The 7 with a short bar across its stem at 45-60% of its height, as a last stroke.

    Skipped when a 7 already has a short level stroke below its top (crossed already) or its stem
    cannot be found at that height.
    """
    out = _copy(strokes)
    lo, hi = _box(out)
    w, h = hi - lo
    if h < MIN_SIZE:
        return None
    for s in out[1:]:
        s_lo, s_hi = s.min(axis=0), s.max(axis=0)
        if s_hi[1] - s_lo[1] < 0.25 * h and (s_lo[1] + s_hi[1]) / 2 > lo[1] + 0.3 * h:
            return None
    y = lo[1] + rng.uniform(0.45, 0.6) * h
    xs = stem_crossings(out, y)
    if len(xs) != 1:
        return None
    half = rng.uniform(0.12, 0.22) * h
    x = xs[0] + rng.uniform(-0.3, 0.3) * half
    tilt = math.tan(math.radians(rng.uniform(-8.0, 8.0))) * half
    out.append(_line(np.array([x - half, y + tilt]), np.array([x + half, y - tilt]), 6))
    return out


def curled_seven(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray] | None:
    """The 7 whose stem curls forwards (to the right) at its foot; needs the stem written downwards."""
    # leaving to the right, level or a little up
    return _with_foot_curl(strokes, rng, heading_deg=(-30.0, 15.0), size=(0.12, 0.22), sense=-1.0)


def g_nine(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray] | None:
    """The 9 whose stem ends in a curl to the left and up, like a "g"; needs the stem written downwards."""
    # clockwise on screen: down, then left, then up
    return _with_foot_curl(strokes, rng, heading_deg=(200.0, 260.0), size=(0.25, 0.4), sense=1.0, n=10)


def _with_foot_curl(strokes: list[np.ndarray], rng: np.random.Generator, *, heading_deg: tuple[float, float],
                    size: tuple[float, float], sense: float, n: int = 8) -> list[np.ndarray] | None:
    """The strokes with a curl added where the downward stem ends, turning to a heading in `heading_deg`."""
    out = _copy(strokes)
    lo, hi = _box(out)
    h = hi[1] - lo[1]
    found = _downward_foot(out, h)
    if found is None:
        return None
    foot, heading = found
    target = math.radians(rng.uniform(*heading_deg))
    curl = _curl(out[foot][-1], heading, rng.uniform(*size) * h, target, sense=sense, n=n)
    out[foot] = np.concatenate([out[foot], curl])
    return out


def hooked_six(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray] | None:
    """The 6 whose loop stays open: the last 8-18% of its one stroke (the loop's closing arc) is left off.

    Needs a one-stroke 6 written from the top down (its end lower than its start).
    """
    out = _copy(strokes)
    if len(out) != 1 or len(out[0]) < 6:
        return None
    s = out[0]
    lo, hi = _box(out)
    if s[-1, 1] - s[0, 1] < 0.3 * (hi[1] - lo[1]):
        return None
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(s, axis=0), axis=1))])
    keep = arc[-1] * (1.0 - rng.uniform(0.08, 0.18))
    n = int(np.searchsorted(arc, keep))
    end = np.array([np.interp(keep, arc, s[:, 0]), np.interp(keep, arc, s[:, 1])])
    return [np.concatenate([s[:n], end[None]])]


def open_four(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray] | None:
    """The open-top 4 in one stroke, from a two-stroke 4 (arm and bar, then stem).

    The arm is straightened upright above its corner (the top stays open), the bar ends at the stem,
    the pen goes up to the stem's top and down the stem. Skipped unless the first stroke turns at a
    corner from going down to going right and the second is tall (the stem).
    """
    out = _copy(strokes)
    if len(out) != 2 or len(out[0]) < 4:
        return None
    arm_bar, stem = out
    lo, hi = _box(out)
    h = hi[1] - lo[1]
    if h < MIN_SIZE or np.ptp(stem[:, 1]) < 0.6 * h:
        return None
    if stem[0, 1] > stem[-1, 1]:
        stem = stem[::-1]
    corner = int(np.argmax(arm_bar[:, 1] - 0.3 * arm_bar[:, 0]))  # low and left: where the bar starts
    if corner < 1 or corner > len(arm_bar) - 2 or arm_bar[-1, 0] <= arm_bar[corner, 0]:
        return None
    arm, bar = arm_bar[: corner + 1].copy(), arm_bar[corner:]
    if arm[-1, 1] - arm[0, 1] < 0.3 * h or bar[-1, 0] - bar[0, 0] < 0.2 * h:
        return None  # no clear arm going down or bar going right: not a shape to open
    t = (arm[:, 1] - arm[-1, 1]) / min(arm[0, 1] - arm[-1, 1], -MIN_SIZE)  # 1 at the arm's top, 0 at the corner
    lean = rng.uniform(-0.05, 0.05) * h
    arm[:, 0] += t * (arm[-1, 0] + lean - arm[0, 0])
    xs = stem_crossings([stem], float(bar[:, 1].mean()))
    if not xs or xs[0] <= arm[-1, 0]:
        return None
    bar = bar[bar[:, 0] < xs[0]]  # one-stroke 4s turn up at the stem: no overshoot
    meet = np.array([xs[0], bar[-1, 1] if len(bar) else arm[-1, 1]])
    up = _line(meet, stem[0], 6)
    return [np.concatenate([arm, bar, up, stem[1:]])]


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style("slashed-0", 0, slashed_zero, "a slash through the 0"),
        Style("flag-1", 1, flag_one, "the European 1's long flag"),
        Style("crossed-7", 7, crossed_seven, "a bar across the 7's stem"),
        Style("curl-7", 7, curled_seven, "a curl at the 7's foot"),
        Style("open-4", 4, open_four, "the open-top 4 in one stroke"),
        Style("hook-6", 6, hooked_six, "a 6 whose loop is only a hook"),
        Style("g-9", 9, g_nine, "a g-like 9"),
    )
}
NO_STYLES = "none"
ALL_STYLES = "all"


def parse_styles(text: str) -> tuple[str, ...]:
    """'none' -> (), 'all' -> every style, else the comma-separated names; ValueError naming a bad one."""
    names = [n.strip().lower() for n in str(text).split(",") if n.strip()]
    if names in ([], [NO_STYLES]):
        return ()
    if names == [ALL_STYLES]:
        return tuple(STYLES)
    for name in names:
        if name not in STYLES:
            raise ValueError(f"unknown style {name[:40]!r} (choose from {', '.join(STYLES)}, or all, or none)")
    return tuple(dict.fromkeys(names))


def styles_problem(text: str) -> str | None:
    """Why `text` is not a --styles value, or None (TrainConfig's check)."""
    try:
        parse_styles(text)
    except ValueError as exc:
        return str(exc)
    return None


def styled_variants(digits: Sequence, names: Sequence[str], rng: np.random.Generator) -> list:
    """Extra digits: each digit of a styled label, with chance STYLE_RATE, redrawn in one of its label's styles.

    `digits` are trainer.pendigits.PenDigit; the extras keep their label and writer.
    """
    from trainer.pendigits import PenDigit

    by_label: dict[int, list[Style]] = {}
    for name in names:
        by_label.setdefault(STYLES[name].label, []).append(STYLES[name])
    extras = []
    for digit in digits:
        styles = by_label.get(digit.label)
        if not styles or rng.random() >= STYLE_RATE:
            continue
        style = styles[int(rng.integers(len(styles)))]
        strokes = style.make(digit.strokes, rng)
        if strokes is not None:
            extras.append(PenDigit(digit.label, digit.writer, strokes))
    return extras

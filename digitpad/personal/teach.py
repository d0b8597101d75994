"""The "Teach me your handwriting" session as a plain object: which digit to ask for next, and what it taught.

The session asks for each digit REPEATS times in a random order ("Write a 4"), collects the drawings,
and at the end measures what teaching bought on the person's own digits, cross-validated: each taught
drawing is read by a model personalized on the *other* drawings (plus any examples the person had
before), never by one adapted to that drawing itself. Qt-free; the widget renders it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainer.personal_examples import Example
from trainer.preprocess import Strokes
from trainer.sizes import NUM_CLASSES

REPEATS = 3  # drawings asked of each digit: 30 in all, about a minute


class TeachState(enum.Enum):
    ASKING = "asking"  # waiting for the drawing of `current`
    DONE = "done"      # every prompt answered


@dataclass(frozen=True)
class TeachResult:
    """Accuracy on the taught drawings before teaching and after it (cross-validated), as fractions."""

    before: float
    after: float
    count: int

    def summary(self) -> str:
        return (f"On your {self.count} digits: {self.before:.0%} read right before, "
                f"{self.after:.0%} after teaching (each digit read by a model that never saw it)")


class TeachSession:
    """Prompts for each digit `repeats` times in a seeded random order and collects the answers."""

    def __init__(self, repeats: int = REPEATS, seed: int | None = None) -> None:
        prompts = np.repeat(np.arange(NUM_CLASSES), repeats)
        np.random.default_rng(seed).shuffle(prompts)
        self.prompts: list[int] = [int(d) for d in prompts]
        self.examples: list[Example] = []

    @property
    def state(self) -> TeachState:
        return TeachState.DONE if len(self.examples) == len(self.prompts) else TeachState.ASKING

    @property
    def current(self) -> int | None:
        """The digit to write now; None when the session is done."""
        return self.prompts[len(self.examples)] if self.state is TeachState.ASKING else None

    @property
    def progress(self) -> tuple[int, int]:
        """(drawings given, drawings asked for)."""
        return len(self.examples), len(self.prompts)

    def prompt(self) -> str:
        done, total = self.progress
        return "Thank you!" if self.current is None else f"Write a {self.current}  ({done + 1} of {total})"

    def submit(self, strokes: Strokes) -> Example:
        """The drawing for the current prompt; ValueError when done or when nothing was drawn."""
        if self.current is None:
            raise ValueError("the teaching session is over")
        example = Example.of(strokes, self.current)
        self.examples.append(example)
        return example

    def undo(self) -> None:
        """Take back the last drawing (asked again next)."""
        if self.examples:
            self.examples.pop()


def folds(examples: Sequence[Example], count: int = REPEATS) -> list[list[int]]:
    """Indices split into `count` folds, each holding about one drawing of every digit."""
    seen: dict[int, int] = {}
    out: list[list[int]] = [[] for _ in range(count)]
    for i, example in enumerate(examples):
        k = seen.get(example.label, 0)
        seen[example.label] = k + 1
        out[k % count].append(i)
    return [fold for fold in out if fold]


def evaluate(recognizer, taught: Sequence[Example], earlier: Sequence[Example] = ()) -> TeachResult:
    """Before: `recognizer` (personalized on `earlier`, if any) on the taught drawings. After: for each fold,
    a model personalized on `earlier` + the other folds reads that fold. Slow (one rebuild per fold):
    run it on a worker thread."""
    if not taught:
        raise ValueError("nothing was taught")
    before_model = recognizer.personalized(list(earlier)) if earlier else recognizer
    before = np.mean([before_model.predict_strokes(ex.arrays()).digit == ex.label for ex in taught])
    right = 0
    for fold in folds(taught):
        held = set(fold)
        model = recognizer.personalized([*earlier, *(ex for i, ex in enumerate(taught) if i not in held)])
        right += sum(model.predict_strokes(taught[i].arrays()).digit == taught[i].label for i in fold)
    return TeachResult(before=float(before), after=right / len(taught), count=len(taught))

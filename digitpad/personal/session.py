"""The window's personalization state, without Qt: the store, the two toggles and the personalized model.

The window asks this object what to do and runs its rebuilds on a worker thread:

    state.set_base(rec)                  # a model was loaded: the personalized one is for the old base
    state.record(strokes, 4, ...)        # the user said what a drawing is (None when learning is off)
    job = state.want_rebuild()           # a job to start now, or None while one runs (it is redone after)
    state.rebuilt(job, personal)         # True: swap it in; a job for an older state is dropped
    state.active()                       # what recognition should use now

Every change (a new base, stored or deleted examples) bumps `generation`; a rebuild started for an
older generation never replaces the result of a newer one. One rebuild runs at a time: the first one
for a base builds the replay features (seconds), and two at once would build them twice.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digitpad.personal.store import Store
from trainer.personal_examples import Example, ExampleKind

if TYPE_CHECKING:
    from digitpad.recognizer import Recognizer


@dataclass(frozen=True)
class RebuildJob:
    """One rebuild: the base model and a snapshot of the examples, for the state's `generation` then."""

    generation: int
    base: Recognizer
    examples: tuple[Example, ...]

    def run(self) -> Recognizer | None:
        """On a worker thread: the personalized model, or None for no examples (the replay is built anyway,
        so the first correction is in use within about a second)."""
        from digitpad.personal.adapt import personalizer_for

        personalizer_for(self.base)
        return self.base.personalized(list(self.examples)) if self.examples else None


def learned_text(label: int, kind: ExampleKind) -> str:
    """What the Draw tab says once an example is stored."""
    if kind is ExampleKind.CONFIRMATION:
        return f"Learned: that is a {label}"
    return f"Learned: that was a {label}"


class PersonalState:
    """The store (None when it cannot be opened), the toggles, and the personalized recognizer."""

    def __init__(self, store: Store | None, *, learning: bool = True, use_mine: bool = True) -> None:
        self.store = store
        self.learning = learning
        self.use_mine = use_mine
        self.base: Recognizer | None = None
        self.personal: Recognizer | None = None  # built from `personal_count` examples for `base`
        self.personal_count = 0
        self.generation = 0
        self.failure = ""                        # why the last rebuild failed, if it did
        self._running: RebuildJob | None = None
        self._wanted = False                     # something changed while a rebuild ran
        self._last: tuple[int, Example] | None = None  # the row stored for the drawing now on the paper

    # ------------------------------------------------------------------ reading

    def count(self) -> int:
        return self.store.count() if self.store is not None else 0

    def active(self) -> Recognizer | None:
        """The recognizer to read drawings with: the personalized one when wanted and ready, else the base."""
        if self.use_mine and self.personal is not None:
            return self.personal
        return self.base

    @property
    def rebuilding(self) -> bool:
        return self._running is not None

    def status_text(self) -> str:
        """The status bar's line about personalization ("" with no examples)."""
        count = self.count()
        if self.store is None:
            return "Your digits cannot be saved"
        if count == 0 or self.base is None:
            return ""
        if not self.use_mine:
            return f"Plain model ({count} of your digits not used)"
        if self.failure:
            return f"Plain model: {self.failure}"
        if self.personal is not None and self.personal_count == count and not self.rebuilding:
            return f"Personalized with {count} of your digits"
        return f"Personalizing with {count} of your digits…"

    # ------------------------------------------------------------------ changing

    def set_base(self, base: Recognizer) -> None:
        """A new base model is in use: the personalized model is rebuilt for it."""
        if base is self.base or base is self.personal:
            return
        self.base = base
        self.personal = None
        self.personal_count = 0
        self.failure = ""
        self.generation += 1

    def changed(self) -> None:
        """The stored examples changed elsewhere (My Digits, an import): whatever is built is outdated."""
        self.generation += 1
        self._last = None

    def forget_drawing(self) -> None:
        """The paper changed: a correction now is about a new drawing, not a relabelling of the last one."""
        self._last = None

    def record(self, example: Example, *, predicted: int | None, model: str, kind: ExampleKind) -> int | None:
        """Store what the user said a drawing is; its id, or None when learning is off (nothing stored).

        Saying twice what the same drawing is (a slip, then the right digit) replaces the first answer.
        StoreError when the database cannot be written.
        """
        if not self.learning or self.store is None:
            return None
        if self._last is not None and self._last[1].strokes == example.strokes:
            with contextlib.suppress(KeyError):  # deleted in My Digits meanwhile
                self.store.delete(self._last[0])
        example_id = self.store.add(example, predicted=predicted, model=model, kind=kind)
        self._last = (example_id, example)
        self.generation += 1
        return example_id

    def want_rebuild(self) -> RebuildJob | None:
        """The job to start now for the current state; None while one runs (another follows it) or without a base."""
        if self.base is None:
            return None
        if self._running is not None:
            self._wanted = True
            return None
        examples = tuple(self.store.examples()) if self.store is not None else ()
        self._running = RebuildJob(self.generation, self.base, examples)
        self._wanted = False
        return self._running

    def rebuilt(self, job: RebuildJob, personal: Recognizer | None) -> bool:
        """A rebuild ended; True when its model is now the personalized one (it is not for an outdated state)."""
        self._running = None
        if job.generation != self.generation or job.base is not self.base:
            self._wanted = True
            return False
        self.personal = personal
        self.personal_count = len(job.examples)
        self.failure = ""
        return True

    def rebuild_failed(self, message: str) -> None:
        self._running = None
        self.failure = message[:200]

    def follow_up(self) -> RebuildJob | None:
        """After a rebuild ended: the next one, when the state changed while it ran."""
        return self.want_rebuild() if self._wanted else None

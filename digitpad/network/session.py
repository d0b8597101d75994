"""The models of this session, for the comparison strip (Qt-free).

Every model put to use joins once (the bundled one, Train-tab runs, files opened); using a model
again keeps its place. At most MAX_MODELS are kept: the oldest goes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digitpad.recognizer import Recognizer

MAX_MODELS = 8   # the strip shows this many at most (each costs one prediction per update)


def model_label(recognizer: Recognizer, name: str | None = None) -> str:
    """How a model is called in the strip: the name it was put to use with, else its file's name and architecture."""
    return name or f"{recognizer.name} ({recognizer.arch})"


@dataclass
class SessionModels:
    entries: list[tuple[str, Recognizer]] = field(default_factory=list)
    current: Recognizer | None = None

    def use(self, recognizer: Recognizer, name: str | None = None) -> None:
        """`recognizer` is the model in use now; it joins the list if it is new to it."""
        self.current = recognizer
        path = recognizer.checkpoint.path
        for i, (_label, known) in enumerate(self.entries):
            same_file = path is not None and known.checkpoint.path is not None and known.checkpoint.path == path
            if known is recognizer or same_file:
                self.entries[i] = (model_label(recognizer, name), recognizer)  # a reloaded file: the new object
                return
        self.entries.append((model_label(recognizer, name), recognizer))
        if len(self.entries) > MAX_MODELS:
            self.entries.remove(next(e for e in self.entries if e[1] is not recognizer))

    def labels(self) -> list[str]:
        return [label for label, _rec in self.entries]

    def current_index(self) -> int | None:
        return next((i for i, (_l, rec) in enumerate(self.entries) if rec is self.current), None)

"""Moved to trainer.personal_examples (the trainer reads personal examples too); kept for old imports."""

from trainer.personal_examples import *  # noqa: F401,F403
from trainer.personal_examples import Example, ExampleKind, as_examples  # noqa: F401

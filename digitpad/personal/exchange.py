"""Moved to trainer.personal_file (the trainer reads export files too); kept for old imports."""

from trainer.personal_file import *  # noqa: F401,F403
from trainer.personal_file import ExchangeError, ImportReport, export_examples, import_examples, read_examples  # noqa: F401

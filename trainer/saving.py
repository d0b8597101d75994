"""Keep a trained model when the path asked for cannot take it (a full disk, a folder gone read-only).

A run's model exists only in memory until it is saved: losing it to a failed save loses the
whole run. `save_with_fallback` tries the path asked for, then the runs folders below, and says
in one line what went wrong and where the model went.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.errors import DigitpadError, describe_error, is_disk_full

if TYPE_CHECKING:
    from trainer.train import TrainResult

FALLBACK_ENV = "DIGITPAD_RUNS"  # a folder for models that could not be saved where asked


def fallback_dirs() -> list[Path]:
    """Where a model goes when its own path cannot take it: $DIGITPAD_RUNS, the user's data folder, temp."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    dirs = [data_home / "digitpad" / "runs", Path(tempfile.gettempdir()) / "digitpad-runs"]
    return ([Path(os.environ[FALLBACK_ENV])] if os.environ.get(FALLBACK_ENV) else []) + dirs


def save_with_fallback(result: TrainResult, out: Path) -> tuple[Path, str | None]:
    """Save to `out`; when that fails, to a fallback folder: (where it went, a one-line problem or None)."""
    try:
        return result.save(out), None
    except (DigitpadError, OSError) as exc:
        reason = "the disk is full" if is_disk_full(exc) else describe_error(exc)
    name = f"{out.stem or 'model'}-{time.strftime('%Y%m%d-%H%M%S')}{out.suffix or '.pt'}"
    for folder in fallback_dirs():
        if folder.resolve() == out.parent.resolve():
            continue
        try:
            saved = result.save(folder / name)
        except (DigitpadError, OSError):
            continue
        return saved, f"could not save the model to {out}: {reason}; saved it to {saved} instead"
    raise DigitpadError(f"could not save the model to {out}: {reason}; no fallback folder could take it either")

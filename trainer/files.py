"""Look at a path before opening it: only regular files are read (a FIFO would block the reader forever)."""

from __future__ import annotations

import os
import stat

from trainer.errors import DigitpadError


def regular_file(path: str | os.PathLike, error: type[DigitpadError], what: str) -> os.stat_result:
    """`path`'s stat if it is a regular file; otherwise `error` saying what it is. Never opens it.

    `what` names what was expected, for the message: "an image", "a model file".
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a directory, not {what}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file (a {file_kind(info.st_mode)}); only {what} can be read")
    return info


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"

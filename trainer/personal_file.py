"""Export and import personal examples: a versioned JSON Lines file, read line by line within fixed caps.

Format ``digitpad-digits``, version 1, UTF-8, one JSON object per line::

    {"format": "digitpad-digits", "version": 1, "paper_size": 400.0}
    {"label": 4, "strokes": [[[112.0, 80.5], [118.2, 96.0], ...], [[...], ...]]}
    {"label": 7, "strokes": [...]}

The first line is the header: ``format`` and ``version`` (a reader refuses a newer version),
``paper_size`` the side of the square paper the coordinates refer to (trainer.sizes.PAPER_SIZE).
Every other line is one example: ``label`` an integer 0-9 and ``strokes`` a list of strokes, each
a list of ``[x, y]`` points in paper units (y down). Other keys are ignored, so later versions
may add some. Blank lines are skipped.

Import checks every line; a bad line is reported with its number and skipped, the rest are
imported. Absurd input costs bounded memory: the file size, each line's length, the number of
examples and each example's points (`trainer.personal_examples.MAX_POINTS`) are capped, and
NaN or infinite coordinates are refused.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from trainer.errors import DataError
from trainer.personal_examples import Example
from trainer.sizes import PAPER_SIZE

FORMAT_NAME = "digitpad-digits"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024   # a class's pooled digits are a few MB; anything this big is not ours
MAX_LINE_BYTES = 1024 * 1024        # one example of MAX_POINTS points, written compactly, is about 0.4 MB
MAX_EXAMPLES = 100_000
MAX_PROBLEMS = 20                   # bad lines described in full; the rest only counted
SNIPPET = 60                        # characters of a bad value quoted in a message


class ExchangeError(DataError):
    """The file cannot be imported or written at all (not ours, too big, unreadable); one line of text."""


@dataclass
class ImportReport:
    """What an import found: the good examples, and one message per bad line (up to MAX_PROBLEMS)."""

    examples: list[Example] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    bad_lines: int = 0

    def summary(self) -> str:
        text = f"{len(self.examples)} example{'s' * (len(self.examples) != 1)} read"
        if self.bad_lines:
            text += f", {self.bad_lines} bad line{'s' * (self.bad_lines != 1)} skipped"
        return text


# ------------------------------------------------------------------ export


def export_examples(path: str | os.PathLike, examples: Iterable[Example]) -> int:
    """Write `examples` to `path` (atomically: the old file stays until the new one is complete); how many."""
    path = Path(path)
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "paper_size": PAPER_SIZE}
    count = 0
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExchangeError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(header) + "\n")
            for example in examples:
                f.write(json.dumps({"label": example.label, "strokes": example.strokes}, separators=(",", ":")))
                f.write("\n")
                count += 1
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ExchangeError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return count


# ------------------------------------------------------------------ import


def import_examples(path: str | os.PathLike) -> ImportReport:
    """Read an export file; ExchangeError when the file as a whole is refused (see the module docstring)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ExchangeError(f"{path.name} is {size / 2**20:.0f} MB: too big for a file of digits "
                                f"(at most {MAX_FILE_BYTES // 2**20} MB)")
        with open(path, "rb") as f:
            return read_examples(f, path.name)
    except OSError as exc:
        raise ExchangeError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_examples(f: BinaryIO, name: str) -> ImportReport:
    """Read an export from an open binary stream, within the caps (the stream may be longer than it says)."""
    report = ImportReport()
    total = 0
    lineno = 0
    header_seen = False
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            break
        lineno += 1
        total += len(raw)
        if len(raw) > MAX_LINE_BYTES:
            total += _skip_rest_of_line(f)
            _problem(report, lineno, f"longer than {MAX_LINE_BYTES // 1024} KB")
        elif raw.strip():
            if not header_seen:
                _check_header(raw, name)
                header_seen = True
            else:
                _read_line(report, lineno, raw)
        if total > MAX_FILE_BYTES:
            raise ExchangeError(f"{name}: more than {MAX_FILE_BYTES // 2**20} MB: too big for a file of digits")
        if len(report.examples) > MAX_EXAMPLES:
            raise ExchangeError(f"{name}: more than {MAX_EXAMPLES:,} examples")
    if not header_seen:
        raise ExchangeError(f"{name}: empty file, not a {FORMAT_NAME} export")
    return report


def _skip_rest_of_line(f: BinaryIO) -> int:
    skipped = 0
    while True:
        chunk = f.readline(MAX_LINE_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n") or skipped > MAX_FILE_BYTES:
            return skipped


def _check_header(raw: bytes, name: str) -> None:
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ExchangeError(f"{name}: not a {FORMAT_NAME} export (its first line should name the format)")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ExchangeError(f"{name}: invalid format version {_quote(version)}")
    if version > FORMAT_VERSION:
        raise ExchangeError(f"{name}: written by a newer digitpad (format version {version}; this one reads "
                            f"up to {FORMAT_VERSION})")
    paper = header.get("paper_size", PAPER_SIZE)
    if paper != PAPER_SIZE:
        raise ExchangeError(f"{name}: paper size {_quote(paper)}, expected {PAPER_SIZE:g}")


def _read_line(report: ImportReport, lineno: int, raw: bytes) -> None:
    try:
        item = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        _problem(report, lineno, f"not valid JSON ({str(exc)[:SNIPPET]})")
        return
    if not isinstance(item, dict):
        _problem(report, lineno, "not a JSON object")
        return
    label, strokes = item.get("label"), item.get("strokes")
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        _problem(report, lineno, f"label {_quote(label)} is not a digit 0-9")
        return
    if not isinstance(strokes, list) or not all(isinstance(s, list) for s in strokes):
        _problem(report, lineno, "strokes should be a list of strokes, each a list of [x, y] points")
        return
    if not all(_is_point(p) for s in strokes for p in s):
        _problem(report, lineno, "every point should be [x, y] with finite numbers")
        return
    try:
        report.examples.append(Example.of(strokes, label))
    except ValueError as exc:
        _problem(report, lineno, str(exc))


def _is_point(p: object) -> bool:
    if not (isinstance(p, list) and len(p) == 2):
        return False
    try:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
    except OverflowError:  # an integer too big for a float
        return False


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _problem(report: ImportReport, lineno: int, text: str) -> None:
    report.bad_lines += 1
    if len(report.problems) < MAX_PROBLEMS:
        report.problems.append(f"line {lineno}: {text}")


def _quote(value: object) -> str:
    text = repr(value)
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "..."

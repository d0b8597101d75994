"""Read a number drawn as strokes: the pieces are the strokes in writing order, some cut in two.

A stroke wide enough to hold two digits written without lifting the pen may be cut where cuts.py
proposes; its parts are consecutive pieces with the stroke as their owner, so the dynamic program
either keeps them together (no cut) or puts a digit boundary between them (a cut, at CUT_COST).
The grouping is chosen from the candidates' images; each chosen digit is then read from its image and
its pen path together (penpath.py), as predict_strokes reads a single digit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitpad.numbers.candidates import MAX_PIECES, Candidate, reference_height, stroke_boxes
from digitpad.numbers.cuts import cut_points, without_connector
from digitpad.numbers.links import stroke_links
from digitpad.numbers.penpath import drawing_probabilities
from digitpad.numbers.reading import NumberReading
from digitpad.numbers.segment import CandidateTable, candidate_table, read_pieces
from digitpad.recognizer import Recognizer, Views
from trainer.errors import DataError, NothingDrawnError
from trainer.preprocess import Strokes, indexed_strokes, lines_to_mnist

Part = tuple[int, int, int]  # (stroke, first point, stop point): a piece of a stroke in the cleaned strokes
# Whether predict_number cuts strokes by default. On since the judge sees how pieces' ink meets
# (links.py): single validation-writer digits kept whole 99.95% of 1,999 with cuts and without, above the
# 99.8% gate cutting had to pass (benchmarks/number_reading.py; the README gives the figures).
CUT_STROKES = True
# A drawing of more strokes is refused (DataError) before any work: every stroke makes up to MAX_PIECES
# candidates to render and read, and 400 random strokes took 2.1 s (a 40-digit number has about 80).
MAX_STROKES = 200
MAX_PARTS = 2 * MAX_STROKES  # strokes are cut only while the pieces stay within this many


def may_hold_several(strokes: Strokes) -> bool:
    """Whether a drawing may be more than one digit: two strokes or more, or one stroke that may be cut."""
    lines, _ = indexed_strokes(strokes)
    if len(lines) != 1:
        return len(lines) > 1
    return CUT_STROKES and bool(cut_points(lines[0], reference_height(stroke_boxes(lines))))


def stroke_parts(lines: list[np.ndarray], ref: float, cut: bool = True) -> list[Part]:
    """The pieces in writing order: each stroke whole, or in parts at its proposed cut points."""
    parts = []
    for index, line in enumerate(lines):
        edges = [0, *(cut_points(line, ref) if cut else []), len(line)]
        parts += [(index, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return parts


def candidate_ink(lines: list[np.ndarray], parts: list[Part], cand: Candidate) -> list[np.ndarray]:
    """A candidate's strokes: its parts, the consecutive parts of one stroke joined back into one line."""
    ink: list[np.ndarray] = []
    span = parts[cand.start : cand.stop]
    for k, (stroke, first, _) in enumerate(span):
        if k and span[k - 1][0] == stroke:
            continue
        last = max(b for s, _, b in span if s == stroke)
        ink.append(lines[stroke] if (first, last) == (0, len(lines[stroke])) else lines[stroke][first:last])
    return ink


@dataclass
class StrokePieces:
    """A drawing's pieces: parts of its (cleaned) strokes, their owners and boxes, and the digit height."""

    lines: list[np.ndarray]
    parts: list[Part]
    ref: float

    @classmethod
    def of(cls, lines: list[np.ndarray], cut: bool = True) -> StrokePieces:
        ref = reference_height(stroke_boxes(lines))
        parts = stroke_parts(lines, ref, cut)
        return cls(lines, parts if len(parts) <= MAX_PARTS else stroke_parts(lines, ref, False), ref)

    @property
    def owner(self) -> np.ndarray:
        return np.array([p[0] for p in self.parts])

    @property
    def boxes(self) -> np.ndarray:
        return stroke_boxes(self.part_lines)

    @property
    def part_lines(self) -> list[np.ndarray]:
        return [self.lines[s][a:b] for s, a, b in self.parts]

    @property
    def links(self) -> np.ndarray:
        return stroke_links(self.part_lines, self.ref)

    def ink(self, cand: Candidate) -> list[np.ndarray]:
        return candidate_ink(self.lines, self.parts, cand)

    def render(self, cand: Candidate) -> np.ndarray:
        return lines_to_mnist(self.ink(cand))

    def reading_ink(self, cand: Candidate) -> list[np.ndarray]:
        """The candidate's ink as a chosen digit is read: at a cut, without the connecting line (cuts.py)."""
        ink = list(self.ink(cand))
        cut_start, cut_end = self.cut_ends(cand)
        if cut_start:
            ink[0] = without_connector(ink[0], True, self.ref)
        if cut_end:
            ink[-1] = without_connector(ink[-1], False, self.ref)
        return ink

    def cut_ends(self, cand: Candidate) -> tuple[bool, bool]:
        """Whether the candidate begins inside a stroke, and whether it ends inside one."""
        (_, first, _), (stroke, _, stop) = self.parts[cand.start], self.parts[cand.stop - 1]
        return first > 0, stop < len(self.lines[stroke])

    def table(self, rec: Recognizer) -> CandidateTable:
        """Every candidate read (segment.candidate_table)."""
        return candidate_table(rec, self.boxes, self.render, MAX_PIECES, self.owner, self.ref, links=self.links)

    def merged_parts(self, cand: Candidate, ids: list[int] | None = None) -> list[Part]:
        """The candidate's ink as parts, one per stroke, strokes named by `ids` (default: cleaned indices)."""
        name = ids if ids is not None else list(range(len(self.lines)))
        return _merged([(name[s], a, b) for s, a, b in self.parts[cand.start : cand.stop]])


def read_strokes(rec: Recognizer, strokes: Strokes,
                 judge: Callable[[CandidateTable], np.ndarray] | None = None, cut: bool | None = None) -> NumberReading:
    """Segment strokes (any units, y down) into digits and read them; NothingDrawnError when there is no ink.

    `cut`: strokes may be cut where two digits are joined (cuts.py); False keeps every stroke whole;
    None: CUT_STROKES.
    """
    cut = CUT_STROKES if cut is None else cut
    lines, ids = indexed_strokes(strokes)   # DataError for what is not strokes
    if not lines:
        raise NothingDrawnError("nothing drawn")
    if len(lines) > MAX_STROKES:
        raise DataError(f"too many strokes to read as a number: {len(lines):,} (at most {MAX_STROKES})")
    pieces = StrokePieces.of(lines, cut)

    def reread(chosen: list[Candidate], image_probs: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inks = [pieces.reading_ink(c) for c in chosen]
        redo = [row for row, c in enumerate(chosen) if any(pieces.cut_ends(c))]  # tails off: new images
        if redo:
            images, image_probs = images.copy(), image_probs.copy()
            images[redo] = np.stack([lines_to_mnist(inks[row]) for row in redo])
            image_probs[redo] = rec.predict_batch(images[redo], Views.ONE)
        return drawing_probabilities(rec, inks, image_probs), images

    reading, chosen = read_pieces(rec, pieces.boxes, pieces.render, MAX_PIECES, judge, piece_ids=ids,
                                  reread=reread, owner=pieces.owner, ref=pieces.ref, links=pieces.links)
    reading.parts = [pieces.merged_parts(c, ids) for c in chosen]
    return reading


def digit_ink(reading: NumberReading, index: int, strokes: Strokes) -> list[np.ndarray]:
    """The ink of the reading's digit `index` in `strokes` (the strokes it was read from): its strokes, and
    only its own part of a stroke that was cut between two digits. Strokes `strokes` no longer has (an
    undo since the reading) are left out."""
    if not reading.parts:  # a reading without parts (a picture's): whole strokes by group
        return [np.asarray(strokes[i], dtype=np.float64).reshape(-1, 2) for i in reading.groups[index]
                if i < len(strokes)]
    out = []
    for stroke, first, stop in reading.parts[index]:
        if stroke < len(strokes):
            lines, _ = indexed_strokes([strokes[stroke]])
            out += [line[first:stop] for line in lines]
    return out


def _merged(parts: list[Part]) -> list[Part]:
    """Consecutive parts of one stroke as one part."""
    out: list[Part] = []
    for stroke, first, stop in parts:
        if out and out[-1][0] == stroke and out[-1][2] == first:
            out[-1] = (stroke, out[-1][1], stop)
        else:
            out.append((stroke, first, stop))
    return out

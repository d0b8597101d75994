"""Read a number in a picture: the pieces are the ink's connected components, left to right.

A picture has no writing order, so components are ordered by their centres from left to right and a
digit is a run of consecutive components (a 5's detached bar, a broken stroke). Each candidate is cut
out with only its own components' ink and goes through trainer.preprocess.image_to_mnist, the image path
of single digits. Digits whose ink touches are one component: a component wide enough for two digits
is also offered in column slices, cut where little ink crosses a column (touching_cuts), and the
slices are pieces owned by their component, so recognition decides whether the component is cut
(at segment.CUT_COST per cut), as for a stroke that joins two digits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from digitpad.numbers.candidates import MAX_PIECES, Candidate, reference_height, union_box
from digitpad.numbers.links import point_links
from digitpad.numbers.reading import NumberReading
from digitpad.numbers.segment import CandidateTable, read_pieces
from digitpad.recognizer import Recognizer
from trainer.errors import NothingDrawnError
from trainer.preprocess import _ink_layer, _to_gray, image_to_mnist

INK_THRESHOLD = 0.35     # ink layer values above this are part of a component (anti-aliased edges fade below)
SPECK_SHARE = 0.01       # components smaller than this share of the largest one (and ...
SPECK_PIXELS = 4         # ... than this many pixels at least) are dust, not ink
MAX_SIDE = 1200          # bigger pictures are shrunk to this side first: components, not detail, matter here
CROP_PAD = 0.1           # a candidate's crop gets this share of its size as empty border (image_to_mnist reads
                         # the background from the border; a thin 1 touching it would look like paper)
# touching_cuts: components at least CUT_WIDTH digit heights wide are cut at up to MAX_CUTS columns where
# the ink (smoothed over SMOOTH digit heights) is thinnest, each part at least MIN_SIDE digit heights wide.
CUT_WIDTH = 0.9
MIN_SIDE = 0.25
SMOOTH = 0.05
MAX_CUTS = 3


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a boolean mask: (labels, count), labels 1..count, 0 = background.

    Runs of ink per row are joined to the touching runs of the row above with a union-find, so the work
    grows with the number of runs, not of pixels.
    """
    runs: list[tuple[int, int, int]] = []   # (row, start, stop)
    for row in range(mask.shape[0]):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], mask[row].view(np.uint8), [0]))))
        runs += [(row, int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True)]
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    above_start = above_stop = 0       # runs of the previous row: runs[above_start:above_stop]
    current = 0
    while current < len(runs):
        row = runs[current][0]
        row_end = current
        while row_end < len(runs) and runs[row_end][0] == row:
            row_end += 1
        for k in range(current, row_end):
            _, start, stop = runs[k]
            for j in range(above_start, above_stop):
                if runs[j][0] == row - 1 and runs[j][1] <= stop and runs[j][2] >= start:  # touching, diagonals too
                    parent[find(j)] = find(k)
        above_start, above_stop, current = current, row_end, row_end
    labels = np.zeros(mask.shape, dtype=np.int32)
    roots: dict[int, int] = {}
    for k, (row, start, stop) in enumerate(runs):
        labels[row, start:stop] = roots.setdefault(find(k), len(roots) + 1)
    return labels, len(roots)


def ink_components(image: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ink layer, labels, boxes): the picture's ink in [0, 1] and its components (dust dropped), left to right.

    boxes[k] = (left, top, right, bottom) in pixels of the (possibly shrunk) ink layer; labels use k + 1.
    """
    ink = _ink_layer(_shrunk(_to_gray(image)))
    labels, count = label_components(ink > INK_THRESHOLD)
    if count == 0:
        raise NothingDrawnError("nothing drawn: the image is blank")
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep = np.flatnonzero(areas >= max(SPECK_PIXELS, SPECK_SHARE * areas.max())) + 1
    boxes = []
    for lab in keep:
        rows, cols = np.nonzero(labels == lab)
        boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
    boxes_arr = np.array(boxes, dtype=np.float64)
    order = np.argsort((boxes_arr[:, 0] + boxes_arr[:, 2]) / 2, kind="stable")
    relabelled = np.zeros_like(labels)
    for new, k in enumerate(order, 1):
        relabelled[labels == keep[k]] = new
    return ink, relabelled, boxes_arr[order]


def read_image(rec: Recognizer, image: Any,
               judge: Callable[[CandidateTable], np.ndarray] | None = None, cut: bool = True) -> NumberReading:
    """Segment a picture's ink into digits and read them; groups list component indices (left to right).

    `cut`: a wide component may be cut into digits (touching_cuts); False keeps every component whole.
    """
    ink, labels, boxes = ink_components(image)
    ref = reference_height(boxes)
    slices = []  # (component label, first column, stop column) in left-to-right order
    for k, (left, _, right, _) in enumerate(boxes.astype(int)):
        edges = [left, *(touching_cuts(labels, k + 1, boxes[k], ref) if cut else []), right]
        slices += [(k + 1, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    owner = np.array([lab - 1 for lab, _, _ in slices])
    piece_boxes = np.array([_slice_box(labels, *piece) for piece in slices], dtype=np.float64)

    def render(cand: Candidate) -> np.ndarray:
        left, top, right, bottom = union_box(piece_boxes[cand.start : cand.stop]).astype(int)
        window = labels[top:bottom, left:right]
        cols = np.arange(left, right)[None, :]
        keep = np.zeros(window.shape, dtype=bool)
        for lab, a, b in slices[cand.start : cand.stop]:
            keep |= (window == lab) & (cols >= a) & (cols < b)
        crop = np.where(keep, ink[top:bottom, left:right], 0.0)
        pad = max(2, int(CROP_PAD * max(crop.shape)))
        return image_to_mnist(np.pad(crop.astype(np.float32), pad))

    links = point_links([_edge_points(labels, *piece) for piece in slices], ref)
    return read_pieces(rec, piece_boxes, render, MAX_PIECES, judge, owner=owner, ref=ref, links=links)[0]


def _edge_points(labels: np.ndarray, label: int, first: int, stop: int) -> np.ndarray:
    """(n, 2) x, y of a piece's outline pixels: the ink closest to a neighbour is always on the outline."""
    mask = np.pad(labels[:, first:stop] == label, 1)
    inner = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    rows, cols = np.nonzero(mask[1:-1, 1:-1] & ~inner)
    if not len(rows):
        return np.array([[float(first), 0.0]])
    return np.column_stack([cols + first, rows]).astype(np.float64)


def touching_cuts(labels: np.ndarray, label: int, box: np.ndarray, ref: float) -> list[int]:
    """Columns where a component wide enough for two digits may be cut: its thinnest ink columns."""
    left, top, right, bottom = box.astype(int)
    if right - left < CUT_WIDTH * ref:
        return []
    profile = (labels[top:bottom, left:right] == label).sum(axis=0).astype(np.float64)
    width = max(1, int(round(SMOOTH * ref)))
    smooth = np.convolve(profile, np.ones(2 * width + 1) / (2 * width + 1), mode="same")
    side = int(np.ceil(MIN_SIDE * ref))
    inner = np.arange(side, len(smooth) - side)
    if not len(inner):
        return []
    minima = [c for c in inner if smooth[c] <= smooth[max(c - width, 0) : c + width + 1].min()]
    cuts: list[int] = []
    for c in sorted(minima, key=lambda c: smooth[c]):
        if len(cuts) < MAX_CUTS and all(abs(c - d) >= side for d in cuts):
            cuts.append(c)
    return sorted(left + c for c in cuts)


def _slice_box(labels: np.ndarray, label: int, first: int, stop: int) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) of a component's ink in columns first..stop-1."""
    rows, cols = np.nonzero(labels[:, first:stop] == label)
    if not len(rows):
        return first, 0, stop, 1
    return first + int(cols.min()), int(rows.min()), first + int(cols.max()) + 1, int(rows.max()) + 1


def _shrunk(gray: np.ndarray) -> np.ndarray:
    scale = MAX_SIDE / max(gray.shape)
    if scale >= 1:
        return gray
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    return np.asarray(Image.fromarray(gray.astype(np.float32)).resize(size, Image.Resampling.BOX), dtype=np.float32)

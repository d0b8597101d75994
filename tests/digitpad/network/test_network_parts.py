"""The Network tab's plain parts: the session's models, colour maps centred on zero, the tile mosaic."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from digitpad.network.colors import NEGATIVE, POSITIVE, ZERO, diverging, heat_overlay
from digitpad.network.mosaic import GAP, compose
from digitpad.network.session import MAX_MODELS, SessionModels
from digitpad.recognizer import Recognizer
from trainer.checkpoint import make_checkpoint
from trainer.models import create_model


def recognizer(path=None) -> Recognizer:
    torch.manual_seed(0)
    ckpt = dataclasses.replace(make_checkpoint(create_model("fnn"), "fnn", {}), path=path)
    return Recognizer.from_checkpoint(ckpt, device="cpu")


def test_each_model_joins_once_and_the_oldest_leaves_first(tmp_path):
    models = SessionModels()
    first = recognizer(tmp_path / "a.pt")
    models.use(first)
    models.use(recognizer(), name="run 1 · fnn")
    models.use(first)                                   # used again: keeps its place
    assert models.labels() == ["a (fnn)", "run 1 · fnn"] and models.current_index() == 0
    models.use(recognizer(tmp_path / "a.pt"))            # the same file loaded again: the new object, same place
    assert len(models.entries) == 2 and models.entries[0][1] is models.current
    for i in range(MAX_MODELS):
        models.use(recognizer(), name=f"run {i + 2}")
    assert len(models.entries) == MAX_MODELS and models.labels()[-1] == f"run {MAX_MODELS + 1}"
    assert "a (fnn)" not in models.labels()


def test_the_diverging_map_is_white_at_zero_blue_below_and_red_above():
    rgb = diverging(np.array([-2.0, 0.0, 2.0, 9.0]), 2.0)
    assert (rgb[0] == NEGATIVE).all() and (rgb[1] == ZERO).all() and (rgb[2] == POSITIVE).all()
    assert (rgb[3] == POSITIVE).all()                    # beyond the limit: clipped


def test_the_overlay_leaves_paper_without_saliency_white():
    image = np.zeros((28, 28), np.float32)
    image[5:20, 14] = 1.0
    saliency = np.zeros_like(image)
    saliency[5:20, 14] = 0.3
    picture = heat_overlay(image, saliency)
    assert (picture[0, 0] == 255).all()
    assert picture[10, 14, 0] > picture[10, 14, 2]       # ink that speaks for the digit is reddish


def test_tiles_are_laid_out_row_by_row():
    tiles = np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1).repeat(3, axis=3).repeat(4, 1).repeat(4, 2)
    picture = compose(tiles, columns=2)
    step = 4 + GAP
    assert picture.shape == (3 * step, 2 * step, 4)
    for index in range(5):
        row, col = divmod(index, 2)
        assert picture[row * step, col * step, 0] == index and picture[row * step, col * step, 3] == 255
    assert picture[2 * step, step, 3] == 0               # no sixth tile: transparent

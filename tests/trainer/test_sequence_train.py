"""`digitpad-train sequence`: a trajectory model trained on the training writers only, seeded, in one command."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.checkpoint import load_model
from trainer.cli import main
from trainer.errors import ConfigError
from trainer.pendigits import FINAL_WRITERS, HELDOUT_WRITERS, load_pendigits, split_by_writer
from trainer.sequence_train import SequenceConfig, epoch_drawings, train_sequence


def test_an_epoch_draws_only_training_writers_with_styles_and_augmentation(pendigits_path):
    train, _ = split_by_writer(load_pendigits(pendigits_path))
    train = train[::20]
    config = SequenceConfig(copies=2, styles="all")
    drawings = epoch_drawings(train, config, epoch=0)
    assert len(drawings) > 2 * len(train)  # the styled variants come on top of every copy
    assert not {d.writer for d in drawings} & (set(HELDOUT_WRITERS) | set(FINAL_WRITERS))
    again = epoch_drawings(train, config, epoch=0)
    assert all((a.strokes[0] == b.strokes[0]).all() for a, b in zip(drawings, again, strict=True))
    other = epoch_drawings(train, config, epoch=1)
    assert not np.array_equal(drawings[0].strokes[0], other[0].strokes[0])  # each epoch draws afresh


def test_training_is_seeded_the_same_run_gives_the_same_weights(pendigits_path):
    config = SequenceConfig(epochs=1, copies=1, subset=60, styles="none", pendigits=str(pendigits_path))
    first = train_sequence(config, log=lambda line: None).checkpoint
    second = train_sequence(config, log=lambda line: None).checkpoint
    assert all(torch.equal(first.state_dict[k], v) for k, v in second.state_dict.items())
    assert first.hparams["training_writers"] and not set(first.hparams["training_writers"]) & set(HELDOUT_WRITERS)


def test_an_image_architecture_is_refused_for_sequence_training():
    with pytest.raises(ConfigError, match="not a trajectory model"):
        SequenceConfig(arch="digitnet").validate_settings()


def test_the_command_trains_saves_and_evaluates_a_trajectory_model_on_pen_digits(
    pendigits_path, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DIGITPAD_PENDIGITS", str(pendigits_path))
    out = tmp_path / "penseq.pt"
    argv = ["sequence", "--subset", "40", "--epochs", "1", "--copies", "1", "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    model, ckpt = load_model(out)
    assert ckpt.arch == "penseq" and ckpt.hparams["subset"] == 40
    capsys.readouterr()
    assert main(["evaluate", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "reads pen paths" in printed and "held-out pen accuracy" in printed


def test_evaluate_says_what_a_trajectory_model_needs_when_the_pen_digits_are_missing(tmp_path, monkeypatch, capsys):
    from trainer.checkpoint import make_checkpoint, save_checkpoint
    from trainer.models import create_model

    path = save_checkpoint(make_checkpoint(create_model("penseq"), "penseq", {}), tmp_path / "penseq.pt")
    monkeypatch.setattr("trainer.pendigits.default_pendigits_path", lambda: None)
    assert main(["evaluate", str(path), "--threads", "1"]) == 1
    err = capsys.readouterr().err
    assert "reads pen paths, not MNIST images" in err and len(err.splitlines()) == 1

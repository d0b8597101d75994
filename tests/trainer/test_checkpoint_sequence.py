"""A checkpoint's optional "sequence" field: the pen-path model a personalized image model carries."""

from __future__ import annotations

import pytest
import torch

from trainer.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from trainer.errors import CheckpointError
from trainer.models import ARCHITECTURES, create_model


def small(name: str, **args):
    torch.manual_seed(0)
    model = create_model(name, **args).eval()
    return make_checkpoint(model, name, {**ARCHITECTURES[name].default_args, **args})


@pytest.fixture
def with_sequence(tmp_path):
    image = small("cnn")
    image.sequence = small("penseq", width=8)
    return image, save_checkpoint(image, tmp_path / "mine.pt")


def rewritten(path, change) -> None:
    content = torch.load(path, weights_only=True)
    change(content)
    torch.save(content, path)


def test_the_pen_path_model_is_saved_and_loads_back_with_weights_only(with_sequence):
    image, path = with_sequence
    content = torch.load(path, weights_only=True)
    assert content["sequence"]["arch"] == "penseq" and set(content["sequence"]) == {
        "arch", "model_args", "state_dict", "normalization"}
    loaded = load_checkpoint(path)
    assert loaded.sequence is not None and loaded.sequence.model_args == image.sequence.model_args
    assert all(torch.equal(loaded.sequence.state_dict[k], v) for k, v in image.sequence.state_dict.items())


def test_a_checkpoint_without_one_has_none(tmp_path):
    path = save_checkpoint(small("cnn"), tmp_path / "plain.pt")
    assert "sequence" not in torch.load(path, weights_only=True)
    assert load_checkpoint(path).sequence is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.__setitem__("sequence", [1, 2]), "field 'sequence' should be a dict"),
        (lambda c: c["sequence"].__setitem__("arch", "cnn"), "not a pen-path architecture"),
        (lambda c: c["sequence"].__setitem__("arch", "x" * 10_000), "not a pen-path architecture"),
        (lambda c: c["sequence"].pop("state_dict"), "'state_dict' is missing"),
        (lambda c: c["sequence"]["model_args"].__setitem__("width", 10**9), "'width'"),
        (lambda c: c["sequence"]["state_dict"]["fc.weight"].fill_(float("nan")), "NaN or infinite"),
        (lambda c: c["sequence"]["state_dict"].__setitem__("fc.weight", torch.zeros(3, 3)), "do not fit penseq"),
        (lambda c: c["sequence"]["state_dict"].__setitem__("fc.bias", "zeros"), "not a tensor"),
        (lambda c: c["sequence"].__setitem__("normalization", {"mean": float("inf"), "std": 1.0}), "normalization"),
    ],
)
def test_a_damaged_or_hostile_sequence_field_is_refused_naming_it(with_sequence, change, message):
    _, path = with_sequence
    rewritten(path, change)
    with pytest.raises(CheckpointError, match="sequence") as caught:
        load_checkpoint(path)
    assert message in str(caught.value)


def test_only_one_pen_path_model_can_be_saved_as_the_sequence(tmp_path):
    image = small("cnn")
    image.sequence = small("cnn")
    with pytest.raises(CheckpointError, match="pen-path"):
        save_checkpoint(image, tmp_path / "bad.pt")

"""Trajectory models (penseq, pengru) go through the one checkpoint format, with every check an image model gets."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from trainer.checkpoint import load_checkpoint, load_model, make_checkpoint, save_checkpoint
from trainer.errors import CheckpointError
from trainer.models import ARCHITECTURES, REGISTRY, InputKind, create_model, model_names
from trainer.trajectory import TRAJECTORY_FEATURES, trajectory_features

TRAJECTORY_ARCHS = [name for name, spec in ARCHITECTURES.items() if spec.input_kind is InputKind.TRAJECTORY]
SEVEN = [np.array([[0.0, 0.0], [40.0, 0.0], [15.0, 80.0]]), np.array([[10.0, 40.0], [35.0, 40.0]])]


def test_trajectory_models_are_known_to_checkpoints_but_not_offered_as_image_models():
    assert TRAJECTORY_ARCHS == ["penseq", "pengru"]
    assert not set(TRAJECTORY_ARCHS) & set(REGISTRY)
    assert all(spec.input_kind is InputKind.IMAGE for spec in REGISTRY.values())
    assert model_names() == list(REGISTRY)  # what digitpad-train train and the Train tab offer


@pytest.mark.parametrize("arch", TRAJECTORY_ARCHS)
def test_a_trajectory_model_reads_a_pen_path_and_refuses_a_wrong_shape(arch):
    model = create_model(arch).eval()
    x = torch.from_numpy(np.stack([trajectory_features(SEVEN), trajectory_features([SEVEN[0]])]))
    with torch.inference_mode():
        assert model(x).shape == (2, 10)
        with pytest.raises(ValueError, match="pen paths"):
            model(torch.zeros(1, 1, 28, 28))


@pytest.mark.parametrize("arch", TRAJECTORY_ARCHS)
def test_a_trajectory_checkpoint_round_trips_through_the_one_loader(arch, tmp_path):
    torch.manual_seed(0)
    model = create_model(arch).eval()
    path = save_checkpoint(make_checkpoint(model, arch, {}, normalization={"mean": 0.0, "std": 1.0}), tmp_path / "m.pt")
    torch.load(path, weights_only=True)  # plain weights only: nothing in it needs unpickling code
    loaded, ckpt = load_model(path)
    assert ckpt.arch == arch and ckpt.model_args == ARCHITECTURES[arch].default_args
    x = torch.from_numpy(trajectory_features(SEVEN))[None]
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def _saved_penseq(tmp_path, change=None, **model_args):
    model = create_model("penseq", **model_args)
    ckpt = make_checkpoint(model, "penseq", model_args, normalization={"mean": 0.0, "std": 1.0})
    if change:
        change(ckpt)
    return save_checkpoint(ckpt, tmp_path / "penseq.pt")


def test_a_path_length_out_of_bounds_is_refused_before_building_anything(tmp_path):
    path = _saved_penseq(tmp_path, lambda c: c.model_args.update(points=10**7))
    with pytest.raises(CheckpointError, match="'points' is 10000000; it must be a whole number from 8 to 1024"):
        load_checkpoint(path)


def test_a_huge_width_is_refused_by_its_size_not_by_running_out_of_memory(tmp_path):
    path = _saved_penseq(tmp_path, lambda c: c.model_args.update(width=512))
    with pytest.raises(CheckpointError):  # the weights no longer fit the (meta-sized) model
        load_checkpoint(path)


def test_weights_that_overflow_are_refused_by_the_probe_on_a_pen_path(tmp_path):
    def blow_up(ckpt):  # finite weights whose products overflow float32 two layers on
        for key in ("features.0.weight", "features.3.weight"):
            ckpt.state_dict[key] = ckpt.state_dict[key] * 1e30

    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_model(_saved_penseq(tmp_path, blow_up))


def test_nan_weights_are_refused(tmp_path):
    def poison(ckpt):
        ckpt.state_dict["fc.bias"] = torch.full_like(ckpt.state_dict["fc.bias"], float("nan"))

    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(_saved_penseq(tmp_path, poison))


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_trajectory_file_that_asks_to_run_code_is_refused(tmp_path, capsys):
    path = tmp_path / "penseq.pt"
    state = {"format": "digitpad-checkpoint", "version": 1, "arch": "penseq", "x": _Payload()}
    torch.save(state, path, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert "must never run" not in capsys.readouterr().out


def test_image_model_files_still_load_and_probe_on_images(tmp_path):
    model = create_model("cnn").eval()
    loaded, ckpt = load_model(save_checkpoint(make_checkpoint(model, "cnn", {}), tmp_path / "cnn.pt"))
    assert ckpt.arch == "cnn"
    with torch.inference_mode():
        assert torch.equal(loaded(torch.zeros(1, 1, 28, 28)), model(torch.zeros(1, 1, 28, 28)))


def test_a_bare_state_dict_of_a_trajectory_model_is_not_mistaken_for_an_image_model(tmp_path):
    path = tmp_path / "bare.pt"
    torch.save(create_model("penseq").state_dict(), path)
    with pytest.raises(CheckpointError, match="no known architecture"):
        load_checkpoint(path)
    assert TRAJECTORY_FEATURES == 5

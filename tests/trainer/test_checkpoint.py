"""Model files: saved atomically, loaded without running code, and every broken file explained."""

from __future__ import annotations

import builtins
import errno
import os
import pickle
import stat
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainer import checkpoint as ckpt_module
from trainer.checkpoint import (
    FORMAT_TAG,
    FORMAT_VERSION,
    Checkpoint,
    build_model,
    load_checkpoint,
    load_model,
    make_checkpoint,
    remove_stale_temp_files,
    save_checkpoint,
)
from trainer.data import MNIST_MEAN, MNIST_STD
from trainer.errors import CheckpointError
from trainer.models import REGISTRY, create_model, model_names

PWNED_FLAG = "_digitpad_test_pwned"  # a builtins attribute a hostile pickle tries to set


def trained_like(name: str, seed: int = 0, **model_args) -> nn.Module:
    """A model with non-default weights and BatchNorm statistics, as after training."""
    torch.manual_seed(seed)
    model = create_model(name, **model_args)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 1, 28, 28))  # moves BatchNorm running statistics off their defaults
    return model.eval()


def outputs(model: nn.Module, seed: int = 1) -> torch.Tensor:
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)


def saved(tmp_path: Path, name: str = "cnn", filename: str = "model.pt", **kwargs) -> tuple[Path, nn.Module]:
    model = trained_like(name)
    path = save_checkpoint(make_checkpoint(model, name, dict(REGISTRY[name].default_args), **kwargs), tmp_path / filename)
    return path, model


def payload(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def directory_listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", model_names())
def test_a_saved_model_loads_back_and_answers_the_same(tmp_path, name):
    model = trained_like(name)
    ckpt = make_checkpoint(
        model, name, dict(REGISTRY[name].default_args),
        hparams={"lr": 5e-4, "epochs": 3}, metrics={"test_accuracy": 0.991, "test_loss": 0.03},
    )
    path = save_checkpoint(ckpt, tmp_path / f"{name}.pt")

    loaded, ckpt2 = load_model(path)
    assert ckpt2.arch == name and ckpt2.model_args == REGISTRY[name].default_args
    assert ckpt2.hparams == {"lr": 5e-4, "epochs": 3}
    assert ckpt2.metrics == {"test_accuracy": 0.991, "test_loss": 0.03}
    assert ckpt2.normalization == {"mean": MNIST_MEAN, "std": MNIST_STD}
    assert ckpt2.path == path and ckpt2.name == name
    assert datetime.fromisoformat(ckpt2.created).tzinfo is not None
    assert not loaded.training
    torch.testing.assert_close(outputs(loaded), outputs(model), rtol=0, atol=0)


def test_the_file_is_one_plain_dict_in_the_documented_format(tmp_path):
    path, _ = saved(tmp_path, "digitnet", hparams={"lr": 1e-3})
    content = payload(path)
    assert content["format"] == FORMAT_TAG and content["version"] == FORMAT_VERSION == 1
    assert set(content) == {
        "format", "version", "arch", "model_args", "state_dict", "normalization", "hparams", "metrics", "created"
    }
    assert content["arch"] == "digitnet" and content["model_args"] == {"width": 32, "dropout": 0.25, "deep_convs": 2}


def test_a_checkpoint_keeps_non_default_model_arguments(tmp_path):
    model = trained_like("digitnet", width=8, dropout=0.1)
    path = save_checkpoint(make_checkpoint(model, "digitnet", {"width": 8, "dropout": 0.1}), tmp_path / "small.pt")
    loaded, ckpt = load_model(path)
    assert ckpt.model_args == {"width": 8, "dropout": 0.1, "deep_convs": REGISTRY["digitnet"].default_args["deep_convs"]}
    torch.testing.assert_close(outputs(loaded), outputs(model), rtol=0, atol=0)


def test_a_checkpoint_stores_every_model_argument_not_only_the_ones_given(tmp_path):
    ckpt = make_checkpoint(trained_like("digitnet", width=8), "digitnet", {"width": 8})
    defaults = REGISTRY["digitnet"].default_args
    assert ckpt.model_args == {"width": 8, "dropout": defaults["dropout"], "deep_convs": defaults["deep_convs"]}
    path = save_checkpoint(ckpt, tmp_path / "narrow.pt")
    assert payload(path)["model_args"] == ckpt.model_args


def test_a_checkpoint_is_a_cpu_snapshot_of_the_live_model():
    model = trained_like("digitnet").to(memory_format=torch.channels_last)  # as the CPU training loop leaves it
    ckpt = make_checkpoint(model, "digitnet", {})
    with torch.no_grad():
        model.fc.weight.add_(1.0)  # training goes on after the snapshot
    assert not torch.equal(ckpt.state_dict["fc.weight"], model.fc.weight)
    assert all(t.device.type == "cpu" and t.is_contiguous() for t in ckpt.state_dict.values())
    assert ckpt.name == "digitnet" and ckpt.path is None


def test_metadata_is_made_safe_for_a_weights_only_load(tmp_path):
    hparams = {
        "data_dir": Path("/data/mnist"),
        "lr": np.float32(0.5),
        "steps": np.int64(7),
        "betas": (0.9, 0.999),
        "device": torch.device("cpu"),
        "per_class": np.array([0.5, 1.0]),
        "nested": {3: {"ok": np.bool_(True)}},
    }
    path, _ = saved(tmp_path, "fnn", hparams=hparams, metrics={"test_accuracy": np.float64(0.98)})
    ckpt = load_checkpoint(path)  # weights_only=True would refuse numpy or Path objects
    assert ckpt.hparams == {
        "data_dir": "/data/mnist",
        "lr": 0.5,
        "steps": 7,
        "betas": [0.9, 0.999],
        "device": "cpu",
        "per_class": [0.5, 1.0],
        "nested": {"3": {"ok": True}},
    }
    assert ckpt.metrics == {"test_accuracy": 0.98} and type(ckpt.metrics["test_accuracy"]) is float


def test_metadata_that_cannot_be_stored_safely_is_refused_before_writing(tmp_path):
    with pytest.raises(CheckpointError, match=r"hparams\['callback'\] holds a function"):
        make_checkpoint(create_model("fnn"), "fnn", {}, hparams={"callback": lambda: None})
    ckpt = make_checkpoint(create_model("fnn"), "fnn", {})
    ckpt.metrics["when"] = object()
    with pytest.raises(CheckpointError, match="cannot save the model to .*model.pt"):
        save_checkpoint(ckpt, tmp_path / "model.pt")
    assert directory_listing(tmp_path) == []


def test_an_unknown_architecture_cannot_be_checkpointed():
    with pytest.raises(CheckpointError, match="unknown architecture 'resnet'"):
        make_checkpoint(create_model("cnn"), "resnet", {})


def test_saving_creates_missing_folders_and_a_readable_file(tmp_path):
    path, _ = saved(tmp_path, filename="runs/today/model.pt")
    assert path == tmp_path / "runs" / "today" / "model.pt" and load_checkpoint(path).arch == "cnn"
    assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044  # others may read it (mkstemp alone gives 0600)


def test_build_model_puts_the_model_on_the_device_in_eval_mode(tmp_path):
    path, _ = saved(tmp_path, "cnn-dropout")
    model = build_model(load_checkpoint(path), device="cpu")
    assert not model.training and next(model.parameters()).device.type == "cpu"


# ---------------------------------------------------------------- bare state_dicts


@pytest.mark.parametrize("name", model_names())
def test_a_bare_state_dict_of_each_architecture_loads_with_its_arch_inferred(tmp_path, name):
    model = trained_like(name)
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    loaded, ckpt = load_model(path)
    assert ckpt.arch == name and ckpt.model_args == REGISTRY[name].default_args
    assert ckpt.normalization == {"mean": MNIST_MEAN, "std": MNIST_STD}
    assert ckpt.name == "weights"
    torch.testing.assert_close(outputs(loaded), outputs(model), rtol=0, atol=0)


def test_a_digitnet_file_from_before_deep_convs_existed_rebuilds_its_one_conv_model(tmp_path):
    # such files store model_args without 'deep_convs'; they must not be read with today's default
    old = trained_like("digitnet", deep_convs=1)
    ckpt = make_checkpoint(old, "digitnet", {"deep_convs": 1})
    del ckpt.model_args["deep_convs"]
    path = save_checkpoint(ckpt, tmp_path / "old.pt")
    loaded, read = load_model(path)
    assert read.model_args["deep_convs"] == 1 != REGISTRY["digitnet"].default_args["deep_convs"]
    torch.testing.assert_close(outputs(loaded), outputs(old), rtol=0, atol=0)


def test_a_bare_state_dict_of_an_older_digitnet_is_recognized(tmp_path):
    old = trained_like("digitnet", deep_convs=1)
    path = tmp_path / "old_weights.pth"
    torch.save(old.state_dict(), path)
    loaded, ckpt = load_model(path)
    assert ckpt.arch == "digitnet" and ckpt.model_args["deep_convs"] == 1
    torch.testing.assert_close(outputs(loaded), outputs(old), rtol=0, atol=0)


class TutorialNet(nn.Module):
    """The network of the PyTorch MNIST tutorial, as its users have it in their own scripts."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def test_a_model_saved_by_the_pytorch_tutorial_script_loads_as_cnn_dropout(tmp_path):
    torch.manual_seed(3)
    theirs = TutorialNet().eval()
    path = tmp_path / "mnist_cnn.pt"
    torch.save(theirs.state_dict(), path)
    ours, ckpt = load_model(path)
    assert ckpt.arch == "cnn-dropout"
    # the tutorial returns log-probabilities; ours returns the logits they come from
    torch.testing.assert_close(F.log_softmax(outputs(ours), dim=1), outputs(theirs))


def test_a_state_dict_saved_from_dataparallel_loads(tmp_path):
    model = trained_like("cnn")
    path = tmp_path / "dp.pt"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    loaded, ckpt = load_model(path)
    assert ckpt.arch == "cnn"
    torch.testing.assert_close(outputs(loaded), outputs(model), rtol=0, atol=0)


def test_a_training_script_checkpoint_with_model_state_dict_loads(tmp_path):
    model = trained_like("fnn")
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 5, "model_state_dict": model.state_dict(), "loss": 0.1}, path)
    assert load_checkpoint(path).arch == "fnn"


# ---------------------------------------------------------------- atomic save


def partial_write_then(error: BaseException):
    """A torch.save that writes half a file and then fails, as on a full disk or Ctrl-C."""

    def fake_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise error

    return fake_save


def test_a_failed_save_leaves_the_existing_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    path, model = saved(tmp_path)
    before = path.read_bytes()
    newer = make_checkpoint(trained_like("cnn", seed=9), "cnn", {})
    monkeypatch.setattr(torch, "save", partial_write_then(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(CheckpointError, match=f"cannot save the model to {path}.*No space left"):
        save_checkpoint(newer, path)
    assert path.read_bytes() == before
    assert directory_listing(tmp_path) == ["model.pt"]
    monkeypatch.undo()
    torch.testing.assert_close(outputs(load_model(path)[0]), outputs(model), rtol=0, atol=0)


def test_an_interrupted_save_leaves_the_existing_file_intact_and_still_interrupts(tmp_path, monkeypatch):
    path, _ = saved(tmp_path)
    before = path.read_bytes()
    monkeypatch.setattr(torch, "save", partial_write_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(make_checkpoint(create_model("cnn"), "cnn", {}), path)
    assert path.read_bytes() == before
    assert directory_listing(tmp_path) == ["model.pt"]


def test_a_failed_rename_removes_the_temp_file(tmp_path, monkeypatch):
    path, _ = saved(tmp_path)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ckpt_module.os, "replace", failing_replace)
    with pytest.raises(CheckpointError, match="Permission denied"):
        save_checkpoint(make_checkpoint(create_model("cnn"), "cnn", {}), path)
    assert path.read_bytes() == before
    assert directory_listing(tmp_path) == ["model.pt"]


def test_saving_over_an_existing_model_replaces_it(tmp_path):
    path, _ = saved(tmp_path)
    replacement = trained_like("cnn", seed=5)
    save_checkpoint(make_checkpoint(replacement, "cnn", {}), path)
    torch.testing.assert_close(outputs(load_model(path)[0]), outputs(replacement), rtol=0, atol=0)
    assert directory_listing(tmp_path) == ["model.pt"]


def test_a_save_removes_temp_files_that_killed_saves_left_behind_but_not_recent_or_foreign_ones(tmp_path):
    # what `kill -9` during save_checkpoint leaves: hidden .NAME.XXXXXXXX.tmp files (tempfile.mkstemp)
    stale = [tmp_path / ".model.pt.k3j_x9q1.tmp", tmp_path / ".other.pth.abcdefgh.tmp"]
    recent = tmp_path / ".model.pt.zz11yy22.tmp"  # perhaps another process's save in progress
    foreign = [tmp_path / ".notes.txt.abcdefgh.tmp", tmp_path / "model.pt.abcdefgh.tmp", tmp_path / "keep.tmp"]
    hour_ago = time.time() - 3600
    for path in [*stale, recent, *foreign]:
        path.write_bytes(b"PK\x03\x04 half a checkpoint")
        if path != recent:
            os.utime(path, (hour_ago, hour_ago))
    saved(tmp_path)
    assert directory_listing(tmp_path) == sorted(["model.pt", recent.name, *(p.name for p in foreign)])


def test_removing_stale_temp_files_skips_what_it_cannot_remove(tmp_path, monkeypatch):
    stale = tmp_path / ".model.pt.k3j_x9q1.tmp"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))

    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(ckpt_module.os, "unlink", refuse)
    assert remove_stale_temp_files(tmp_path) == []
    monkeypatch.undo()
    assert remove_stale_temp_files(tmp_path) == [stale] and not stale.exists()


def test_saving_onto_a_directory_is_refused(tmp_path):
    (tmp_path / "model.pt").mkdir()
    with pytest.raises(CheckpointError, match="model.pt: it is a directory"):
        save_checkpoint(make_checkpoint(create_model("cnn"), "cnn", {}), tmp_path / "model.pt")


# ---------------------------------------------------------------- hostile files


class WritesMarker:
    """Unpickling this opens (creates) a marker file: code running from a model file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class SetsGlobal:
    """Unpickling this runs exec() and sets a flag in builtins."""

    def __reduce__(self):
        return (exec, (f"import builtins; builtins.{PWNED_FLAG} = True",))


def test_the_hostile_payloads_really_run_code_when_unpickled_unsafely(tmp_path):
    """Control for the tests below: plain pickle.loads executes both payloads."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(WritesMarker(marker))).close()
    pickle.loads(pickle.dumps(SetsGlobal()))
    assert marker.exists() and getattr(builtins, PWNED_FLAG) is True
    delattr(builtins, PWNED_FLAG)


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
@pytest.mark.parametrize("payload_kind", ["marker file", "global"])
def test_a_model_file_that_would_run_code_is_refused_without_running_it(tmp_path, writer, payload_kind):
    marker = tmp_path / "pwned"
    hostile = WritesMarker(marker) if payload_kind == "marker file" else SetsGlobal()
    content = {"format": FORMAT_TAG, "version": 1, "arch": "cnn", "state_dict": {}, "hparams": hostile}
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save(content, path)
    else:
        path.write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(CheckpointError, match=f"{path}: refused: loading this file would run code"):
        load_checkpoint(path)
    assert not marker.exists()
    assert not hasattr(builtins, PWNED_FLAG)


def test_a_whole_pickled_model_is_refused_with_advice(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(TutorialNet(), path)
    with pytest.raises(CheckpointError, match=r"TutorialNet.*save model.state_dict\(\)"):
        load_checkpoint(path)


def test_loading_always_uses_weights_only(tmp_path, monkeypatch):
    path, _ = saved(tmp_path)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_model(path)
    assert calls and all(call.get("weights_only") is True for call in calls)


# ---------------------------------------------------------------- broken files


def write_bytes(data: bytes):
    return lambda path: path.write_bytes(data)


def truncated(path: Path) -> None:
    full = path.parent / "full.pt"
    torch.save(create_model("fnn").state_dict(), full)
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()


def full_format(**changes):
    """A valid digitpad checkpoint of `cnn`, then `changes` applied to its dict (None deletes a key)."""

    def write(path: Path) -> None:
        content = {
            "format": FORMAT_TAG, "version": FORMAT_VERSION, "arch": "cnn", "model_args": {},
            "state_dict": trained_like("cnn").state_dict(), "normalization": {"mean": 0.1307, "std": 0.3081},
            "hparams": {}, "metrics": {}, "created": "2024-01-01T00:00:00+00:00",
        }
        for key, value in changes.items():
            if value is None:
                del content[key]
            else:
                content[key] = value(content[key]) if callable(value) else value
        torch.save(content, path)

    return write


def with_weight(key: str, value: float):
    def change(state: dict) -> dict:
        state = dict(state)
        state[key] = state[key].clone()
        state[key].view(-1)[0] = value
        return state

    return change


def bare(name: str, change=lambda state: state):
    return lambda path: torch.save(change(dict(trained_like(name).state_dict())), path)


BROKEN_FILES = {
    "missing": (lambda path: None, "no such file"),
    "directory": (lambda path: path.mkdir(), "is a directory"),
    "empty": (write_bytes(b""), "the file is empty"),
    "truncated": (truncated, "not a PyTorch model file, or it is damaged"),
    "random bytes": (write_bytes(np.random.default_rng(0).bytes(2000)), "not a PyTorch model file, or it is damaged"),
    "text": (write_bytes(b"hello, this is not a model\n"), "not a PyTorch model file, or it is damaged"),
    "a tensor": (lambda path: torch.save(torch.zeros(3), path), "holds a Tensor, not a model checkpoint"),
    "a list": (lambda path: torch.save([1, 2], path), "holds a list, not a model checkpoint"),
    "empty dict": (lambda path: torch.save({}, path), "holds an empty dict"),
    "dict of numbers": (lambda path: torch.save({"lr": 0.1}, path), "neither a digitpad checkpoint nor a state_dict"),
    "bare, wrong shapes": (
        bare("cnn", lambda s: {**s, "fc1.weight": torch.zeros(10, 300)}),
        r"closest is 'cnn', but 'fc1.weight' has shape \(10, 300\), the model expects \(10, 320\)",
    ),
    "bare, unknown keys": (
        lambda path: torch.save({"encoder.weight": torch.zeros(3)}, path),
        r"keys encoder.weight\) that matches no known architecture",
    ),
    "bare, NaN weights": (bare("cnn", with_weight("conv1.weight", float("nan"))), "'conv1.weight' holds NaN"),
    "NaN weights": (full_format(state_dict=with_weight("fc1.bias", float("nan"))), "'fc1.bias' holds NaN"),
    "inf weights": (full_format(state_dict=with_weight("conv2.weight", float("inf"))), "'conv2.weight' holds NaN or inf"),
    "wrong shapes": (
        full_format(state_dict=lambda s: {**s, "conv1.weight": torch.zeros(10, 1, 3, 3)}),
        r"do not fit cnn: 'conv1.weight' has shape \(10, 1, 3, 3\), the model expects \(10, 1, 5, 5\)",
    ),
    "unknown keys": (full_format(state_dict=lambda s: {**s, "fc9.weight": torch.zeros(2)}), "unknown key 'fc9.weight'"),
    "missing keys": (
        full_format(state_dict=lambda s: {k: v for k, v in s.items() if k != "fc1.bias"}),
        "missing 'fc1.bias'",
    ),
    "non-tensor weight": (full_format(state_dict=lambda s: {**s, "fc1.bias": [0.0]}), "'fc1.bias' is not a tensor"),
    "unknown arch": (full_format(arch="resnet50"), "unknown architecture 'resnet50'"),
    "wrong model_args": (full_format(model_args={"width": 3}), r"cannot build 'cnn' with model_args \{'width': 3\}"),
    "newer version": (full_format(version=FORMAT_VERSION + 1), "written by a newer digitpad"),
    "foreign format": (full_format(format="other-app"), "unknown file format 'other-app'"),
    "missing field": (full_format(state_dict=None), "field 'state_dict' should be a Mapping, but it is missing"),
    "bad normalization": (full_format(normalization={"mean": 0.1, "std": 0.0}), "invalid normalization"),
}


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_a_broken_model_file_raises_a_checkpoint_error_naming_the_file_and_the_problem(tmp_path, case):
    make, problem = BROKEN_FILES[case]
    path = tmp_path / "broken-model.pt"
    make(path)
    with pytest.raises(CheckpointError, match=problem) as caught:
        load_model(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_file_that_cannot_be_read_is_reported_as_such(tmp_path, monkeypatch):
    path, _ = saved(tmp_path)

    def denied(*args, **kwargs):  # chmod 0 would not stop root, who may run these tests
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(ckpt_module, "open", denied, raising=False)
    with pytest.raises(CheckpointError, match=f"{path}: cannot read the file: Permission denied"):
        load_checkpoint(path)


def test_build_model_rejects_bad_weights_of_an_in_memory_checkpoint():
    ckpt = make_checkpoint(trained_like("cnn"), "cnn", {})
    ckpt.state_dict["fc1.weight"] = torch.full((10, 320), float("nan"))
    with pytest.raises(CheckpointError, match="checkpoint of 'cnn': weight 'fc1.weight' holds NaN"):
        build_model(ckpt)
    ckpt.state_dict["fc1.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match=r"'fc1.weight' has shape \(3, 3\)"):
        build_model(ckpt)
    ckpt.state_dict["fc1.weight"] = "not a tensor"
    with pytest.raises(CheckpointError, match="state_dict must map parameter names to tensors"):
        build_model(ckpt)


def test_a_checkpoint_is_named_after_its_file(tmp_path):
    path, _ = saved(tmp_path, filename="my best model.pt")
    assert load_checkpoint(path).name == "my best model"
    assert Checkpoint("cnn", {}, {}, {"mean": 0.0, "std": 1.0}, {}, {}, "").name == "cnn"


# ---------------------------------------------------------------- hostile files, in process (the cheap ones)
# All of them, through every entry point and in a memory-capped child: tests/trainer/test_hostile_models.py.

CHEAP_HOSTILE_CASES = [
    "format nested 12 deep", "format of 1 MB", "digitnet width -1", "int32 weights", "bool weights",
    "complex weights", "weights x1e37", "sparse weight", "normalization mean 10**400", "directory named x.pt",
    "seed 10**30", "test_accuracy not a number",
]


@pytest.mark.parametrize("case", CHEAP_HOSTILE_CASES)
def test_a_hostile_file_is_refused_or_loaded_without_its_bad_values(tmp_path, case):
    from hostile_files import MODEL_CASES

    hostile = MODEL_CASES[case]
    path = tmp_path / "hostile.pt"
    hostile.write(path)
    if hostile.expect:
        with pytest.raises(CheckpointError) as caught:
            load_model(path)
        assert hostile.expect in str(caught.value) and len(str(caught.value)) < 1000
    else:
        _, ckpt = load_model(path)
        assert any(hostile.note in note for note in ckpt.notes)
        assert ckpt.hparams.get("seed", 0) < 2**63 and not isinstance(ckpt.metrics.get("test_accuracy"), str)


def test_a_file_in_the_format_before_pytorch_1_6_is_refused_with_advice(tmp_path):
    path = tmp_path / "old.pt"
    torch.save(trained_like("cnn").state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="saved by PyTorch before 1.6 must be loaded and saved again"):
        load_checkpoint(path)


def test_a_dict_of_parameters_loads_like_a_state_dict(tmp_path):
    model = trained_like("cnn")
    path = tmp_path / "params.pt"
    torch.save(dict(model.named_parameters()), path)  # nn.Parameter objects, not plain tensors
    loaded, ckpt = load_model(path)
    assert ckpt.arch == "cnn"
    torch.testing.assert_close(outputs(loaded), outputs(model), rtol=0, atol=0)

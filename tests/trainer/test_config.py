"""TrainConfig's fields carry their own rules: the CLI's options, --help and validate() all come from them."""

from __future__ import annotations

import dataclasses

import pytest

from trainer.cli import build_parser, config_from_args, main
from trainer.config import Group, Param, TrainConfig, is_optional, params, value_type
from trainer.errors import ConfigError

# A value off each field's default that its rules allow, to show the option reaches the config.
GIVEN = {
    "arch": ("fnn", "fnn"),
    "model_args": ("width=32", {"width": 32}),
    "optimizer": ("adamw", "adamw"),
    "lr": ("0.01", 0.01),
    "momentum": ("0.5", 0.5),
    "weight_decay": ("0.001", 0.001),
    "batch_size": ("64", 64),
    "epochs": ("3", 3),
    "seed": ("7", 7),
    "label_smoothing": ("0.1", 0.1),
    "ema": ("0.99", 0.99),
    "schedule": ("cosine", "cosine"),
    "augment": (None, True),
    "device": ("CPU", "cpu"),
    "data_dir": ("/data/mnist", "/data/mnist"),
    "subset": ("1000", 1000),
    "test_subset": ("500", 500),
    "val_size": ("100", 100),
    "pen_digits": (None, True),
    "pen_copies": ("5", 5),
    "personal": ("mine.jsonl", "mine.jsonl"),
    "personal_copies": ("5", 5),
    "stroke_augment": (None, True),
    "styles": ("Flag-1, crossed-7", "flag-1,crossed-7"),
    "log_every": ("4", 4),
}


def train_help(capsys) -> str:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_every_field_is_an_option_with_its_default_and_range_in_help(capsys):
    text = train_help(capsys)
    for name, meta, _ in params():
        assert meta.flag(name) in text, name
        if meta.range_text():
            assert f"(must be {meta.range_text()})" in text, name
    assert "--batch-size BATCH_SIZE training batch size (default: 128) (must be >= 1)" in text
    assert "--ema DECAY keep a moving average" in text and "(default: 0.0) (must be in [0, 1))" in text
    assert "--subset N train on N training images" in text and "(default: all) (must be >= 1)" in text
    assert "--augment random small affine distortions of the training images (default: off)" in text


def test_each_option_given_sets_its_field_and_the_others_keep_their_defaults():
    assert set(GIVEN) == {name for name, _, _ in params()}  # a new field needs a line here
    for name, (text, expected) in GIVEN.items():
        meta = dataclasses.fields(TrainConfig)[[f.name for f in dataclasses.fields(TrainConfig)].index(name)]
        argv = ["train", meta.metadata["param"].flag(name)] + ([] if text is None else [text])
        if name == "pen_copies":
            argv.append("--pen-digits")
        if name == "personal_copies":
            argv += ["--personal", "mine.jsonl"]
        if name == "model_args":  # width is digitnet's: validate() checks model arguments against the architecture
            argv += ["--arch", "digitnet"]
        if name == "momentum":
            argv += ["--optimizer", "momentum"]
        config = config_from_args(build_parser().parse_args(argv))
        assert getattr(config, name) == expected, name
        untouched = {n for n in GIVEN if n not in (name, "pen_digits", "personal", "optimizer", "arch")}
        assert all(getattr(config, n) == getattr(TrainConfig(), n) for n in untouched), name
        config.validate()


@pytest.mark.parametrize(
    "field, bad, words",
    [
        ("lr", 0.0, "learning rate (lr): must be a positive number, got 0.0"),
        ("lr", float("inf"), "learning rate (lr): must be a finite number"),
        ("momentum", 1.0, "momentum: must be in [0, 1), got 1.0"),
        ("batch_size", 0, "batch size (batch_size): must be >= 1, got 0"),
        ("epochs", 2.5, "epochs: must be an integer, got float 2.5"),
        ("seed", -1, "seed: must be in [0, 18446744073709551615], got -1"),
        ("ema", 1.0, "EMA decay (ema): must be in [0, 1)"),
        ("subset", 0, "train subset (subset): must be >= 1, got 0"),
        ("val_size", -5, "validation size (val_size): must be >= 0"),
        ("optimizer", "rmsprop", "optimizer: invalid choice: 'rmsprop'"),
        ("arch", "resnet", "architecture (arch): invalid choice: 'resnet'"),
        ("device", "tpu", "device: invalid choice: 'tpu'"),
        ("augment", "yes", "augment: must be true or false, got str 'yes'"),
        ("pen_copies", None, "pen digit copies (pen_copies): must be set, got None"),
    ],
)
def test_validate_names_the_field_and_its_rule(field, bad, words):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**{field: bad}).validate()
    assert words in str(error.value)


def test_the_defaults_and_the_optional_fields_validate():
    TrainConfig().validate()
    TrainConfig(subset=None, test_subset=None, data_dir=None, lr=1, device="cuda:3").validate()


def test_params_describe_each_field_for_the_form():
    described = params()
    assert [name for name, _, _ in described] == [f.name for f in dataclasses.fields(TrainConfig)]
    kinds = {name: value_type(f) for name, _, f in described}
    assert kinds["lr"] is float and kinds["subset"] is int and kinds["augment"] is bool and kinds["arch"] is str
    assert {name for name, _, f in described if is_optional(f)} == {"data_dir", "subset", "test_subset", "personal"}
    meta = dict((name, m) for name, m, _ in described)
    assert meta["optimizer"].choice_label("momentum") == "SGD + momentum" and meta["optimizer"].group is Group.OPTIMIZER
    assert "cnn" in meta["arch"].choice_values() and meta["ema"].none_text == "off"
    assert not meta["log_every"].form and meta["lr"].form


def test_a_param_checks_bounds_open_and_closed():
    fraction = Param("a fraction", "Fraction", Group.MORE, low=0, high=1, high_open=True)
    assert fraction.check_value(0) is None and fraction.check_value(0.999) is None
    assert fraction.check_value(1) == "must be in [0, 1), got 1"
    positive = Param("a rate", "Rate", Group.MORE, low=0, low_open=True)
    assert positive.check_value(0.0) == "must be a positive number, got 0.0" and positive.check_value(1e-9) is None
    assert Param("x", "X", Group.MORE).range_text() == ""

"""The model zoo: every registered model takes a normalized digit batch and answers 10 logits."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainer.models import REGISTRY, ModelSpec, count_parameters, create_model, model_names

# Trainable parameters of each architecture with its default arguments:
EXPECTED_PARAMETERS = {
    "fnn": 109_386,  # 784*128+128 + 128*64+64 + 64*10+10
    "fnn-dropout": 535_818,  # 784*512+512 + 512*256+256 + 256*10+10
    "cnn": 8_490,  # (10*25+10) + (20*10*25+20) + (320*10+10)
    "cnn-dropout": 21_840,  # (10*25+10) + (20*10*25+20) + (320*50+50) + (50*10+10)
    # bias-free 3x3 convs, each with a BatchNorm (2 per channel): 1->32, 32->64, 64->64, 64->128, 128->128;
    # then 128*10+10
    "digitnet": 278_890,
}


def test_the_registry_offers_the_five_documented_models_in_order():
    assert model_names() == ["fnn", "fnn-dropout", "cnn", "cnn-dropout", "digitnet"]
    assert all(isinstance(spec, ModelSpec) and spec.name == name for name, spec in REGISTRY.items())


@pytest.mark.parametrize("name", model_names())
def test_each_model_documents_where_it_comes_from(name):
    spec = REGISTRY[name]
    for line in (spec.description, spec.source):
        assert line.strip() and "\n" not in line  # one-liners the app shows in its form
    assert spec.factory.__doc__
    # constructor arguments are stored in checkpoints: they must survive JSON unchanged
    assert json.loads(json.dumps(spec.default_args)) == spec.default_args


@pytest.mark.parametrize("name", model_names())
def test_each_model_maps_a_batch_of_digits_to_ten_logits(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", model_names())
def test_parameter_counts_are_exact(name):
    assert EXPECTED_PARAMETERS[name] == count_parameters(create_model(name))


def test_count_parameters_ignores_frozen_parameters_and_buffers():
    model = create_model("digitnet")
    model.fc.weight.requires_grad_(False)
    assert count_parameters(model) == EXPECTED_PARAMETERS["digitnet"] - 128 * 10


@pytest.mark.parametrize("name", model_names())
def test_each_model_can_fit_a_small_batch(name):
    """The logits are trainable end to end: a few Adam steps drive the loss on one batch down."""
    torch.manual_seed(0)
    model = create_model(name)
    images, labels = torch.randn(16, 1, 28, 28), torch.arange(16) % 10

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return F.cross_entropy(model(images), labels).item()

    before = eval_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(50):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    assert eval_loss() < 0.7 * before  # the dropout-heavy tutorial net is the slowest: ~0.45x here


@pytest.mark.parametrize("name", ["fnn-dropout", "cnn-dropout", "digitnet"])
def test_dropout_models_are_random_in_training_and_deterministic_in_eval(name):
    torch.manual_seed(0)
    model = create_model(name)
    x = torch.randn(4, 1, 28, 28)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_classic_models_keep_the_classic_parameter_names():
    """So bare state_dicts saved by the coursework scripts and the PyTorch tutorial load as they are."""
    assert list(create_model("fnn").state_dict()) == [f"fc{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]
    assert list(create_model("cnn").state_dict()) == [
        f"{layer}.{p}" for layer in ("conv1", "conv2", "fc1") for p in ("weight", "bias")
    ]
    tutorial = create_model("cnn-dropout")
    assert isinstance(tutorial.conv2_drop, nn.Dropout2d)
    assert list(tutorial.state_dict()) == [
        f"{layer}.{p}" for layer in ("conv1", "conv2", "fc1", "fc2") for p in ("weight", "bias")
    ]
    assert tutorial.fc1.weight.shape == (50, 320) and tutorial.fc2.weight.shape == (10, 50)


def test_digitnet_uses_batchnorm_3x3_convolutions_and_dropout():
    model = create_model("digitnet")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(conv.kernel_size == (3, 3) for conv in convs)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model.dropout.p == REGISTRY["digitnet"].default_args["dropout"]


def test_digitnet_depth_at_7x7_is_a_constructor_argument():
    # each extra 3x3 convolution at 7x7 maps 4w -> 4w channels and brings its BatchNorm
    shallow, deep = create_model("digitnet", deep_convs=1), create_model("digitnet", deep_convs=3)
    assert count_parameters(deep) - count_parameters(shallow) == 2 * (128 * 128 * 9 + 2 * 128)
    assert deep(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="deep_convs must be at least 1"):
        create_model("digitnet", deep_convs=0)


def test_model_arguments_override_the_defaults():
    narrow = create_model("digitnet", width=16, dropout=0.1)
    assert narrow(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert count_parameters(narrow) < count_parameters(create_model("digitnet")) / 3
    assert narrow.dropout.p == 0.1
    wider_mlp = create_model("fnn", hidden=[256, 128])
    assert wider_mlp.fc1.out_features == 256 and wider_mlp.fc3.in_features == 128


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model architecture 'resnet'.*fnn.*digitnet"):
        create_model("resnet")


def test_an_argument_the_model_does_not_take_is_a_type_error():
    with pytest.raises(TypeError):
        create_model("cnn", width=3)


def test_models_accept_channels_last_input():
    """The training loop may switch conv nets to channels_last on the CPU; results must not change."""
    torch.manual_seed(0)
    model = create_model("digitnet").eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        expected = model(x)
        model.to(memory_format=torch.channels_last)
        got = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)

"""Looking inside a model: layers by forward hooks, saliency, filters, for every architecture and file kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn
from ui_helpers import load_app_recognizer

from digitpad.inspect.explanation import explain
from digitpad.inspect.saliency import Method
from digitpad.recognizer import Recognizer, Views
from trainer.checkpoint import make_checkpoint
from trainer.models import REGISTRY, create_model
from trainer.preprocess import image_to_mnist

ONE = [np.array([[200.0, 60.0], [200.0, 340.0]])]                     # a centred "1", paper units
SEVEN = [np.array([[110.0, 80.0], [290.0, 80.0], [180.0, 340.0]])]


def untrained(arch: str) -> Recognizer:
    torch.manual_seed(0)
    return Recognizer.from_checkpoint(make_checkpoint(create_model(arch), arch, {}), device="cpu")


def expected_units(module: nn.Module) -> int | None:
    if isinstance(module, nn.Conv2d):
        return module.out_channels
    if isinstance(module, nn.Linear):
        return module.out_features
    return None


@pytest.mark.parametrize("arch", list(REGISTRY))
def test_every_registered_architecture_explains_with_layers_shaped_like_its_modules(arch):
    rec = untrained(arch)
    x = rec.explain_strokes(ONE)
    modules = dict(rec.model.named_modules())
    names = [name for name, _kind, _values in x.layers]
    module_order = [n for n in modules if n in names]
    assert [n for n in names if n in modules] == module_order        # forward order, module-tree names
    assert x.layers[-1][1] == "output" and x.layers[-1][2].shape == (10,)
    for name, kind, values in x.layers:
        if name in modules and (units := expected_units(modules[name])) is not None:
            assert values.shape[0] == units, name
            assert kind in ("conv", "dense", "output")
    assert any(kind == "conv" for _n, kind, _v in x.layers) == ("cnn" in arch or arch == "digitnet")
    np.testing.assert_allclose(x.prediction.probabilities, rec.predict_strokes(ONE).probabilities, atol=1e-5)
    assert x.saliency().shape == (28, 28) and np.isfinite(x.saliency()).all()
    first = next(m for m in rec.model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    expected = tuple(first.weight.shape) if isinstance(first, nn.Conv2d) else (first.out_features, 28, 28)
    assert x.filters().shape == expected


def test_pooling_done_by_functions_shows_at_its_resolution():
    layers = {name: (kind, values.shape) for name, kind, values in untrained("cnn").explain_strokes(ONE).layers}
    assert layers["conv1"] == ("conv", (10, 24, 24))
    assert layers["pool before conv2"] == ("pool", (10, 12, 12))
    assert layers["pool before fc1"] == ("pool", (20, 4, 4))


def test_hooks_are_gone_after_an_explanation():
    rec = untrained("digitnet")
    rec.explain_strokes(ONE)
    assert all(not m._forward_hooks for m in rec.model.modules())


def test_a_bare_state_dict_file_explains(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / "tutorial.pt"
    torch.save(create_model("cnn-dropout").state_dict(), path)   # what the PyTorch tutorial script saves
    x = Recognizer.load(path, device="cpu").explain_strokes(SEVEN)
    assert [name for name, kind, _v in x.layers if kind in ("conv", "dense", "output")] == \
        ["conv1", "conv2", "fc1", "fc2"]


def test_a_picture_explains_like_its_one_view_reading():
    # an explanation is one forward pass; predict_image averages it with four shifted views
    rec = untrained("fnn")
    picture = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(picture).line([(60, 15), (60, 105)], fill=0, width=9)
    x = rec.explain_image(picture)
    one_view = rec.predict_mnist_image(image_to_mnist(picture), Views.ONE)
    np.testing.assert_allclose(x.prediction.probabilities, one_view.probabilities, atol=1e-5)


def test_another_digit_has_its_own_saliency_and_bad_digits_are_refused():
    x = untrained("cnn").explain_strokes(SEVEN)
    other = (x.prediction.digit + 1) % 10
    assert not np.allclose(x.saliency(other), x.saliency())
    assert x.saliency(other) is x.saliency(other)                    # computed once
    with pytest.raises(ValueError, match="0-9"):
        x.saliency(10)


@pytest.mark.parametrize("method", list(Method))
def test_for_a_centred_one_most_saliency_lies_on_the_ink(method):
    rec = load_app_recognizer()
    x = explain(rec.model, rec.predict_strokes(ONE).image, mean=rec._mean, std=rec._std, method=method)
    assert x.prediction.digit == 1
    strength = np.abs(x.saliency())
    ink = x.prediction.image > 0.1
    assert strength[ink].sum() / strength.sum() > 0.5
    assert x.saliency()[ink].sum() > 0                               # the ink speaks for the 1, on the whole


def test_blanking_the_top_saliency_pixels_drops_the_answer_faster_than_random_ones(mnist_dir):
    from trainer.data import load_mnist

    rec = load_app_recognizer()
    images = load_mnist(mnist_dir, download=False, test_subset=100, seed=0).test.images.numpy() / np.float32(255)
    digits = rec.predict_batch(images).argmax(axis=1)
    maps = np.stack([rec.explain_mnist_image(img).saliency(int(d)) for img, d in zip(images, digits, strict=True)])
    rng = np.random.default_rng(0)
    orders = {"saliency": np.argsort(-maps.reshape(len(images), -1), axis=1),
              "random": np.argsort(rng.random((len(images), 784)), axis=1)}
    left = {}
    for name, order in orders.items():
        blanked = images.reshape(len(images), -1).copy()
        np.put_along_axis(blanked, order[:, :60], 0.0, axis=1)
        left[name] = rec.predict_batch(blanked.reshape(images.shape))[np.arange(len(images)), digits].mean()
    assert left["saliency"] < left["random"] - 0.3

"""The moving average of the weights: it follows the model slowly, covers BatchNorm statistics,
and the training loop evaluates and returns the average, not the last step's weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainer.config import TrainConfig
from trainer.data import normalize
from trainer.ema import WARMUP, WeightAverage
from trainer.errors import ConfigError
from trainer.evaluate import evaluate
from trainer.train import train


def test_the_average_moves_towards_the_model_by_one_minus_the_decay():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.9)
    start = model.weight.detach().clone()
    steps = 2 * WARMUP * 10  # long past the warm-up
    with torch.no_grad():
        model.weight.add_(1.0)  # the model jumps; the average follows geometrically
    for _ in range(steps):
        average.update()
    # after the warm-up the decay is 0.9, so the gap shrinks by 0.9 each step: long since closed
    assert torch.allclose(average.model.weight, start + 1.0, atol=1e-4)

    fresh = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model.weight.add_(1.0)
    fresh.update()  # first step: decay (1 + 1) / (WARMUP + 1), not 0.9, so the start is not held long
    expected_step = 1 - 2 / (WARMUP + 1)
    assert torch.allclose(fresh.model.weight, start + 1.0 + expected_step, atol=1e-6)


def test_batchnorm_statistics_are_averaged_and_counters_copied():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    average = WeightAverage(model, decay=0.5)
    model.train()
    model(torch.randn(8, 1, 5, 5) * 3 + 2)  # moves running_mean/var and counts one batch
    average.update()
    bn_model, bn_avg = model[1], average.model[1]
    assert not torch.equal(bn_avg.running_mean, torch.zeros(2))  # followed the model's statistics
    assert bn_avg.num_batches_tracked.item() == bn_model.num_batches_tracked.item() == 1
    assert not average.model.training and not any(p.requires_grad for p in average.model.parameters())


def test_copy_back_puts_the_average_into_the_model():
    model = nn.Linear(4, 4)
    average = WeightAverage(model, decay=0.99)
    with torch.no_grad():
        model.weight.mul_(5)
    average.update()
    average.copy_back()
    assert torch.equal(model.weight, average.model.weight) and torch.equal(model.bias, average.model.bias)


@pytest.mark.parametrize("decay", [-0.1, 0.0, 1.0])
def test_a_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(nn.Linear(1, 1), decay)


# cnn: learns within seconds; digitnet: BatchNorm statistics and channels_last weights (too few
# steps here for its BatchNorm statistics to settle, so no accuracy is asked of it)
@pytest.mark.parametrize("arch, model_args, min_accuracy", [("cnn", {}, 0.5), ("digitnet", {"width": 8}, 0.0)])
def test_training_with_ema_evaluates_and_returns_the_averaged_weights(mnist_dir, arch, model_args, min_accuracy):
    from trainer.data import load_mnist

    data = load_mnist(mnist_dir, download=False, subset=512, test_subset=300)
    config = TrainConfig(arch=arch, model_args=model_args, optimizer="adam", lr=3e-3, batch_size=64,
                         epochs=2, device="cpu", ema=0.9)
    plain = train(TrainConfig(**{**config.to_dict(), "ema": 0.0}), data=data)
    averaged = train(config, data=data)

    # same seed, same batches: only the returned weights differ, and the metrics describe those weights
    last = lambda model: list(model.parameters())[-1]
    assert not torch.equal(last(plain.model), last(averaged.model))
    again = evaluate(averaged.model, data.test, "cpu")
    assert again.accuracy == averaged.metrics["test_accuracy"] == averaged.history[-1].test_accuracy
    assert averaged.metrics["test_accuracy"] >= min_accuracy
    logits = averaged.model(normalize(data.test.images[:4]))
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()
    assert averaged.to_checkpoint().hparams["ema"] == 0.9


def test_an_ema_decay_of_one_or_more_is_a_config_error():
    with pytest.raises(ConfigError, match="EMA decay"):
        TrainConfig(ema=1.0).validate()

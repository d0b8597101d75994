"""The inference copy reads exactly what the trained model reads, for every architecture."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainer.fusion import fused_for_inference
from trainer.models import ARCHITECTURES, InputKind, create_model
from trainer.sizes import IMAGE_SIZE
from trainer.trajectory import TRAJECTORY_FEATURES


def trained_looking(name: str) -> nn.Module:
    """A model whose batch norms hold non-trivial statistics, as after training."""
    torch.manual_seed(0)
    model = create_model(name)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def sample_input(name: str) -> torch.Tensor:
    if ARCHITECTURES[name].input_kind is InputKind.TRAJECTORY:
        points = int(ARCHITECTURES[name].default_args["points"])
        return torch.randn(5, TRAJECTORY_FEATURES, points)
    return torch.rand(5, 1, IMAGE_SIZE, IMAGE_SIZE)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_the_fused_copy_computes_the_same_logits(name):
    model = trained_looking(name)
    x = sample_input(name)
    fused = fused_for_inference(model)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-4)


def test_batch_norms_are_folded_and_the_original_is_left_as_it_was():
    model = trained_looking("digitnet")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fused_for_inference(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 5
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

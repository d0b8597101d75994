"""A faster copy of a trained model for inference: batch norms folded in, weights laid out channels-last.

In eval mode a batch norm is a fixed per-channel scale and shift, so it can be folded into the weights
and bias of the convolution that feeds it: the same function with one pass over the activations less.
Image convolutions then run on channels-last weights, which PyTorch's CPU kernels compute about twice as
fast for digitnet (one thread, batches of 1 to 512; benchmarks/number_reading.py reads a dozen or more
candidates per number in one batch). The logits agree to about 1e-5. The original model is kept as it is:
checkpoints, explanations and personalization read its layers by name.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_PAIRS = ((nn.Conv1d, nn.BatchNorm1d), (nn.Conv2d, nn.BatchNorm2d))


def fused_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` in which every convolution directly followed by its batch norm, inside
    an nn.Sequential, is one convolution (the norm's slot holds an nn.Identity, so indices stay the same),
    and whose 4-D weights are channels-last (inputs may stay as they are)."""
    fused = copy.deepcopy(model).eval()
    for block in fused.modules():
        if not isinstance(block, nn.Sequential):
            continue
        for k in range(len(block) - 1):
            conv, norm = block[k], block[k + 1]
            if any(type(conv) is c and type(norm) is b for c, b in _PAIRS) and norm.track_running_stats:
                block[k] = fuse_conv_bn_eval(conv, norm)
                block[k + 1] = nn.Identity()
    return fused.to(memory_format=torch.channels_last)

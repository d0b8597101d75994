"""ONNX export: the file runs in onnxruntime, takes [0,1] pixels for any batch size and agrees with PyTorch."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from trainer.checkpoint import make_checkpoint, save_checkpoint
from trainer.data import normalize
from trainer.export import ExportError, export_onnx
from trainer.models import create_model

ort = pytest.importorskip("onnxruntime")


def pixels(n: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))


def test_an_exported_checkpoint_gives_the_same_logits_for_any_batch_size(tmp_path):
    torch.manual_seed(0)
    model = create_model("cnn").eval()
    ckpt_path = save_checkpoint(make_checkpoint(model, "cnn", {}), tmp_path / "m.pt")

    result = export_onnx(ckpt_path, tmp_path / "m.onnx")

    assert result.verified and result.max_abs_diff < 1e-4
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        images = pixels(n)
        got = session.run(None, {"image": (images.float() / 255).unsqueeze(1).numpy()})[0]
        with torch.inference_mode():
            expected = model(normalize(images)).numpy()
        assert got.shape == (n, 10)
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_exporting_a_module_leaves_it_where_and_as_it_was(tmp_path):
    model = create_model("fnn").train()
    export_onnx(model, tmp_path / "m.onnx", verify=False)
    assert model.training and (tmp_path / "m.onnx").is_file()


def test_a_failed_export_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous")
    monkeypatch.setattr("trainer.export.VERIFY_ATOL", -1.0)  # any difference is "too big"
    with pytest.raises(ExportError, match="disagrees with PyTorch"):
        export_onnx(create_model("fnn"), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temp file left behind


def test_without_onnx_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ExportError, match=r"pip install onnx onnxruntime"):
        export_onnx(create_model("fnn"), tmp_path / "m.onnx")


def test_a_pen_path_model_is_refused_up_front_and_writes_nothing(tmp_path):
    ckpt_path = save_checkpoint(make_checkpoint(create_model("penseq"), "penseq", {}), tmp_path / "penseq.pt")
    with pytest.raises(ExportError, match="reads pen paths, not images"):
        export_onnx(ckpt_path, tmp_path / "penseq.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["penseq.pt"]

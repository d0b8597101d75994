"""`digitpad predict`: read image files from the command line, one line (or JSON entry) per file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from digitpad.predict_cli import run_predict
from trainer.checkpoint import make_checkpoint, save_checkpoint
from trainer.models import create_model

REPO_ROOT = Path(__file__).resolve().parents[2]
SEVEN = [(120, 100), (280, 100), (190, 330)]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(make_checkpoint(create_model("fnn"), "fnn", {}), tmp_path_factory.mktemp("m") / "tiny.pt")


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "seven.png"
    img = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(img).line(SEVEN, fill="black", width=14)
    img.save(good)
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    return good, text, tmp_path / "missing.png"


def test_a_good_picture_prints_its_digit_and_probabilities(model_file, files, capsys):
    good, _, _ = files
    assert run_predict([str(good), "--model", str(model_file), "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    line = out.strip()
    assert line.startswith(f"{good}: ") and err == ""
    digit = int(line.split(": ")[1].split()[0])
    probs = [float(tok.split(":")[1]) for tok in line.split()[-10:]]
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=0.01)
    assert digit == int(np.argmax(probs))


def test_bad_files_get_one_line_each_and_the_others_are_still_read(model_file, files, capsys):
    good, text, missing = files
    code = run_predict([str(text), str(good), str(missing), "--model", str(model_file)])
    out, err = capsys.readouterr()
    assert code != 0
    assert out.count("\n") == 1 and out.startswith(f"{good}: ")
    errors = err.strip().splitlines()
    assert len(errors) == 2
    assert "notes.txt" in errors[0] and "missing.png" in errors[1]


def test_json_output_is_one_parseable_document(model_file, files, capsys):
    good, text, missing = files
    code = run_predict([str(good), str(text), str(missing), "--model", str(model_file), "--json"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert code != 0
    assert doc["model"] == "tiny" and doc["arch"] == "fnn" and doc["device"]
    first, second, third = doc["results"]
    assert first["file"] == str(good) and 0 <= first["digit"] <= 9
    assert sum(first["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert "error" in second and "notes.txt" in second["error"] and "digit" not in second
    assert "missing.png" in third["error"]


def test_a_blank_picture_is_nothing_drawn(model_file, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    assert run_predict([str(blank), "--model", str(model_file)]) != 0
    assert "nothing drawn" in capsys.readouterr().err


def test_a_bad_model_is_one_clear_error(files, tmp_path, capsys):
    good, text, _ = files
    assert run_predict([str(good), "--model", str(text)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "notes.txt" in err


def test_usage_errors_and_help_return_their_status(capsys):
    assert run_predict([]) == 2
    assert run_predict(["--help"]) == 0
    assert "--model" in capsys.readouterr().out


def test_predicting_never_imports_qt(model_file, files):
    good, _, _ = files
    code = (
        "import sys\n"
        "from digitpad.predict_cli import run_predict\n"
        f"status = run_predict([{str(good)!r}, '--model', {str(model_file)!r}])\n"
        "qt = sorted(m for m in sys.modules if m.startswith(('PySide6', 'PyQt')))\n"
        "sys.exit(10 if qt else status)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(good))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_falls_back_to_the_cpu_with_a_note_like_the_app(model_file, files, capsys):
    good, _, _ = files
    assert run_predict([str(good), "--model", str(model_file), "--device", "cuda"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(str(good))  # the file was still read
    assert err.startswith("digitpad predict: note: ") and "using the CPU" in err and len(err.splitlines()) == 1


def test_every_command_line_offers_the_same_devices(capsys):
    from digitpad.cli import build_parser as app_parser
    from trainer.cli import main as train_main

    assert run_predict(["x.png", "--device", "tpu"]) == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    assert app_parser().parse_args(["--device", "cuda:1"]).device == "cuda:1"
    with pytest.raises(SystemExit):
        app_parser().parse_args(["--device", "tpu"])
    with pytest.raises(SystemExit):
        train_main(["--device", "tpu"])
    assert capsys.readouterr().err.count("invalid choice: 'tpu' (choose from auto, cpu, cuda, cuda:N, mps)") == 2

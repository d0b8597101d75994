"""`digitpad-train`: train, evaluate and export from the command line; user errors are one line, never a traceback."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainer import reporting
from trainer.checkpoint import load_checkpoint
from trainer.cli import main
from trainer.config import TrainConfig
from trainer.events import BatchEvent, EpochEvent, StartEvent
from trainer.reporting import ProgressPrinter, TensorBoardLog, format_confusion

QUICK = ["--subset", "512", "--test-subset", "200", "--batch-size", "64", "--device", "cpu", "--log-every", "2"]


def quick_args(mnist_dir, *extra: str) -> list[str]:
    return ["--data-dir", str(mnist_dir), *QUICK, *extra]


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert lines and lines[-1].startswith("digitpad-train: error: ")
    return lines[-1]


@pytest.mark.slow  # 2-5 s: a training run, an evaluation and an ONNX export with its onnxruntime check
def test_train_then_evaluate_then_export(mnist_dir, tmp_path, capsys):
    model_path, log_path, onnx_path = tmp_path / "m.pt", tmp_path / "run.jsonl", tmp_path / "m.onnx"

    assert main(quick_args(mnist_dir, "--arch", "cnn", "--lr", "2e-3", "--out", str(model_path), "--log", str(log_path))) == 0
    out, err = capsys.readouterr()
    assert f"saved model to {model_path}" in out and "test accuracy" in out
    assert "epoch 1/1" in err and "training cnn" in err  # progress on stderr
    ckpt = load_checkpoint(model_path)
    assert ckpt.arch == "cnn" and ckpt.hparams["lr"] == 2e-3 and ckpt.hparams["subset"] == 512
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [r["event"] for r in records][:2] == ["start", "batch"]
    assert [r["event"] for r in records][-2:] == ["epoch", "result"]
    assert records[-1]["checkpoint"] == str(model_path)

    torch.set_num_threads(2)
    args = ["evaluate", str(model_path), "--data-dir", str(mnist_dir), "--test-subset", "200", "--device", "cpu", "--threads", "1"]
    assert main(args) == 0
    assert torch.get_num_threads() == 1  # --threads was applied
    out, _ = capsys.readouterr()
    assert "test accuracy" in out and "/200)" in out
    table = out[out.index("true\\pred") :].splitlines()[:11]
    assert table[0].split() == ["true\\pred", *map(str, range(10))]
    assert [row.split()[0] for row in table[1:]] == [str(d) for d in range(10)]
    assert sum(sum(int(v) for v in row.split()[1:]) for row in table[1:]) == 200
    assert len({len(row) for row in table}) == 1  # aligned

    assert main(["export", str(model_path), str(onnx_path)]) == 0
    out, _ = capsys.readouterr()
    assert onnx_path.is_file() and "verified with onnxruntime" in out


def test_train_is_the_default_command_and_dry_run_saves_nothing(mnist_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(quick_args(mnist_dir, "--arch", "fnn", "--dry-run")) == 0
    out, _ = capsys.readouterr()
    assert "dry run: 0 epoch(s), 1 step(s)" in out and "nothing saved" in out
    assert list(tmp_path.iterdir()) == []


def test_quiet_prints_only_the_summary(mnist_dir, tmp_path, capsys):
    assert main(quick_args(mnist_dir, "--arch", "fnn", "--quiet", "--out", str(tmp_path / "m.pt"))) == 0
    out, err = capsys.readouterr()
    assert err == "" and "saved model to" in out


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])  # Ctrl+C; `kill` / `timeout`
def test_ctrl_c_or_sigterm_saves_the_model_trained_so_far(stop, mnist_dir, tmp_path, capsys, monkeypatch):
    number = getattr(signal, stop)
    before = signal.getsignal(number)
    sent = []
    real_call = reporting.JsonLinesLog.__call__

    def interrupt_after_first_batch(self, event):
        real_call(self, event)
        if isinstance(event, BatchEvent) and not sent:
            sent.append(event.global_step)
            signal.raise_signal(number)

    monkeypatch.setattr(reporting.JsonLinesLog, "__call__", interrupt_after_first_batch)
    model_path = tmp_path / "m.pt"
    args = quick_args(mnist_dir, "--arch", "fnn", "--epochs", "3", "--out", str(model_path), "--log", str(tmp_path / "log.jsonl"))
    assert main(args) == 128 + number  # 130 for Ctrl+C, 143 for SIGTERM: what a shell expects of an interrupted run
    out, err = capsys.readouterr()
    assert "stopping after this batch" in err
    assert "cancelled:" in out and "saved the model trained so far" in out
    ckpt = load_checkpoint(model_path)
    assert ckpt.metrics["cancelled"] and ckpt.metrics["steps"] == sent[0]
    assert signal.getsignal(number) is before  # handler restored


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
        (["--lr", "-1"], "argument --lr: must be a positive number"),
        (["--epochs", "0"], "argument --epochs: must be >= 1"),
        (["--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
        (["--arch", "resnet"], "argument --arch: invalid choice: 'resnet'"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--label-smoothing", "1.5"], "argument --label-smoothing: must be in [0, 1)"),
        (["--model-arg", "width"], "argument --model-arg: expected KEY=VALUE"),
        (["--pen-digits", "--pen-copies", "0"], "argument --pen-copies: must be >= 1"),
        (["evaluate"], "the following arguments are required: model"),
        (["export", "m.pt"], "the following arguments are required: output"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_bad_arguments_get_argparse_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage: digitpad-train" in err


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--lr LR learning rate (the peak rate with --schedule onecycle) (default: 0.0005)" in out
    assert "(default: cnn)" in out and "(default: model.pt)" in out


def test_a_missing_data_dir_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("trainer.data._network_reachable", lambda: False)  # stay offline, fast
    code = main(["--data-dir", str(tmp_path / "nowhere"), "--device", "cpu", "--out", str(tmp_path / "m.pt")])
    assert code == 1
    line = one_line_error(capsys.readouterr().err)
    assert "MNIST not found" in line and "--data-dir" in line
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_is_a_usage_error(tmp_path, capsys):
    assert main(["--device", "cuda", "--out", str(tmp_path / "m.pt")]) == 2
    assert "no CUDA GPU" in one_line_error(capsys.readouterr().err)


def test_pen_copies_without_pen_digits_is_a_usage_error(tmp_path, capsys):
    assert main(["--pen-copies", "6", "--device", "cpu", "--out", str(tmp_path / "m.pt")]) == 2
    assert "--pen-copies only counts with --pen-digits" in one_line_error(capsys.readouterr().err)


def test_an_output_path_that_cannot_be_written_fails_before_training(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "no" / "m.pt"), "--device", "cpu"]) == 2
    assert "does not exist" in one_line_error(capsys.readouterr().err)
    assert main(["--out", str(tmp_path), "--device", "cpu"]) == 2
    assert "is a directory" in one_line_error(capsys.readouterr().err)


def test_evaluating_a_broken_model_file_is_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert main(["evaluate", str(broken), "--data-dir", str(tmp_path), "--device", "cpu"]) == 1
    assert str(broken) in one_line_error(capsys.readouterr().err)


def test_export_without_onnx_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    assert main(["export", str(tmp_path / "m.pt"), str(tmp_path / "m.onnx")]) == 1
    assert "pip install onnx onnxruntime" in one_line_error(capsys.readouterr().err)


def test_tensorboard_without_the_package_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert main(["--tensorboard", str(tmp_path / "tb"), "--device", "cpu", "--out", str(tmp_path / "m.pt")]) == 1
    assert "pip install tensorboard" in one_line_error(capsys.readouterr().err)


def test_tensorboard_gets_losses_and_accuracies():
    class FakeWriter:
        def __init__(self):
            self.scalars = []

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

        def flush(self):
            pass

    writer = FakeWriter()
    log = TensorBoardLog(writer)
    log(BatchEvent(1, 1, 5, 10, 5, 0.5, 1000.0, 1.0, 1.0))
    log(EpochEvent(1, 1, 0.4, 0.9, 0.3, 0.92, 2.0))
    assert ("batch/loss", 0.5, 5) in writer.scalars and ("test/accuracy", 0.92, 1) in writer.scalars
    assert ("train/loss", 0.4, 1) in writer.scalars  # the epoch's loss, not the batch's, against the epoch
    assert not any(tag.startswith("val/") for tag, _, _ in writer.scalars)


def test_tensorboard_run_can_be_read_back_by_tensorboard(mnist_dir, tmp_path, capsys):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator", reason="tensorboard is an optional extra"
    )
    tb_dir = tmp_path / "tb"
    args = quick_args(mnist_dir, "--arch", "fnn", "--epochs", "2", "--tensorboard", str(tb_dir), "--out", str(tmp_path / "m.pt"))
    assert main(args) == 0
    reader = event_accumulator.EventAccumulator(str(tb_dir))
    reader.Reload()
    epochs = {tag: [s.step for s in reader.Scalars(tag)] for tag in ("train/loss", "test/accuracy")}
    assert epochs == {"train/loss": [1, 2], "test/accuracy": [1, 2]}
    steps = [s.step for s in reader.Scalars("batch/loss")]
    assert steps == sorted(steps) and steps[-1] == 16  # 2 epochs of 512 images in batches of 64


def test_progress_on_a_terminal_is_one_updating_line_with_eta():
    stream = io.StringIO()
    progress = ProgressPrinter(stream, tty=True)
    progress(StartEvent(TrainConfig(), "cpu", 1000, 100, 10, 1234))
    progress(BatchEvent(1, 2, 10, 10, 10, 0.25, 5000.0, 2.0, 65.0))
    progress(EpochEvent(1, 2, 0.3, 0.9, 0.2, 0.95, 2.5))
    progress.close()
    text = stream.getvalue()
    assert "\repoch 1/2 [########################] 100%  loss 0.2500" in text
    assert "5,000 samples/s  ETA 1m05s" in text
    assert "test loss 0.2000 acc 95.00%" in text


def test_progress_in_a_log_file_is_a_line_per_epoch():
    stream = io.StringIO()
    progress = ProgressPrinter(stream, tty=False)
    progress(BatchEvent(1, 2, 5, 10, 5, 0.25, 5000.0, 2.0, 65.0))
    progress(EpochEvent(1, 2, 0.3, 0.9, 0.2, 0.95, 2.5))
    assert "\r" not in stream.getvalue() and stream.getvalue().count("\n") == 1


def test_confusion_table_columns_stay_aligned_for_big_counts():
    confusion = torch.zeros(10, 10, dtype=torch.int64).numpy()
    confusion[1, 1] = 1135
    lines = format_confusion(confusion).splitlines()
    assert len(lines) == 11 and len({len(line) for line in lines}) == 1 and "1,135" in lines[2]


def test_momentum_given_with_plain_sgd_applies(capsys):
    from trainer.cli import build_parser, config_from_args
    from trainer.train import make_optimizer

    weights = [torch.zeros(2, requires_grad=True)]
    recipe = ["train", "--optimizer", "sgd", "--momentum", "0.5", "--lr", "0.01"]  # as PyTorch's tutorial writes it
    config = config_from_args(build_parser().parse_args(recipe))
    assert make_optimizer(config, weights).defaults["momentum"] == 0.5
    plain = config_from_args(build_parser().parse_args(["train", "--optimizer", "sgd"]))
    assert make_optimizer(plain, weights).defaults["momentum"] == 0  # no --momentum: plain SGD stays plain
    assert main(["--optimizer", "adam", "--momentum", "0.5", "--device", "cpu"]) == 2
    assert "--momentum applies to --optimizer sgd or momentum" in one_line_error(capsys.readouterr().err)


def test_the_default_thread_count_leaves_one_core_free(mnist_dir, tmp_path, monkeypatch, capsys):
    from trainer import threads

    assert [threads.default_threads(cores) for cores in (1, 2, 8)] == [1, 1, 7]
    monkeypatch.setattr(threads, "usable_cores", lambda: 3)
    assert main(quick_args(mnist_dir, "--arch", "fnn", "--dry-run", "--quiet")) == 0
    assert torch.get_num_threads() == 2
    assert main(quick_args(mnist_dir, "--arch", "fnn", "--dry-run", "--quiet", "--threads", "1")) == 0
    assert torch.get_num_threads() == 1


def test_an_output_directory_that_cannot_be_written_fails_before_training(tmp_path, capsys, monkeypatch):
    def no_files_here(*args, **kwargs):
        raise PermissionError(13, "Permission denied")  # what a read-only directory says to a non-root user

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained although the model could not be saved")

    monkeypatch.setattr("trainer.cli.tempfile.mkstemp", no_files_here)
    monkeypatch.setattr("trainer.train.train", must_not_train)
    assert main(["--out", str(tmp_path / "m.pt"), "--device", "cpu"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"cannot write into {tmp_path} (Permission denied)" in line


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_fails_before_training(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["--out", str(locked / "m.pt"), "--device", "cpu"]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot write into" in one_line_error(capsys.readouterr().err)


def test_a_full_disk_at_save_time_says_so_and_keeps_the_model_elsewhere(mnist_dir, tmp_path, monkeypatch, capsys):
    from trainer.errors import CheckpointError
    from trainer.train import TrainResult

    real_save = TrainResult.save
    out = tmp_path / "m.pt"

    def disk_full_at_out(self, path):
        if Path(path) == out:  # torch.save's zip writer when the disk fills up, as save_checkpoint wraps it
            cause = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 3456 vs 3392")
            raise CheckpointError(f"cannot save the model to {path}: {cause}") from cause
        return real_save(self, path)

    monkeypatch.setattr(TrainResult, "save", disk_full_at_out)
    monkeypatch.setenv("DIGITPAD_RUNS", str(tmp_path / "fallback"))
    assert main(quick_args(mnist_dir, "--arch", "fnn", "--out", str(out), "--quiet")) == 1
    captured = capsys.readouterr()
    line = one_line_error(captured.err)
    assert f"could not save the model to {out}: the disk is full; saved it to {tmp_path / 'fallback'}" in line
    saved = Path(line.split("saved it to ")[1].split(" instead")[0])
    assert saved.parent == tmp_path / "fallback" and load_checkpoint(saved).arch == "fnn"
    assert f"saved model to {saved}" in captured.out and not out.exists()


def test_ctrl_c_while_torch_imports_is_one_line(monkeypatch, capsys):
    def interrupted_import():
        raise KeyboardInterrupt  # where Ctrl+C lands in the first seconds: torch's import, under the parser

    monkeypatch.setattr("trainer.models.model_names", interrupted_import)
    assert main(["--epochs", "1"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip() == "digitpad-train: interrupted"


def test_importing_the_command_line_loads_neither_torch_nor_numpy():
    code = "import sys, trainer.cli; sys.exit(1 if {'torch', 'numpy'} & set(sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_every_sink_takes_events_a_result_and_close_so_callers_need_no_hasattr(tmp_path):
    from trainer.reporting import JsonLinesLog, Sink, Sinks

    class FakeWriter:
        def __init__(self):
            self.tags, self.closed = [], False

        def add_scalar(self, tag, value, step):
            self.tags.append(tag)

        def flush(self):
            pass

        def close(self):
            self.closed = True

    writer = FakeWriter()
    stream = io.StringIO()
    parts = [ProgressPrinter(stream, tty=False), JsonLinesLog(tmp_path / "log.jsonl"), TensorBoardLog(writer)]
    assert all(isinstance(sink, Sink) for sink in parts)
    with Sinks(parts) as sinks:
        assert isinstance(sinks, Sink)
        sinks(EpochEvent(1, 1, 0.4, 0.9, 0.3, 0.92, 2.0))
    sinks.close()  # twice is fine
    assert "test loss 0.3000" in stream.getvalue() and "test/accuracy" in writer.tags and writer.closed
    assert json.loads((tmp_path / "log.jsonl").read_text())["event"] == "epoch"


def test_when_no_folder_can_take_the_model_the_message_says_so(mnist_dir, tmp_path, monkeypatch, capsys):
    import errno

    from trainer.train import TrainResult

    def nowhere(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(TrainResult, "save", nowhere)
    assert main(quick_args(mnist_dir, "--arch", "fnn", "--out", str(tmp_path / "m.pt"), "--quiet")) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "the disk is full; no fallback folder could take it either" in line

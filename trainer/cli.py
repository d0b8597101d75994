"""`digitpad-train`: train, evaluate and export digit models from the command line.

    digitpad-train [train] --arch cnn --epochs 3 --out model.pt   (train is the default command)
    digitpad-train evaluate model.pt
    digitpad-train export model.pt model.onnx

User errors (bad data directory, unusable model file, a diverging run) end in one `error:` line
on stderr and a non-zero exit status, never a traceback. Ctrl+C (or SIGTERM, as `kill` and `timeout` send)
while training stops after the current batch and saves the model trained so far.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np

from trainer.errors import DigitpadError

PROG = "digitpad-train"
COMMANDS = ("train", "evaluate", "export")
BAR_WIDTH = 24  # characters of the tty progress bar
TTY_REFRESH_SECONDS = 0.1  # redraw the \r progress line at most this often
DEVICE_HELP = "auto = CUDA, then Apple MPS, then CPU; or cpu, cuda, cuda:N, mps"
THREADS_HELP = (
    "CPU threads for PyTorch (default: PyTorch's choice, one per physical core); "
    "on a machine busy with other work, 1 can be faster"
)
DATA_DIR_HELP = (
    "directory of the four MNIST IDX files (default: $DIGITPAD_DATA, else the per-user cache; "
    "downloaded there when missing and online)"
)
EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


# ---------------------------------------------------------------- argument types (argparse-quality errors)


def _positive_int(text: str) -> int:
    value = _parse(int, text, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _nonnegative_int(text: str) -> int:
    value = _parse(int, text, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = _parse(float, text, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _device(text: str) -> str:
    name = text.strip().lower()
    base, _, index = name.partition(":")
    if base in ("auto", "cpu", "mps") and not index or base == "cuda" and (not index or index.isdigit()):
        return name
    raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from auto, cpu, cuda, cuda:N, mps)")


def _model_arg(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw  # a bare word is a string
    return key, value


def _parse(kind, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


# ---------------------------------------------------------------- parser


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default: "off" for flags, "none" for empty ones."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default:" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.default is False:
            return f"{text} (default: off)"
        if action.default is None or action.default == []:
            return f"{text} (default: none)"
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train, evaluate and export digitpad's MNIST digit models. "
        "`train` is the default command: `digitpad-train --epochs 3` means `digitpad-train train --epochs 3`. "
        "See `digitpad-train train -h` for the training options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{train,evaluate,export}")
    _add_train_parser(commands)
    _add_evaluate_parser(commands)
    _add_export_parser(commands)
    return parser


def _add_train_parser(commands) -> None:
    from trainer.models import model_names
    from trainer.train import OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    p = commands.add_parser(
        "train",
        help="train a model on MNIST (the default command)",
        description="Train a model on MNIST and save it as a digitpad checkpoint.",
        formatter_class=_HelpFormatter,
    )
    model = p.add_argument_group("model")
    model.add_argument("--arch", choices=model_names(), default=d.arch, help="architecture")
    model.add_argument(
        "--model-arg", metavar="KEY=VALUE", type=_model_arg, action="append", default=[],
        help="constructor argument of the architecture, e.g. --model-arg width=32 (repeatable)",
    )
    opt = p.add_argument_group("optimization")
    opt.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="optimizer (momentum = SGD with momentum)")
    opt.add_argument("--lr", type=_positive_float, default=d.lr, help="learning rate (the peak rate with --schedule onecycle)")
    opt.add_argument("--momentum", type=_fraction, default=d.momentum, help="momentum of --optimizer momentum")
    opt.add_argument("--weight-decay", type=_nonnegative_float, default=d.weight_decay, help="weight decay")
    opt.add_argument("--batch-size", type=_positive_int, default=d.batch_size, help="training batch size")
    opt.add_argument("--epochs", type=_positive_int, default=d.epochs, help="passes over the training set")
    opt.add_argument("--seed", type=_nonnegative_int, default=d.seed, help="random seed (same seed, same device: same run)")
    opt.add_argument("--label-smoothing", type=_fraction, default=d.label_smoothing, help="label smoothing")
    opt.add_argument(
        "--ema", metavar="DECAY", type=_fraction, default=d.ema,
        help="keep a moving average of the weights with this decay (e.g. 0.999) and evaluate and save it; 0 = off",
    )
    opt.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help="learning-rate schedule, stepped every batch")
    opt.add_argument("--augment", action="store_true", help="random small affine distortions of the training images")
    opt.add_argument("--device", type=_device, default=d.device, help=DEVICE_HELP)
    opt.add_argument("--threads", type=_positive_int, default=None, help=THREADS_HELP)
    data = p.add_argument_group("data")
    data.add_argument("--data-dir", default=d.data_dir, help=DATA_DIR_HELP)
    data.add_argument(
        "--subset", type=_positive_int, default=d.subset,
        help="train on N training images (a class-balanced draw fixed by --seed; default: all)",
    )
    data.add_argument(
        "--test-subset", type=_positive_int, default=d.test_subset,
        help="evaluate on N test images (a class-balanced draw; default: all)",
    )
    data.add_argument(
        "--val-size", type=_nonnegative_int, default=d.val_size,
        help="hold out N training images as a validation split, evaluated every epoch",
    )
    data.add_argument(
        "--pen-digits", action="store_true",
        help="add the training writers' UNIPEN pen digits, rendered like canvas drawings "
        "(the file from $DIGITPAD_PENDIGITS or ../shared/pendigits; default: off)",
    )
    data.add_argument(
        "--pen-copies", type=_positive_int, default=None, metavar="N",
        help="with --pen-digits: renders of each pen digit, at random sizes and places; more copies "
        f"weigh drawn digits more against MNIST (default: {d.pen_copies})",
    )
    out = p.add_argument_group("output")
    out.add_argument("--out", default="model.pt", help="where to write the checkpoint")
    out.add_argument("--log", metavar="FILE", help="write every training event to FILE as JSON lines")
    out.add_argument("--tensorboard", metavar="DIR", help="also log to TensorBoard in DIR (needs the tensorboard package)")
    out.add_argument("--log-every", type=_positive_int, default=d.log_every, help="batches between progress updates")
    out.add_argument("--dry-run", action="store_true", help="train a single batch, evaluate, save nothing (a quick check)")
    out.add_argument("--quiet", action="store_true", help="no progress output, only the final summary")
    p.set_defaults(handler=_cmd_train)


def _add_evaluate_parser(commands) -> None:
    p = commands.add_parser(
        "evaluate",
        help="test accuracy, per-class accuracy and confusion matrix of a model file",
        description="Evaluate a checkpoint (or a bare state_dict) on the MNIST test set.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("model", help="checkpoint file (.pt)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--device", type=_device, default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=_positive_int, default=None, help=THREADS_HELP)
    p.add_argument("--test-subset", type=_positive_int, default=None, help="evaluate on N test images (default: all)")
    p.add_argument("--batch-size", type=_positive_int, default=1000, help="evaluation batch size")
    p.set_defaults(handler=_cmd_evaluate)


def _add_export_parser(commands) -> None:
    from trainer.export import ONNX_OPSET

    p = commands.add_parser(
        "export",
        help="export a model file to ONNX",
        description="Export a checkpoint to ONNX (dynamic batch; input pixels in [0, 1], normalization included). "
        "Verified against PyTorch with onnxruntime when it is installed.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("model", help="checkpoint file (.pt)")
    p.add_argument("output", help="ONNX file to write")
    p.add_argument("--opset", type=_positive_int, default=ONNX_OPSET, help="ONNX opset version")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    p.set_defaults(handler=_cmd_export)


def _with_default_command(argv: list[str]) -> list[str]:
    """`digitpad-train --epochs 3` -> `digitpad-train train --epochs 3`."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["train", *argv]
    return argv


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (SystemExit(2) for bad arguments, like argparse)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(_with_default_command(argv))
    from trainer.train import ConfigError

    try:
        return args.handler(args)
    except ConfigError as exc:
        _error(exc)
        return EXIT_USAGE
    except DigitpadError as exc:
        _error(exc)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `digitpad-train evaluate m.pt | head`: the reader left; nothing to say
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError, AttributeError):
            pass  # stdout is not a real file (e.g. captured): nothing will be flushed to a pipe
        return EXIT_USER_ERROR
    except OSError as exc:  # e.g. the output directory is read-only
        _error(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _error(message) -> None:
    text = " ".join(str(message).split())  # one line, whatever the message holds
    print(f"{PROG}: error: {text}", file=sys.stderr)


# ---------------------------------------------------------------- train


def config_from_args(args: argparse.Namespace):
    from trainer.train import ConfigError, TrainConfig

    if args.pen_copies is not None and not args.pen_digits:
        raise ConfigError("--pen-copies only counts with --pen-digits (it sets how often each pen digit is used)")

    return TrainConfig(
        arch=args.arch,
        model_args=dict(args.model_arg),
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        epochs=1 if args.dry_run else args.epochs,
        seed=args.seed,
        label_smoothing=args.label_smoothing,
        ema=args.ema,
        schedule=args.schedule,
        augment=args.augment,
        device=args.device,
        data_dir=args.data_dir,
        subset=args.subset,
        test_subset=args.test_subset,
        val_size=args.val_size,
        pen_digits=args.pen_digits,
        pen_copies=args.pen_copies or TrainConfig.pen_copies,
        log_every=1 if args.dry_run else args.log_every,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from trainer.train import BatchEvent, TrainControl, resolve_device, train

    config = config_from_args(args)
    config.validate()
    _set_threads(args.threads)
    resolve_device(config.device)  # fail before loading data
    out = Path(args.out)
    if not args.dry_run:
        _check_output_path(out, "--out")
    control = TrainControl()
    with ExitStack() as stack:
        sinks = [] if args.quiet else [ProgressPrinter(sys.stderr)]
        if args.log:
            _check_output_path(Path(args.log), "--log")
            sinks.append(stack.enter_context(JsonLinesLog(Path(args.log))))
        if args.tensorboard:
            sinks.append(stack.enter_context(TensorBoardLog.open(args.tensorboard)))
        if args.dry_run:  # one batch, like pytorch/examples: stop after the first BatchEvent
            sinks.append(lambda event: control.cancel() if isinstance(event, BatchEvent) else None)

        def on_event(event) -> None:
            for sink in sinks:
                sink(event)

        stack.enter_context(_cancel_on_stop_signals(control))
        try:
            result = train(config, on_event=on_event, control=control)
        finally:  # end an open progress line, also when an error message follows
            for sink in sinks:
                if hasattr(sink, "finish"):
                    sink.finish()
        saved = None if args.dry_run or result.metrics["steps"] == 0 else result.save(out)
        for sink in sinks:
            if isinstance(sink, JsonLinesLog):
                sink.write_result(result, saved)
    _print_summary(result, saved, dry_run=args.dry_run)
    return 0


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _check_output_path(path: Path, flag: str) -> None:
    """Fail before training rather than after it."""
    from trainer.train import ConfigError

    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise ConfigError(f"{flag} {path}: the directory {path.parent} does not exist")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl+C; `kill`, `timeout` and job schedulers (both exist on every OS)


@contextmanager
def _cancel_on_stop_signals(control):
    """First Ctrl+C (or SIGTERM): finish the current batch, then stop and save. A second: abort."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (e.g. main() called from a test thread)
        return

    def handler(signum, frame) -> None:
        if control.cancelled:
            raise KeyboardInterrupt
        control.cancel()
        again = "Ctrl+C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\n{PROG}: stopping after this batch to save the model trained so far ({again} again to abort)", file=sys.stderr)

    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _print_summary(result, saved: Path | None, *, dry_run: bool) -> None:
    m = result.metrics
    steps = m["steps"]
    how = "dry run" if dry_run else ("cancelled" if result.cancelled else "done")
    print(
        f"{how}: {m['epochs_completed']} epoch(s), {steps} step(s) in {_duration(result.seconds)} on {m['device']}; "
        f"test accuracy {100 * m['test_accuracy']:.2f}%, test loss {m['test_loss']:.4f}"
    )
    if saved is not None:
        what = "the model trained so far" if result.cancelled else "model"
        print(f"saved {what} to {saved}")
    elif dry_run:
        print("dry run: nothing saved")
    else:
        print("cancelled before the first training step: nothing saved")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class ProgressPrinter:
    """Progress on a stream: a \\r-updated bar on a terminal, one line per epoch otherwise."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.last_draw = 0.0
        self.last_test_accuracy: float | None = None
        self.line_open = False

    def __call__(self, event) -> None:
        from trainer.train import BatchEvent, EpochEvent, StartEvent

        if isinstance(event, StartEvent):
            self._write_line(
                f"training {event.config.arch} ({event.n_params:,} parameters) on {event.device}: "
                f"{event.n_train:,} training / {event.n_test:,} test images, {event.steps_per_epoch} steps per epoch"
            )
        elif isinstance(event, BatchEvent) and self.tty:
            now = time.monotonic()
            if now - self.last_draw >= TTY_REFRESH_SECONDS or event.step == event.steps_per_epoch:
                self.last_draw = now
                self.stream.write("\r" + self._bar(event) + "\x1b[K")
                self.stream.flush()
                self.line_open = True
        elif isinstance(event, EpochEvent):
            self.last_test_accuracy = event.test_accuracy
            self._write_line(format_epoch(event))

    def finish(self) -> None:
        if self.line_open:
            self.stream.write("\n")
            self.line_open = False
        self.stream.flush()

    def _bar(self, e) -> str:
        done = e.step / e.steps_per_epoch
        filled = int(round(BAR_WIDTH * done))
        acc = "" if self.last_test_accuracy is None else f"  test acc {100 * self.last_test_accuracy:.2f}%"
        return (
            f"epoch {e.epoch}/{e.epochs} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {100 * done:3.0f}%  "
            f"loss {e.loss:.4f}{acc}  {e.samples_per_sec:,.0f} samples/s  ETA {_duration(e.eta)}"
        )

    def _write_line(self, text: str) -> None:
        prefix = "\r\x1b[K" if self.tty and self.line_open else ""
        self.stream.write(prefix + text + "\n")
        self.stream.flush()
        self.line_open = False


def format_epoch(e) -> str:
    val = "" if e.val_accuracy is None else f"  val loss {e.val_loss:.4f} acc {100 * e.val_accuracy:.2f}%"
    return (
        f"epoch {e.epoch}/{e.epochs}  train loss {e.train_loss:.4f} acc {100 * e.train_accuracy:.2f}%  "
        f"test loss {e.test_loss:.4f} acc {100 * e.test_accuracy:.2f}%{val}  {_duration(e.seconds)}"
    )


class JsonLinesLog:
    """Every event as one JSON object per line, flushed as it comes (a crash keeps what was logged)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: TextIO | None = None
        self.start = time.time()

    def __enter__(self) -> JsonLinesLog:
        self.file = open(self.path, "w", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        if self.file:
            self.file.close()

    def __call__(self, event) -> None:
        from trainer.train import event_to_dict

        self._write({**event_to_dict(event), "wall_time": time.time()})

    def write_result(self, result, saved: Path | None) -> None:
        self._write({"event": "result", "cancelled": result.cancelled, "checkpoint": str(saved) if saved else None, **result.metrics})

    def _write(self, record: dict) -> None:
        assert self.file is not None
        self.file.write(json.dumps(record, default=str) + "\n")
        self.file.flush()


class TensorBoardLog:
    """Scalars for TensorBoard: batch/* against the global step, train/test/val metrics against the epoch.

    A tag is only ever written against one kind of step: mixing steps and epochs in one tag
    would draw a zig-zag in TensorBoard.
    """

    def __init__(self, writer) -> None:
        self.writer = writer

    @classmethod
    def open(cls, directory: str) -> TensorBoardLog:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise DigitpadError("--tensorboard needs the tensorboard package: pip install digitpad[tensorboard]") from None
        return cls(SummaryWriter(log_dir=directory))

    def __enter__(self) -> TensorBoardLog:
        return self

    def __exit__(self, *exc) -> None:
        self.writer.close()

    def __call__(self, event) -> None:
        from trainer.train import BatchEvent, EpochEvent

        if isinstance(event, BatchEvent):
            self.writer.add_scalar("batch/loss", event.loss, event.global_step)
            self.writer.add_scalar("batch/samples_per_sec", event.samples_per_sec, event.global_step)
        elif isinstance(event, EpochEvent):
            for name in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "val_loss", "val_accuracy"):
                value = getattr(event, name)
                if value is not None:
                    split, metric = name.split("_")
                    self.writer.add_scalar(f"{split}/{metric}", value, event.epoch)
            self.writer.flush()


# ---------------------------------------------------------------- evaluate


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from trainer.checkpoint import load_model
    from trainer.data import load_mnist
    from trainer.evaluate import evaluate
    from trainer.models import count_parameters
    from trainer.train import describe_device, resolve_device

    _set_threads(args.threads)
    device = resolve_device(args.device)
    model, ckpt = load_model(args.model, device=device)
    # the training run's seed picks the same --test-subset images the run reported on
    seed = ckpt.hparams.get("seed", 0) if isinstance(ckpt.hparams.get("seed"), int) else 0
    data = load_mnist(args.data_dir, test_subset=args.test_subset, seed=seed)
    result = evaluate(model, data.test, device, args.batch_size, normalization=ckpt.normalization)
    print(f"model {args.model}: {ckpt.arch}, {count_parameters(model):,} parameters; evaluated on {describe_device(device)}")
    correct = int(np.trace(result.confusion))
    print(f"test accuracy {100 * result.accuracy:.2f}% ({correct:,}/{len(result):,}), test loss {result.loss:.4f}")
    print()
    print(format_per_class(result))
    print()
    print(format_confusion(result.confusion))
    return 0


def format_per_class(result) -> str:
    totals = result.confusion.sum(axis=1)
    lines = ["digit  accuracy  correct / total"]
    for digit in range(len(totals)):
        acc = result.per_class_accuracy[digit]
        acc_text = "     n/a" if np.isnan(acc) else f"{100 * acc:7.2f}%"
        lines.append(f"{digit:>5}  {acc_text}  {int(result.confusion[digit, digit]):>7,} / {int(totals[digit]):,}")
    return "\n".join(lines)


def format_confusion(confusion: np.ndarray) -> str:
    """The confusion matrix as an aligned table: rows = true digit, columns = predicted digit."""
    width = max(4, len(f"{int(confusion.max()):,}") + 1)
    header = "true\\pred" + "".join(f"{d:>{width}}" for d in range(confusion.shape[1]))
    lines = [header]
    for digit, row in enumerate(confusion):
        lines.append(f"{digit:>9}" + "".join(f"{int(v):>{width},}" for v in row))
    return "\n".join(lines)


# ---------------------------------------------------------------- export


def _cmd_export(args: argparse.Namespace) -> int:
    from trainer.export import INSTALL_HINT, export_onnx

    result = export_onnx(args.model, args.output, verify=not args.no_verify, opset=args.opset)
    if result.verified:
        check = f"verified with onnxruntime (max |logit difference| {result.max_abs_diff:.2g})"
    elif args.no_verify:
        check = "not verified (--no-verify)"
    else:
        check = f"not verified: onnxruntime is not installed ({INSTALL_HINT})"
    print(f"wrote {result.path}: {check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

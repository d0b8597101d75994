"""`digitpad-train`: train, evaluate and export digit models from the command line.

    digitpad-train [train] --arch cnn --epochs 3 --out model.pt   (train is the default command)
    digitpad-train evaluate model.pt
    digitpad-train export model.pt model.onnx
    digitpad-train sequence --out assets/penseq.pt   (a trajectory model for drawings, trainer.sequence_train)

The training options are built from TrainConfig's fields (trainer.config): their help, ranges and
defaults come from there. User errors (bad data directory, unusable model file, a diverging run)
end in one `error:` line on stderr and a non-zero exit status, never a traceback. Ctrl+C (or
SIGTERM, as `kill` and `timeout` send) while training stops after the current batch, saves the
model trained so far and exits 130 (143 for SIGTERM), as shells expect of an interrupted program.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import tempfile
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from trainer.config import DATA_DIR_HELP, Group, Param, TrainConfig, is_optional, params, value_type
from trainer.devices import DEVICE_HELP, device_arg
from trainer.errors import ConfigError, DataError, DigitpadError
from trainer.threads import default_threads

PROG = "digitpad-train"
THREADS_HELP = (
    "CPU threads for PyTorch (default: all cores but one, at least 1; here {n}). PyTorch's own default, "
    "one per core, ran 12x slower on a busy machine"
)
EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl+C
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl+C; `kill`, `timeout` and job schedulers (both exist on every OS)


# ---------------------------------------------------------------- argument types (argparse-quality errors)


def _number_type(kind: type, meta: Param):
    """argparse `type=` for an int or float field: parsed, then checked against the field's range."""
    what = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        problem = meta.check_value(value)
        if problem:
            raise argparse.ArgumentTypeError(problem.replace(f"got {value}", f"got {text}"))
        return value

    return parse


def _positive_int(text: str) -> int:
    return _number_type(int, Param("", "", Group.OUTPUT, low=1))(text)


def _model_arg(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw  # a bare word is a string
    return key, value


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
    commands = parser.add_subparsers(dest="command", metavar="{train,evaluate,export,sequence}")
    _add_train_parser(commands)
    _add_evaluate_parser(commands)
    _add_export_parser(commands)
    _add_sequence_parser(commands)
    return parser


def _add_train_parser(commands) -> None:
    p = commands.add_parser(
        "train",
        help="train a model on MNIST (the default command)",
        description="Train a model on MNIST and save it as a digitpad checkpoint.",
        formatter_class=_HelpFormatter,
    )
    groups = {group: p.add_argument_group(group.value) for group in Group}
    for name, meta, f in params():
        groups[meta.group].add_argument(
            meta.flag(name), dest=name, default=argparse.SUPPRESS, help=_config_help(meta, f), **_config_kind(meta, f)
        )
    groups[Group.DATA].add_argument(
        "--threads", type=_positive_int, default=None, metavar="N", help=THREADS_HELP.format(n=default_threads())
    )
    out = groups[Group.OUTPUT]
    out.add_argument("--out", default="model.pt", help="where to write the checkpoint")
    out.add_argument("--log", metavar="FILE", help="write every training event to FILE as JSON lines")
    out.add_argument("--tensorboard", metavar="DIR", help="also log to TensorBoard in DIR (needs the tensorboard package)")
    out.add_argument("--dry-run", action="store_true", help="train a single batch, evaluate, save nothing (a quick check)")
    out.add_argument("--quiet", action="store_true", help="no progress output, only the final summary")
    p.set_defaults(handler=_cmd_train)


def _config_kind(meta: Param, f: dataclasses.Field) -> dict[str, Any]:
    """add_argument's type/action/choices for a TrainConfig field, from its type and Param."""
    kind = value_type(f)
    if kind is bool:
        return {"action": "store_true"}
    if kind is dict:
        return {"action": "append", "type": _model_arg, "metavar": meta.metavar or "KEY=VALUE"}
    extra: dict[str, Any] = {"metavar": meta.metavar} if meta.metavar else {}
    if meta.choice_values() is not None:
        return {"choices": meta.choice_values(), **extra}
    if meta.parse is not None:  # names with their own spelling rules (devices)
        return {"type": meta.parse, **extra}
    if kind in (int, float):
        return {"type": _number_type(kind, meta), **extra}
    return extra


def _config_help(meta: Param, f: dataclasses.Field) -> str:
    """The field's help, its default and its range: "(default: 128) (must be >= 1)"."""
    text = meta.help.replace("%", "%%")
    if "default:" not in text:
        text += f" (default: {_default_text(meta, f)})"
    if meta.range_text():
        text += f" (must be {meta.range_text()})"
    return text


def _default_text(meta: Param, f: dataclasses.Field) -> str:
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    if default is False:
        return "off"
    if default is None and is_optional(f):
        return meta.none_text or "none"
    if default == {}:
        return "none"
    return str(default)


def _add_evaluate_parser(commands) -> None:
    p = commands.add_parser(
        "evaluate",
        help="test accuracy, per-class accuracy and confusion matrix of a model file",
        description="Evaluate a checkpoint (or a bare state_dict) on the MNIST test set.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("model", help="checkpoint file (.pt)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    p.add_argument("--device", type=device_arg, default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N", help=THREADS_HELP.format(n=default_threads()))
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


def _add_sequence_parser(commands) -> None:
    from trainer.sequence_train import SequenceConfig

    d = SequenceConfig()
    p = commands.add_parser(
        "sequence",
        help="train a trajectory model (penseq) on the pen digits of the training writers",
        description="Train a model that reads a drawing's pen path (trainer.sequence_train) on the training writers' "
        "pen digits, with stroke augmentation and writing styles; the bundled recognizer combines it with the image "
        "model for drawings.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--arch", default=d.arch, help="trajectory architecture: penseq (1-D CNN) or pengru (GRU)")
    p.add_argument("--model-arg", dest="model_args", action="append", type=_model_arg, default=[], metavar="KEY=VALUE",
                   help="constructor argument of the architecture, e.g. --model-arg width=32 (repeatable)")
    p.add_argument("--epochs", type=_positive_int, default=d.epochs, help="passes over freshly drawn training data")
    p.add_argument("--batch-size", type=_positive_int, default=d.batch_size, help="drawings per step")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (AdamW, one-cycle schedule)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing, help="cross-entropy label smoothing")
    p.add_argument("--copies", type=_positive_int, default=d.copies, help="drawings of each training digit per epoch")
    p.add_argument("--no-stroke-augment", dest="stroke_augment", action="store_false",
                   help="place the digits at random but do not redraw them (trainer.strokeaug)")
    p.add_argument("--styles", default=d.styles, help="writing styles to add (trainer.styles names, all or none)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument("--pendigits", default=None, help="UNIPEN pen-digits file (default: $DIGITPAD_PENDIGITS or ../shared)")
    p.add_argument("--validate", action="store_true", help="read the held-out writers after each epoch (log only)")
    p.add_argument("--subset", type=_positive_int, default=None, help="train on N training digits (a quick check)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N", help=THREADS_HELP.format(n=default_threads()))
    p.add_argument("--out", default="penseq.pt", help="where to write the checkpoint")
    p.set_defaults(handler=_cmd_sequence)


def _with_default_command(argv: list[str]) -> list[str]:
    """`digitpad-train --epochs 3` -> `digitpad-train train --epochs 3`."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["train", *argv]
    return argv


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (SystemExit(2) for bad arguments, like argparse)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # Ctrl+C while torch imports (seconds, in the parser or a command) is one line too
        args = build_parser().parse_args(_with_default_command(argv))
        return args.handler(args)
    except ConfigError as exc:
        _error(exc)
        return EXIT_USAGE
    except DigitpadError as exc:
        _error(exc)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `digitpad-train evaluate m.pt | head`: the reader left; nothing to say
        # no second error at exit; a stdout that is not a real file (e.g. captured) has nothing to flush to a pipe
        with suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
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


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of the options given; a field not given keeps TrainConfig's default."""
    given = {name: getattr(args, name) for name, _, _ in params() if hasattr(args, name)}
    if "model_args" in given:
        given["model_args"] = dict(given["model_args"])
    if "pen_copies" in given and not given.get("pen_digits"):
        raise ConfigError("--pen-copies only counts with --pen-digits (it sets how often each pen digit is used)")
    if "personal_copies" in given and not given.get("personal"):
        raise ConfigError("--personal-copies only counts with --personal (it sets how often each of your digits is used)")
    if "momentum" in given:
        given["optimizer"] = _optimizer_for_momentum(given.get("optimizer", TrainConfig.optimizer), given["momentum"])
    if getattr(args, "dry_run", False):
        given.update(epochs=1, log_every=1)
    return TrainConfig(**given)


def _optimizer_for_momentum(optimizer: str, momentum: float) -> str:
    """A --momentum given with plain SGD applies (PyTorch's SGD takes it); other optimizers have none."""
    if optimizer == "sgd" and momentum > 0:
        return "momentum"
    if optimizer in ("adam", "adamw"):
        raise ConfigError(f"--momentum applies to --optimizer sgd or momentum, not {optimizer} (Adam has no momentum setting)")
    return optimizer


@dataclasses.dataclass
class _Stop:
    """Which stop signal cancelled the run, if any."""

    signal: int | None = None

    @property
    def exit_status(self) -> int:
        return 0 if self.signal is None else 128 + self.signal


def _cmd_train(args: argparse.Namespace) -> int:
    from trainer.train import TrainControl, train

    config = _checked_config(args)
    control, stop = TrainControl(), _Stop()
    with _open_sinks(args, control) as sinks:
        with _cancel_on_stop_signals(control, stop):  # an error leaves through the sinks' close: no open progress line
            result = train(config, on_event=sinks, control=control)
        saved, save_problem = (None, None) if args.dry_run or result.steps == 0 else _save(result, Path(args.out))
        sinks.write_result(result, saved)
    _print_summary(result, saved, dry_run=args.dry_run)
    if save_problem:
        _error(save_problem)
        return EXIT_USER_ERROR
    return stop.exit_status


def _checked_config(args: argparse.Namespace) -> TrainConfig:
    """The run's config, with everything that can fail before training checked now: settings, device, paths."""
    from trainer.devices import resolve_device
    from trainer.threads import set_threads

    config = config_from_args(args)
    config.validate()
    set_threads(args.threads)
    resolve_device(config.device)  # fail before loading data
    if not args.dry_run:
        check_output_path(Path(args.out), "--out")
    if args.log:
        check_output_path(Path(args.log), "--log")
    if config.personal:
        _report_personal(config.personal)
    return config


def _report_personal(path: str) -> None:
    """Read the --personal file once before training: its bad lines are named now, not lost mid-run."""
    from trainer.personal_file import import_examples

    report = import_examples(path)
    print(f"digitpad-train: {path}: {report.summary()}", file=sys.stderr)
    for problem in report.problems:
        print(f"digitpad-train: {path}: {problem}", file=sys.stderr)
    if not report.examples:
        raise DataError(f"{path}: no personal digits to train on")


def _open_sinks(args: argparse.Namespace, control):
    from trainer.reporting import JsonLinesLog, ProgressPrinter, Sinks, TensorBoardLog

    sinks = Sinks()
    if not args.quiet:
        sinks.add(ProgressPrinter(sys.stderr))
    if args.log:
        sinks.add(JsonLinesLog(Path(args.log)))
    if args.tensorboard:
        sinks.add(TensorBoardLog.open(args.tensorboard))
    if args.dry_run:  # one batch, like pytorch/examples
        sinks.add(_StopAfterFirstBatch(control))
    return sinks


class _StopAfterFirstBatch:
    """--dry-run: cancel once the first BatchEvent is out (the run then evaluates and returns)."""

    def __init__(self, control) -> None:
        self.control = control

    def __call__(self, event) -> None:
        from trainer.events import BatchEvent

        if isinstance(event, BatchEvent):
            self.control.cancel()

    def write_result(self, result, saved: Path | None) -> None:
        pass

    def close(self) -> None:
        pass


def _save(result, out: Path) -> tuple[Path, str | None]:
    from trainer.saving import save_with_fallback

    return save_with_fallback(result, out)


def check_output_path(path: Path, flag: str) -> None:
    """Fail before training rather than after it: `path` must be a file name in a writable directory."""
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise ConfigError(f"{flag} {path}: the directory {path.parent} does not exist")
    try:  # os.access is not enough: root passes it, and a read-only filesystem is not a permission
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=".digitpad-write-check-")
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot write into {path.parent} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


@contextmanager
def _cancel_on_stop_signals(control, stop: _Stop):
    """First Ctrl+C (or SIGTERM): finish the current batch, then stop and save. A second: abort."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (e.g. main() called from a test thread)
        return

    def handler(signum, frame) -> None:
        if control.cancelled:
            raise KeyboardInterrupt
        control.cancel()
        stop.signal = signum
        again = "Ctrl+C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\n{PROG}: stopping after this batch to save the model trained so far ({again} again to abort)", file=sys.stderr)

    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _print_summary(result, saved: Path | None, *, dry_run: bool) -> None:
    from trainer.durations import format_duration

    m = result.metrics
    how = "dry run" if dry_run else ("cancelled" if result.cancelled else "done")
    print(
        f"{how}: {m['epochs_completed']} epoch(s), {result.steps} step(s) in {format_duration(result.seconds)} "
        f"on {result.device_name}; test accuracy {100 * m['test_accuracy']:.2f}%, test loss {m['test_loss']:.4f}"
    )
    if saved is not None:
        what = "the model trained so far" if result.cancelled else "model"
        print(f"saved {what} to {saved}")
    elif dry_run:
        print("dry run: nothing saved")
    else:
        print("cancelled before the first training step: nothing saved")


# ---------------------------------------------------------------- sequence


def _cmd_sequence(args: argparse.Namespace) -> int:
    from trainer.checkpoint import save_checkpoint
    from trainer.durations import format_duration
    from trainer.sequence_train import SequenceConfig, train_sequence
    from trainer.threads import set_threads

    names = ("arch", "epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "copies", "stroke_augment",
             "styles", "seed", "pendigits")
    config = SequenceConfig(**{n: getattr(args, n) for n in names}, model_args=dict(args.model_args),
                            validate=args.validate, subset=args.subset)
    config.validate_settings()
    set_threads(args.threads)
    check_output_path(Path(args.out), "--out")
    result = train_sequence(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    saved = save_checkpoint(result.checkpoint, args.out)
    print(f"done: {config.epochs} epoch(s) of {config.arch} in {format_duration(result.seconds)}; saved to {saved}")
    return 0


# ---------------------------------------------------------------- evaluate


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from trainer.checkpoint import load_model
    from trainer.data import load_mnist
    from trainer.devices import describe_device, resolve_device
    from trainer.evaluate import evaluate
    from trainer.models import ARCHITECTURES, InputKind, count_parameters
    from trainer.threads import set_threads

    set_threads(args.threads)
    device = resolve_device(args.device)
    model, ckpt = load_model(args.model, device=device)
    if ARCHITECTURES[ckpt.arch].input_kind is not InputKind.IMAGE:
        return _evaluate_trajectory_model(args, model.cpu(), ckpt)
    # the training run's seed picks the same --test-subset images the run reported on
    seed = ckpt.hparams.get("seed", 0) if isinstance(ckpt.hparams.get("seed"), int) else 0
    data = load_mnist(args.data_dir, test_subset=args.test_subset, seed=seed)
    result = evaluate(model, data.test, device, args.batch_size, normalization=ckpt.normalization)
    print(f"model {args.model}: {ckpt.arch}, {count_parameters(model):,} parameters; evaluated on {describe_device(device)}")
    correct = int(np.trace(result.confusion))
    print(f"test accuracy {100 * result.accuracy:.2f}% ({correct:,}/{len(result):,}), test loss {result.loss:.4f}")
    _print_breakdown(result)
    return 0


def _print_breakdown(result) -> None:
    """Per-class accuracy and the confusion matrix of an evaluation, after a blank line each."""
    from trainer.reporting import format_confusion, format_per_class

    print()
    print(format_per_class(result))
    print()
    print(format_confusion(result.confusion))


def _evaluate_trajectory_model(args: argparse.Namespace, model, ckpt) -> int:
    """A model of pen paths reads no MNIST image: it is scored on the held-out pen writers instead."""
    from trainer.models import count_parameters
    from trainer.pendigits import HELDOUT_WRITERS, default_pendigits_path
    from trainer.sequence_train import evaluate_trajectories, heldout_features

    if default_pendigits_path() is None:
        raise DataError(f"{args.model}: a {ckpt.arch} model reads pen paths, not MNIST images; it is evaluated on the "
                        "held-out pen writers, but the pen digits are not here (set $DIGITPAD_PENDIGITS)")
    points = int(model.points)
    result = evaluate_trajectories(model, *heldout_features(points))
    writers = ", ".join(map(str, HELDOUT_WRITERS))
    print(f"model {args.model}: {ckpt.arch}, {count_parameters(model):,} parameters; reads pen paths, so evaluated on "
          f"the pen digits of the held-out writers ({writers}) at random size and place, not on MNIST")
    correct = int(result.confusion.trace())
    print(f"held-out pen accuracy {100 * result.accuracy:.2f}% ({correct:,}/{len(result):,}), loss {result.loss:.4f}")
    _print_breakdown(result)
    return 0


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

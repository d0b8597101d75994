"""The `digitpad` command: open the window, or `digitpad predict FILE...` to read image files.

Nothing heavy is imported here: `--help` and `--version` answer at once, `predict` never loads
Qt, and the app imports Qt only when it starts (torch loads behind the open window).
"""

from __future__ import annotations

import argparse
import sys

from digitpad import __version__
from trainer.devices import DEVICE_HELP, device_arg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitpad",
        description="Draw a digit and see what a neural network reads; retrain it in the same window.",
        epilog="Subcommand: `digitpad predict FILE [FILE ...]` reads digits from image files without "
               "opening a window (see `digitpad predict --help`).",
    )
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="checkpoint (.pt) to start with (default: the bundled assets/digitnet.pt; "
                             "a file that cannot be loaded is reported and the bundled model is used)")
    parser.add_argument("--device", type=device_arg, default="auto",
                        help=f"where the model runs: {DEVICE_HELP}; one this machine lacks falls back to "
                             "the CPU with a message (default: auto)")
    parser.add_argument("--version", action="version", version=f"digitpad {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "predict":
        from digitpad.predict_cli import run_predict

        return run_predict(argv[1:])
    args = build_parser().parse_args(argv)
    from digitpad.platform_check import xcb_problem

    problem = xcb_problem()  # Qt would abort without these libraries, naming the wrong one
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    from digitpad.app import run_app  # Qt only from here on

    return run_app(model=args.model, device=args.device)


if __name__ == "__main__":
    sys.exit(main())

"""`digitpad predict digit.png [more.png ...] [--model path.pt] [--device D] [--json] [--number]`.

Prints the digit and the ten probabilities for each file (with --number: the number and each digit's
confidence, the digits found as in `Recognizer.predict_image_number`). A file that cannot be read (missing,
not an image, blank) gets a one-line error on stderr; the other files are still processed and
the exit status is 1 if any file failed. No Qt is imported.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from trainer.devices import DEVICE_HELP, device_arg
from trainer.errors import CheckpointError, DigitpadError

EXIT_OK, EXIT_FILE_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitpad predict",
        description="Read the digit in one or more image files (PNG, JPEG, ...; dark-on-light or light-on-dark).",
    )
    parser.add_argument("files", nargs="+", type=Path, help="image files, one digit each (one number each with --number)")
    parser.add_argument("--model", type=Path, default=None,
                        help="checkpoint to use (default: the bundled assets/digitnet.pt)")
    parser.add_argument("--device", type=device_arg, default="auto",
                        help=f"{DEVICE_HELP}; one this machine lacks falls back to the CPU with a note (default: auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--number", action="store_true",
                        help="each file holds a number of one or more digits: print the number and each digit")
    return parser


def run_predict(argv: list[str]) -> int:
    """Entry point of the `digitpad predict` subcommand; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse already printed
        return int(exc.code or 0)
    # Imported here so that `digitpad predict --help` stays instant (torch is slow to import).
    from digitpad.recognizer import Recognizer
    from trainer.devices import choose_device

    try:
        choice = choose_device(args.device, fallback=True)  # like the app: no CUDA here -> the CPU, with a note
        if choice.note:
            print(f"digitpad predict: note: {choice.note}", file=sys.stderr)
        rec = Recognizer.load(args.model, device=choice.device)
    except (CheckpointError, ValueError) as exc:
        print(f"digitpad predict: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for note in rec.checkpoint.notes:  # what loading the model file dropped (e.g. a non-numeric accuracy)
        print(f"digitpad predict: note: {_one_line(note)}", file=sys.stderr)
    results = [(_predict_number if args.number else _predict_one)(rec, path) for path in args.files]
    if args.json:
        doc = {"model": rec.name, "arch": rec.arch, "device": rec.device_name, "results": results}
        print(json.dumps(doc, indent=2))
    else:
        for result in results:
            if "error" not in result:
                print(_format_text(result))
    return EXIT_FILE_FAILED if any("error" in r for r in results) else EXIT_OK


def _predict_one(rec, path: Path) -> dict:
    """One file's result as a plain dict; an unreadable file gives {"file", "error"} and a stderr line."""
    try:
        pred = rec.predict_image(path)
    except (DigitpadError, OSError, ValueError) as exc:
        message = _one_line(str(exc))
        if str(path) not in message:
            message = f"{path}: {message}"
        print(f"digitpad predict: error: {message}", file=sys.stderr)
        return {"file": str(path), "error": message}
    if not all(math.isfinite(p) for p in pred.probabilities):  # a model that overflows: JSON has no NaN
        message = f"{path}: the model gave non-finite probabilities (its weights are out of range)"
        print(f"digitpad predict: error: {message}", file=sys.stderr)
        return {"file": str(path), "error": message}
    return {
        "file": str(path),
        "digit": pred.digit,
        "confidence": round(pred.confidence, 6),
        "probabilities": [round(float(p), 6) for p in pred.probabilities],
    }


def _predict_number(rec, path: Path) -> dict:
    """One file read as a number: its text, confidence, and each digit left to right with its box (pixels)."""
    try:
        reading = rec.predict_image_number(path)
    except (DigitpadError, OSError, ValueError) as exc:
        message = _one_line(str(exc))
        message = message if str(path) in message else f"{path}: {message}"
        print(f"digitpad predict: error: {message}", file=sys.stderr)
        return {"file": str(path), "error": message}
    if not all(math.isfinite(q) for p in reading.digits for q in p.probabilities):
        message = f"{path}: the model gave non-finite probabilities (its weights are out of range)"
        print(f"digitpad predict: error: {message}", file=sys.stderr)
        return {"file": str(path), "error": message}
    digits = [{"digit": p.digit, "confidence": round(p.confidence, 6), "box": [round(v, 1) for v in box],
               "probabilities": [round(float(q), 6) for q in p.probabilities]}
              for p, box in zip(reading.digits, reading.boxes, strict=True)]
    return {"file": str(path), "number": reading.text, "confidence": round(reading.confidence, 6), "digits": digits}


def _format_text(result: dict) -> str:
    if "number" in result:
        each = " ".join(f"{d['digit']}:{d['confidence']:.3f}" for d in result["digits"])
        return f"{result['file']}: {result['number']} ({result['confidence']:.1%})  {each}"
    probs = " ".join(f"{d}:{p:.3f}" for d, p in enumerate(result["probabilities"]))
    return f"{result['file']}: {result['digit']} ({result['confidence']:.1%})  {probs}"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "error"


if __name__ == "__main__":
    sys.exit(run_predict(sys.argv[1:]))

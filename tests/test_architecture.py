"""The package's dependency rules, read from the source: the layers the README's Layout describes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Modules that must run without Qt: the command line, the Python API and the plain state objects.
QT_FREE = (
    "digitpad/__init__.py",
    "digitpad/cli.py",
    "digitpad/predict_cli.py",
    "digitpad/recognizer.py",
    "digitpad/settings.py",
    "digitpad/platform_check.py",
    "digitpad/draw/drawing.py",
    "digitpad/train/session.py",
    "digitpad/numbers",
    "digitpad/personal/store.py",
    "digitpad/personal/adapt.py",
    "digitpad/personal/teach.py",
    "digitpad/personal/session.py",
    "digitpad/inspect",
)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(*parts: str) -> list[Path]:
    files: list[Path] = []
    for part in parts:
        path = ROOT / part
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.is_file():
            files.append(path)
    return files


def offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in files:
        for module in sorted(imported_modules(path)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


def test_the_trainer_package_knows_nothing_of_qt_or_the_app():
    files = python_files("trainer")
    assert files
    assert offenders(files, ("PySide6", "digitpad")) == []


def test_the_draw_side_never_imports_the_train_side():
    files = python_files("digitpad/draw")
    assert files
    assert offenders(files, ("digitpad.train",)) == []


@pytest.mark.parametrize("part", QT_FREE)
def test_qt_free_modules_import_no_qt(part):
    files = python_files(part)
    assert files, f"{part} is listed as Qt-free but does not exist"
    assert offenders(files, ("PySide6", "shiboken6")) == []

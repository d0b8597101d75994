"""Before Qt starts on Linux/X11: name the system libraries the xcb platform plugin lacks, and how to get them.

Without them Qt aborts with "Could not load the Qt platform plugin "xcb"", and the library it
names is often not the one missing (a minimal Debian/Ubuntu lacked libxcb-icccm4 and
libxcb-keysyms1 while Qt named libxcb-cursor0). `ldd` on the plugin tells exactly. No Qt and no
PySide6 import here: this runs before either is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LDD_TIMEOUT_S = 10
NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)

# Shared-library names of the xcb plugin's dependencies -> the Debian/Ubuntu package that installs them.
DEBIAN_PACKAGES = {
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libglib-2.0.so.0": "libglib2.0-0",
}


def uses_xcb(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will pick its X11 (xcb) plugin: Linux, an X display, and no other platform asked for."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def xcb_plugin_files() -> list[Path]:
    """PySide6's xcb plugin and the Qt library it is built on, where they exist."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    qt = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    candidates = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))]
    return [p for p in candidates if p.is_file()][:2]


def run_ldd(path: Path) -> str:
    """`ldd`'s report on `path` ("" when ldd is not there or fails)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    try:
        done = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=LDD_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout


def missing_libraries(files: Sequence[Path], ldd: Callable[[Path], str] = run_ldd) -> list[str]:
    """Shared libraries that `files` need and the system does not have, in the order ldd names them."""
    missing: list[str] = []
    for path in files:
        for name in NOT_FOUND.findall(ldd(path)):
            if name not in missing:
                missing.append(name)
    return missing


def advice(missing: Sequence[str]) -> str:
    """What to tell the user: the missing libraries, and one install command for Debian/Ubuntu."""
    known = [DEBIAN_PACKAGES[name] for name in missing if name in DEBIAN_PACKAGES]
    unknown = [name for name in missing if name not in DEBIAN_PACKAGES]
    lines = [
        "digitpad: the window cannot open: Qt's X11 platform plugin (xcb) needs system libraries "
        "that are not installed:",
        *(f"  {name}" for name in missing),
    ]
    if known:
        lines += ["On Debian or Ubuntu, install them with:",
                  f"  sudo apt-get install {' '.join(dict.fromkeys(known))}"]
    if unknown:
        lines.append(f"(Install the packages that provide {', '.join(unknown)} with your system's package manager.)")
    return "\n".join(lines)


def xcb_problem(env: Mapping[str, str] = os.environ, files: Sequence[Path] | None = None,
                ldd: Callable[[Path], str] = run_ldd) -> str | None:
    """The message to print before starting Qt, or None when nothing is missing (or xcb is not used)."""
    if not uses_xcb(env):
        return None
    missing = missing_libraries(xcb_plugin_files() if files is None else files, ldd)
    return advice(missing) if missing else None

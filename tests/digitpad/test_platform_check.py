"""Before Qt starts: missing system libraries of the xcb plugin are named, with the command that installs them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from digitpad.platform_check import advice, missing_libraries, uses_xcb, xcb_problem

MISSING = ("libdigitpad-gone-a.so.4", "libdigitpad-gone-b.so.1")
# What ldd printed for the xcb plugin on the minimal Ubuntu of the report (abridged).
LDD_MINIMAL_UBUNTU = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f2a)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f29)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f28)
"""


@pytest.fixture(scope="module")
def fake_plugin(tmp_path_factory) -> Path:
    """A shared library linked against two libraries that are then taken away (names no system has)."""
    cc = shutil.which("cc")
    if cc is None or shutil.which("ldd") is None:
        pytest.skip("needs a C compiler and ldd to build a plugin with missing dependencies")
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "stub.c").write_text("int stub(void) { return 0; }\n")
    (folder / "plugin.c").write_text("int stub(void);\nint plugin(void) { return stub(); }\n")
    for soname in MISSING:
        stem = soname.split(".so")[0][3:]
        subprocess.run([cc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(folder / f"lib{stem}.so"),
                        str(folder / "stub.c")], check=True)
    plugin = folder / "libqxcb.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(plugin), str(folder / "plugin.c"), f"-L{folder}",
                    "-Wl,--no-as-needed", "-ldigitpad-gone-a", "-ldigitpad-gone-b"], check=True)
    for stub in folder.glob("libdigitpad-gone-*.so"):
        stub.unlink()  # the plugin's dependencies are now missing, as on a minimal system
    return plugin


def test_the_missing_libraries_of_a_real_plugin_file_are_named(fake_plugin):
    assert missing_libraries([fake_plugin]) == list(MISSING)
    message = xcb_problem({"DISPLAY": ":0"}, files=[fake_plugin])
    assert all(name in message for name in MISSING)


def test_the_message_names_them_and_gives_one_apt_get_line(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    message = xcb_problem({"DISPLAY": ":0"}, files=[plugin], ldd=lambda _p: LDD_MINIMAL_UBUNTU)
    assert "libxcb-icccm.so.4" in message and "libxcb-keysyms.so.1" in message
    assert "libxcb-cursor" not in message
    [install] = [line for line in message.splitlines() if "apt-get install" in line]
    assert install.split("apt-get install ")[1].split() == ["libxcb-icccm4", "libxcb-keysyms1"]


def test_a_library_without_a_known_package_is_still_named():
    text = advice(["libxcb-icccm.so.4", "libweird.so.9"])
    assert "libweird.so.9" in text and "apt-get install libxcb-icccm4" in text


def test_nothing_is_said_when_all_libraries_are_there(tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    assert xcb_problem({"DISPLAY": ":0"}, files=[plugin], ldd=lambda _p: "\tlibc.so.6 => /lib/libc.so.6\n") is None


@pytest.mark.parametrize(("env", "xcb"), [
    ({"DISPLAY": ":0"}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}, False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False),
    ({}, False),
])
def test_only_an_x11_start_is_checked(env, xcb, fake_plugin):
    assert uses_xcb(env, platform="linux") is xcb
    assert (xcb_problem(env, files=[fake_plugin]) is not None) is xcb
    assert not uses_xcb({"DISPLAY": ":0"}, platform="darwin")

"""`mm view` on the command line: off-loopback warning, errors that name the input and say what to give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def mm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mm_core.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_view_warns_off_loopback_and_names_what_it_cannot_show(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    r = mm("view", str(bad), "--host", "0.0.0.0", "--no-browser")
    assert r.returncode == 2, r.stderr
    assert "anyone who can reach port 8080" in r.stderr
    assert str(bad) in r.stderr and "give a clip (.npz)" in r.stderr
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    r = mm("view", str(broken), "--no-browser")
    assert r.returncode == 2 and str(broken) in r.stderr and "not a readable .npz" in r.stderr
    assert "anyone who can reach" not in r.stderr  # loopback by default: no warning

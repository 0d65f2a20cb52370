"""End to end: the installed `mm` command with every workspace package, plus a broken third-party plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "mujoco", "warp", "mujoco_warp", "scipy", "matplotlib", "mink")


def run_mm(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MM_STRICT_PLUGINS", None)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", "from mm_core.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def broken_plugin(root: Path) -> Path:
    (root / "zz_explodes.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    info = root / "zz_explodes-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-explodes\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[mm]\nexplodes = zz_explodes\n")
    return root


def test_help_is_light() -> None:
    code = (
        "import sys\nfrom mm_core.cli import build_app\nbuild_app()\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\nassert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_broken_plugin_is_reported_and_models_still_list(tmp_path: Path) -> None:
    path = broken_plugin(tmp_path)
    res = run_mm("plugins", "list", "--json", extra_path=path)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    bad = rows["explodes"]
    assert bad["status"] == "failed" and bad["distribution"] == "zz-explodes" and bad["version"] == "0.0.1"
    assert "broken on purpose" in bad["error"]
    assert rows["models"]["status"] == "loaded" and rows["hopper"]["status"] == "loaded"

    res = run_mm("models", "list", "--json", extra_path=path)
    assert res.returncode == 0, res.stderr
    names = {r["name"] for r in json.loads(res.stdout)}
    assert {"myofullbody", "myofullbody-nofingers", "bimanual", "bimanual-nofingers", "tiny"} <= names


def test_models_list_counts_and_plugin_embodiment() -> None:
    res = run_mm("models", "list", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    muscles = {
        n: rows[n]["muscles"]
        for n in ("myofullbody", "myofullbody-nofingers", "bimanual", "bimanual-nofingers")
    }
    assert muscles == {
        "myofullbody": 416,
        "myofullbody-nofingers": 354,
        "bimanual": 126,
        "bimanual-nofingers": 64,
    }
    plugin_rows = [
        r for r in rows.values() if "hopper" in str(r.get("provider", "")) + str(r.get("source", ""))
    ]
    assert plugin_rows, f"the example plugin's embodiment is missing from {sorted(rows)}"


def test_unknown_embodiment_lists_valid_names() -> None:
    res = run_mm("models", "show", "no-such-model")
    assert res.returncode != 0
    assert "no-such-model" in res.stderr and "myofullbody" in res.stderr

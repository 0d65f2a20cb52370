"""`mm retarget` end to end through the real CLI: batch, skip on re-run, failures reported, report, show + GLB, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mm_core import MotionClip
from mm_core.cli import build_app

DATA = Path(__file__).parents[3] / ".." / "shared" / "data"
WALK, RUN = DATA / "mocap" / "35_01.bvh", DATA / "mocap" / "35_17.bvh"
needs_mocap = pytest.mark.skipif(
    not WALK.is_file(), reason=f"CMU mocap clips not found under {DATA / 'mocap'}"
)


@pytest.fixture(scope="module")
def cli():  # noqa: ANN201
    app = build_app()
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@needs_mocap
def test_batch_writes_clips_and_report_and_skips_done(cli, tmp_path: Path) -> None:  # noqa: ANN001
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n")
    out = tmp_path / "out"
    r = cli("retarget", WALK, RUN, bad, "--embodiment", "tiny", "--method", "gmr-fit", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    status = {Path(c["input"]).name: c["status"] for c in rep["clips"]}
    assert status == {"35_01.bvh": "ok", "35_17.bvh": "ok", "broken.bvh": "failed"}
    failed = next(c for c in rep["clips"] if c["status"] == "failed")
    assert "broken.bvh" in failed["error"] and failed["output"] is None  # reported, never dropped
    assert rep["summary"]["failed"] == 1 and rep["summary"]["ok"] == 2
    assert json.loads((out / "report.json").read_text())["summary"] == rep["summary"]
    clip = MotionClip.load(out / "35_01.npz")
    assert clip.embodiment == "tiny" and clip.fps == 100.0
    mtime = (out / "35_01.npz").stat().st_mtime_ns
    # Re-run: done clips are skipped (not rewritten), the broken one is tried again.
    r = cli("retarget", "run", WALK, RUN, bad, "-e", "tiny", "-o", out, "--json")
    rep2 = json.loads(r.output)
    assert sum(bool(c.get("skipped")) for c in rep2["clips"]) == 2
    assert (out / "35_01.npz").stat().st_mtime_ns == mtime
    # The report command reads the directory back.
    r = cli("retarget", "report", out)
    assert r.exit_code == 0 and "2 ok, 0 flagged, 1 failed" in r.output and "broken" in r.output
    r = cli("retarget", "report", tmp_path / "nothing-here")
    assert r.exit_code != 0 and "no retarget report" in r.output
    # --out-fps overrides the embodiment's control rate (100 Hz for tiny).
    r = cli("retarget", WALK, "-e", "tiny", "-o", tmp_path / "o50", "--out-fps", "50", "--json")
    assert r.exit_code == 0, r.output
    assert MotionClip.load(tmp_path / "o50" / "35_01.npz").fps == 50.0


@needs_mocap
def test_show_prints_metrics_and_exports_glb(cli, tmp_path: Path) -> None:  # noqa: ANN001
    import trimesh

    out = tmp_path / "o"
    assert cli("retarget", RUN, "-e", "tiny", "-o", out).exit_code == 0
    glb = tmp_path / "run.glb"
    r = cli("retarget", "show", out / "35_17.npz", "--export-glb", glb, "--frames", "0,50,100", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["metrics"]["joint_limit_violation_pct"] == 0.0 and info["embodiment"] == "tiny"
    scene = trimesh.load(glb)
    names = set(scene.geometry)
    assert {f"model_frame{f}" for f in (0, 50, 100)} <= names and {
        f"source_frame{f}" for f in (0, 50, 100)
    } <= names
    r = cli("retarget", "show", out / "35_17.npz", "--export-glb", glb, "--frames", "0,99999")
    assert r.exit_code != 0 and "--frames" in r.output
    # A clip made elsewhere (no stored metrics) is measured on the spot.
    c = MotionClip.load(out / "35_17.npz")
    bare = MotionClip(**{**c.__dict__, "metadata": {}})
    bare.save(tmp_path / "bare.npz")
    r = cli("retarget", "show", tmp_path / "bare.npz", "--json")
    again = json.loads(r.output)["metrics"]
    assert again["joint_limit_violation_pct"] == info["metrics"]["joint_limit_violation_pct"]
    assert again["tendon_jump_rate"] == pytest.approx(info["metrics"]["tendon_jump_rate"])


def test_bad_arguments_fail_with_a_reason(cli, tmp_path: Path) -> None:  # noqa: ANN001
    r = cli("retarget", tmp_path / "none.bvh", "-e", "tiny", "-o", tmp_path)
    assert r.exit_code != 0 and "no such input" in r.output
    r = cli("retarget", tmp_path / "none.bvh", "-e", "no-body", "-o", tmp_path)
    assert r.exit_code != 0 and "valid names" in r.output
    r = cli("retarget", tmp_path / "none.bvh", "-e", "tiny", "-m", "nope", "-o", tmp_path)
    assert r.exit_code != 0 and "gmr-fit" in r.output
    given = tmp_path / "given.bvh"
    given.write_text("HIERARCHY\n")
    r = cli("retarget", given, "-e", "tiny", "-o", tmp_path, "--out-fps", "0")
    assert r.exit_code != 0 and "--out-fps 0" in r.output and "control rate" in r.output


def test_demo_command_and_workers(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("MM_CACHE_DIR", str(tmp_path / "cache"))  # generated afresh, not from a user's cache
    r = cli("retarget", "demo", "--out", tmp_path, "--json")
    assert r.exit_code == 0, r.output
    motions = [Path(p) for p in json.loads(r.output)["motions"]]
    assert [p.name for p in motions] == ["demo_walk.npz", "demo_squat.npz"]
    assert (tmp_path / "cache" / "demo").is_dir()
    out = tmp_path / "clips"
    r = cli("retarget", *motions, "-e", "tiny", "-o", out, "--workers", "2", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert [c["status"] for c in rep["clips"]] == ["ok", "ok"]
    assert (out / "demo_walk.npz").is_file() and (out / "demo_squat.npz").is_file()


def test_batch_plan_skips_redoes_and_forces(tmp_path: Path) -> None:
    """Which inputs a re-run retargets, from the directory's report entries: done ones are skipped, changed or
    missing ones redone with the reason, failed ones retried; ``force`` redoes all."""
    from mm_retarget.batch import _plan, options_record

    opts = options_record({"units": "auto"}, {})
    clip = tmp_path / "a.npz"
    clip.write_bytes(b"x")
    entry = {"embodiment": "tiny", "method": "gmr-fit", "options": opts, "status": "ok", "output": str(clip)}
    previous = {
        "done": entry | {"input": "done", "redone": "earlier reason"},
        "other": entry | {"input": "other", "options": options_record({"units": "cm"}, {})},
        "gone": entry | {"input": "gone", "output": str(tmp_path / "missing.npz")},
        "failed": entry | {"input": "failed", "status": "failed"},
    }
    inputs = [Path(p) for p in ("done", "other", "gone", "failed", "new")]
    done, redo, todo = _plan(inputs, previous, "tiny", "gmr-fit", opts, force=False)
    assert list(done) == ["done"] and done["done"]["skipped"] and "redone" not in done["done"]
    assert todo == inputs[1:]
    assert set(redo) == {"other", "gone"}
    assert "units: 'cm' -> 'auto'" in redo["other"] and "missing" in redo["gone"]
    done, redo, todo = _plan(inputs, previous, "tiny", "gmr-fit", opts, force=True)
    assert done == {} and todo == inputs and set(redo) == {"other", "gone"}
    _, redo, todo = _plan(inputs, previous, "tiny", "mocap-body", opts, force=False)
    assert todo == inputs and "made for tiny with gmr-fit" in redo["done"]

"""Bad inputs and faults, through the real ``mm`` CLI: each is one clear error (or a correct result), never a
traceback, never lost or silently wrong work.

Every table case asserts the exit code, that the message names the file, option or field and the problem, that no
traceback is printed, and that nothing on disk changed. Fault cases below the table: clashing names, changed
options, the demo -> train workflow, duplicate and broken plugins, a full disk, and kill -9 of retarget and train.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mm_core import MotionClip
from mm_core.cli import build_app

DATA = Path(__file__).parents[1] / ".." / "shared" / "data" / "mocap"
WALK, RUN = DATA / "35_01.bvh", DATA / "35_17.bvh"
pytestmark = pytest.mark.skipif(not WALK.is_file(), reason=f"CMU mocap clips not found under {DATA}")
#: Small, fast training settings (tiny model, C MuJoCo, CPU).
SMALL = ["-e", "tiny", "--num-worlds", "4", "--backend", "mujoco", "--device", "cpu",
         "--set", "ppo.num_steps=4", "--set", "ppo.num_minibatches=2"]  # fmt: skip


def invoke(*args: object, env: dict[str, str] | None = None):  # noqa: ANN201
    return CliRunner().invoke(build_app(), [str(a) for a in args], env=env)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def assert_clean_error(res, code: int, words: list[str]) -> None:  # noqa: ANN001
    out = res.output
    assert res.exit_code == code, out
    assert "Traceback" not in out, out
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    for w in words:
        assert w.lower() in out.lower(), f"{w!r} not in:\n{out}"


# ---------------------------------------------------------------------------------------------------------------
# Files a careful user can get wrong
# ---------------------------------------------------------------------------------------------------------------


def bvh_with(tmp: Path, name: str, edit: Callable[[list[str]], None]) -> Path:
    lines = WALK.read_text().splitlines()
    edit(lines)
    p = tmp / name
    p.write_text("\n".join(lines) + "\n")
    return p


def _motion_start(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith("Frame Time")) + 1


def unbalanced_bvh(tmp: Path) -> Path:
    # Drop the "}" that closes the left toe's End Site (line 29): pybvh would hang the rest of the leg off it.
    def edit(lines: list[str]) -> None:
        assert lines[28].strip() == "}"
        del lines[28]

    return bvh_with(tmp, "unbalanced.bvh", edit)


def frame_time_bvh(tmp: Path) -> Path:
    def edit(lines: list[str]) -> None:
        i = _motion_start(lines) - 1
        lines[i] = "Frame Time: 120"

    return bvh_with(tmp, "rate_in_frame_time.bvh", edit)


def root_jump_bvh(tmp: Path) -> Path:
    def edit(lines: list[str]) -> None:
        i = _motion_start(lines) + 50
        vals = lines[i].split()
        lines[i] = " ".join(["1e30", *vals[1:]])

    return bvh_with(tmp, "root_jump.bvh", edit)


def amass(tmp: Path, name: str, **rate: object) -> Path:
    t = 90
    trans = np.zeros((t, 3))
    trans[:, 0] = np.linspace(0, 1.2, t)
    trans[:, 2] = 0.9
    p = tmp / name
    np.savez(p, poses=np.zeros((t, 72)), trans=trans, betas=np.zeros(16), **rate)
    return p


def random_bytes(tmp: Path, name: str) -> Path:
    p = tmp / name
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    return p


def _no_frames(lines: list[str]) -> None:
    del lines[_motion_start(lines) :]
    lines[_motion_start(lines) - 2] = "Frames: 0"


def _json(tmp: Path, name: str, obj: object) -> Path:
    p = tmp / name
    p.write_text(json.dumps(obj))
    return p


def _clip(tmp: Path) -> Path:
    """A small, valid clip of the tiny model (MotionClip.save of a copy of a real retargeted one)."""
    return shutil.copyfile(_CLIP(), tmp / "clip.npz")


def _truncated(tmp: Path) -> Path:
    raw = _CLIP().read_bytes()
    p = tmp / "half.npz"
    p.write_bytes(raw[: len(raw) // 2])
    return p


_cache: dict[str, Path] = {}


def _CLIP() -> Path:  # noqa: N802 - made once per session by the real retargeter
    if "clip" not in _cache:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="mm-bad-inputs-"))
        res = invoke("retarget", WALK, "-e", "tiny", "-o", out)
        assert res.exit_code == 0, res.output
        _cache["clip"] = out / "35_01.npz"
    return _cache["clip"]


@dataclass
class Case:
    """One bad command: ``args(tmp)`` builds the argv (and files); the run must exit ``code`` naming ``words``."""

    id: str
    args: Callable[[Path], list[object]]
    code: int
    words: list[str]
    #: Paths (relative to tmp) that may change; everything else must be left as it was.
    may_change: list[str] = field(default_factory=list)


def _retarget(*extra: object) -> Callable[[Path], list[object]]:
    return lambda tmp: ["retarget", WALK, "-e", "tiny", *extra]


def _validate(tmp: Path) -> list[object]:
    """Valid inputs up to the output check: a clip and a built-in reference."""
    return ["validate", "--motion", _clip(tmp), "--reference", "schwartz2008-walking-free"]


def _foreign_dir(tmp: Path) -> Path:
    d = tmp / "my_notes"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text('{"mine": true}')
    (d / "metrics.csv").write_text("my,data\n1,2\n")
    return d


def _file(tmp: Path) -> Path:
    p = tmp / "existing.txt"
    p.write_text("keep me")
    return p


def _readonly(tmp: Path) -> Path:
    if os.geteuid() == 0:  # root writes through permission bits; /sys refuses everyone
        return Path("/sys/mm-test-output")
    d = tmp / "readonly"
    d.mkdir(exist_ok=True)
    d.chmod(0o555)
    return d / "out"


CASES = [
    # retarget: outputs
    Case("retarget-out-is-file", lambda t: [*_retarget()(t), "-o", _file(t)], 2, ["existing.txt", "existing file"]),
    Case("retarget-out-foreign-dir", lambda t: [*_retarget()(t), "-o", _foreign_dir(t)], 2,
         ["my_notes", "not empty", "--overwrite"]),
    Case("retarget-out-readonly", lambda t: [*_retarget()(t), "-o", _readonly(t)], 2,
         ["cannot write the output directory"]),
    # retarget: arguments
    Case("retarget-unknown-embodiment", lambda t: ["retarget", WALK, "-e", "nosuch", "-o", t / "o"], 2,
         ["'nosuch'", "valid names", "tiny"]),
    Case("retarget-unknown-method", lambda t: [*_retarget("-m", "nosuch", "-o", t / "o")(t)], 2,
         ["retargeter 'nosuch'", "gmr-fit"]),
    Case("retarget-missing-input", lambda t: ["retarget", t / "gone.bvh", "-e", "tiny", "-o", t / "o"], 2,
         ["gone.bvh", "no such input"]),
    Case("retarget-units", lambda t: [*_retarget("--units", "furlongs", "-o", t / "o")(t)], 2,
         ["--units", "furlongs"]),
    Case("retarget-units-negative", lambda t: [*_retarget("--units", "-1", "-o", t / "o")(t)], 2, ["--units"]),
    Case("retarget-solve-fps-negative", lambda t: [*_retarget("--solve-fps", "-5", "-o", t / "o")(t)], 2,
         ["--solve-fps"]),
    Case("retarget-workers-0", lambda t: [*_retarget("-j", "0", "-o", t / "o")(t)], 2, ["--workers"]),
    Case("retarget-unknown-suffix", lambda t: ["retarget", _file(t), "-e", "tiny", "-o", t / "o"], 1,
         ["existing.txt", "no motion reader", ".bvh"], ["o/**"]),
    # retarget: files (one bad clip: failed in the report with its reason; all failed: exit 1)
    Case("bvh-unbalanced-braces", lambda t: ["retarget", unbalanced_bvh(t), "-e", "tiny", "-o", t / "o"], 1,
         ["unbalanced.bvh", "braces do not balance", "line 29", "End Site"], ["o/**"]),
    Case("bvh-frame-time-is-a-rate", lambda t: ["retarget", frame_time_bvh(t), "-e", "tiny", "-o", t / "o"], 1,
         ["rate_in_frame_time.bvh", "Frame Time is 120", "frame rate in Hz", "0.00833333"], ["o/**"]),
    Case("bvh-root-jumps-to-1e30", lambda t: ["retarget", root_jump_bvh(t), "-e", "tiny", "-o", t / "o"], 1,
         ["root_jump.bvh", "frame 50", "corrupt"], ["o/**"]),
    Case("amass-rate-is-a-frame-time",
         lambda t: ["retarget", amass(t, "a.npz", mocap_framerate=1 / 120), "-e", "tiny", "-o", t / "o"], 1,
         ["a.npz", "'mocap_framerate' is 0.00833333", "frame time in seconds", "probably 120"], ["o/**"]),
    Case("amass-rate-1hz", lambda t: ["retarget", amass(t, "a.npz", mocap_framerate=1.0), "-e", "tiny", "-o",
                                      t / "o"], 1, ["a.npz", "'mocap_framerate' is 1", "plausible"], ["o/**"]),
    Case("amass-rate-array",
         lambda t: ["retarget", amass(t, "a.npz", mocap_framerate=[120.0, 60.0]), "-e", "tiny", "-o", t / "o"], 1,
         ["a.npz", "'mocap_framerate' must be one number", "(2,)"], ["o/**"]),
    Case("amass-rate-empty",
         lambda t: ["retarget", amass(t, "a.npz", mocap_framerate=np.zeros(0)), "-e", "tiny", "-o", t / "o"], 1,
         ["a.npz", "'mocap_framerate' must be one number", "(0,)"], ["o/**"]),
    Case("amass-random-bytes", lambda t: ["retarget", random_bytes(t, "r.npz"), "-e", "tiny", "-o", t / "o"], 1,
         ["r.npz", "not a readable .npz"], ["o/**"]),
    Case("retarget-joint-map-missing", lambda t: [*_retarget("--joint-map", t / "map.json", "-o", t / "o")(t)], 2,
         ["map.json", "joint map"]),
    Case("retarget-joint-map-bad-joint",
         lambda t: [*_retarget("--joint-map", _json(t, "map.json", {"Hips": "Tail"}), "-o", t / "o")(t)], 2,
         ["map.json", "unknown SMPL joints", "Tail"]),
    Case("bvh-no-frames", lambda t: ["retarget", bvh_with(t, "empty.bvh", _no_frames), "-e", "tiny", "-o", t / "o"],
         1, ["empty.bvh", "frames"], ["o/**"]),
    Case("retarget-report-nothing", lambda t: ["retarget", "report", t], 2, ["no retarget report"]),
    Case("retarget-show-frames", lambda t: ["retarget", "show", _clip(t), "--export-glb", t / "g.glb", "--frames",
                                            "0,99999"], 2, ["--frames", "0..", "99999"]),
    Case("retarget-show-random", lambda t: ["retarget", "show", random_bytes(t, "r.npz")], 2,
         ["r.npz", "not a zip archive", "MotionClip .npz"]),
    # train: motions
    Case("train-random-npz", lambda t: ["train", *SMALL, "-m", random_bytes(t, "r.npz"), "-o", t / "run"], 2,
         ["r.npz", "not a zip archive", "MotionClip .npz", "mm retarget"], ["run/**"]),
    Case("train-random-bvh", lambda t: ["train", *SMALL, "-m", random_bytes(t, "r.bvh"), "-o", t / "run"], 2,
         ["r.bvh", "not a readable .npz", "MotionClip .npz"], ["run/**"]),
    Case("train-bvh-as-clip", lambda t: ["train", *SMALL, "-m", WALK, "-o", t / "run"], 2,
         ["35_01.bvh", "BVH motion-capture file", "mm retarget"], ["run/**"]),
    Case("train-amass-as-clip", lambda t: ["train", *SMALL, "-m", amass(t, "a.npz", mocap_framerate=120.0), "-o",
                                           t / "run"], 2, ["a.npz", "AMASS/SMPL source motion", "mm retarget"],
         ["run/**"]),
    Case("train-truncated-clip", lambda t: ["train", *SMALL, "-m", _truncated(t), "-o", t / "run"], 2,
         ["half.npz", "not a readable .npz"], ["run/**"]),
    Case("train-resume-from-nothing", lambda t: ["train", *SMALL, "-m", _clip(t), "--resume-from", t / "nope", "-o",
                                                 t / "run"], 2, ["nope", "no such checkpoint"], ["run/**"]),
    Case("train-reset-std-alone", lambda t: ["train", *SMALL, "--reset-std", "0.5", "-o", t / "run"], 2,
         ["--reset-std", "--resume-from"]),
    Case("train-config-missing", lambda t: ["train", *SMALL, "--config", t / "none.toml", "-o", t / "run"], 2,
         ["none.toml"]),
    Case("train-missing-motion", lambda t: ["train", *SMALL, "-m", t / "gone.npz", "-o", t / "run"], 2,
         ["gone.npz", "no such"], ["run/**"]),
    # train: budgets, device, backend, run dir, config
    Case("train-updates-0", lambda t: ["train", *SMALL, "--updates", "0", "-o", t / "run"], 2, ["--updates"]),
    Case("train-updates-negative", lambda t: ["train", *SMALL, "--updates", "-3", "-o", t / "run"], 2,
         ["--updates"]),
    Case("train-samples-negative", lambda t: ["train", *SMALL, "--samples", "-5", "-o", t / "run"], 2,
         ["--samples", "> 0"]),
    Case("train-minutes-0", lambda t: ["train", *SMALL, "--minutes", "0", "-o", t / "run"], 2, ["--minutes", "> 0"]),
    Case("train-device-nosuch", lambda t: ["train", *[a if a != "cpu" else "nosuch" for a in SMALL], "-o", t / "run"],
         2, ["--device 'nosuch'", "cpu"]),
    Case("train-backend-nosuch",
         lambda t: ["train", *[a if a != "mujoco" else "nosuch" for a in SMALL], "-o", t / "run"], 2,
         ["'nosuch'", "valid names", "mujoco"]),
    Case("train-run-dir-foreign", lambda t: ["train", *SMALL, "--updates", "1", "-o", _foreign_dir(t)], 2,
         ["my_notes", "not an mm train output", "--overwrite"]),
    Case("train-run-dir-is-file", lambda t: ["train", *SMALL, "--updates", "1", "-o", _file(t)], 2,
         ["existing.txt", "existing file"]),
    Case("train-set-unknown-key", lambda t: ["train", *SMALL, "--set", "ppo.bogus=1", "-o", t / "run"], 2,
         ["ppo.bogus"]),
    Case("train-config-not-toml", lambda t: ["train", *SMALL, "--config", _file(t), "-o", t / "run"], 2,
         ["existing.txt", "TOML"]),
    # eval, validate, sim, models
    Case("eval-backend-nosuch", lambda t: ["eval", t, "--backend", "nosuch"], 2, ["--backend", "'nosuch'", "mujoco"]),
    Case("eval-no-checkpoint", lambda t: ["eval", t], 2, ["no checkpoint"]),
    Case("eval-corrupt-checkpoint", lambda t: ["eval", _json(t, "step_00000001.json", [1, 2])], 2,
         ["step_00000001"]),
    Case("render-no-checkpoint", lambda t: ["render", t / "nothing"], 2, ["nothing", "no such checkpoint"]),
    Case("validate-unknown-reference", lambda t: ["validate", "--motion", _clip(t), "--reference", "nosuch", "--out",
                                                  t / "v"], 2, ["nosuch"]),
    Case("validate-out-is-file", lambda t: [*_validate(t), "--out", _file(t)], 2, ["existing.txt", "existing file"]),
    Case("validate-out-foreign-dir", lambda t: [*_validate(t), "--out", _foreign_dir(t)], 2,
         ["my_notes", "not empty", "--overwrite"]),
    Case("validate-out-readonly", lambda t: [*_validate(t), "--out", _readonly(t)], 2,
         ["cannot write the output directory"]),
    Case("render-out-is-file", lambda t: ["render", t / "run", "--out", _file(t)], 2,
         ["existing.txt", "existing file", "--overwrite"]),
    Case("render-out-is-dir", lambda t: ["render", t / "run", "--out", _foreign_dir(t)], 2,
         ["my_notes", "is a directory"]),
    Case("render-out-readonly", lambda t: ["render", t / "run", "--out", _readonly(t) / "r.mp4"], 2,
         ["r.mp4", "cannot write the output file"]),
    Case("validate-corrupt-checkpoint", lambda t: ["validate", "--checkpoint", _json(t, "step_00000001.json", [1, 2]),
                                                   "--reference", "schwartz2008-walking-free", "--out", t / "v"], 2,
         ["step_00000001"]),
    Case("validate-steps-0", lambda t: ["validate", "--checkpoint", t, "--reference", "x", "--steps", "0"], 2,
         ["--steps"]),
    Case("validate-steps-negative", lambda t: ["validate", "--checkpoint", t, "--reference", "x", "--steps", "-4"],
         2, ["--steps"]),
    Case("sim-bench-worlds-huge", lambda t: ["sim", "bench", "--worlds", "100000000", "--backend", "mujoco"], 2,
         ["--worlds 100000000", "GiB", "use at most"]),
    Case("sim-bench-steps-0", lambda t: ["sim", "bench", "--steps", "0"], 2, ["--steps"]),
    Case("sim-bench-unknown-embodiment", lambda t: ["sim", "bench", "--embodiment", "nosuch"], 2,
         ["'nosuch'", "valid names"]),
    Case("plugins-check-nosuch", lambda t: ["plugins", "check", "nosuch"], 2, ["'nosuch'", "installed"]),
    Case("models-show-nosuch", lambda t: ["models", "show", "nosuch"], 2, ["'nosuch'", "valid names"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_error(case: Case, tmp_path: Path) -> None:
    args = case.args(tmp_path)
    before = snapshot(tmp_path)
    res = invoke(*args)
    assert_clean_error(res, case.code, case.words)
    assert "pickle" not in res.output.lower()
    after = snapshot(tmp_path)
    allowed = re.compile("|".join(p.replace("**", ".*") for p in case.may_change) or "$^")
    changed = {
        k for k in before.keys() | after.keys() if before.get(k) != after.get(k) and not allowed.match(k)
    }
    assert not changed, f"files changed: {sorted(changed)}"


def test_expected_error_shows_traceback_only_with_mm_debug(tmp_path: Path) -> None:
    res = invoke("train", *SMALL, "-o", _file(tmp_path), env={"MM_DEBUG": "1"})
    assert res.exit_code == 2 and "Traceback" in res.output and "existing file" in res.output


# ---------------------------------------------------------------------------------------------------------------
# Workflows that used to lose or mix work
# ---------------------------------------------------------------------------------------------------------------


def test_same_file_name_in_two_folders_gives_two_clips(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = tmp_path / "a" / "x.bvh", tmp_path / "b" / "x.bvh"
    shutil.copyfile(WALK, a)
    shutil.copyfile(RUN, b)
    out = tmp_path / "out"
    res = invoke("retarget", a, b, "-e", "tiny", "-o", out, "--json")
    assert res.exit_code == 0, res.output
    clips = {c["input"]: c for c in json.loads((out / "report.json").read_text())["clips"]}
    outputs = {c["output"] for c in clips.values()}
    assert len(outputs) == 2, outputs  # one file per input
    for inp, c in clips.items():  # the report agrees with the files: each clip came from its own input
        assert c["status"] == "ok" and Path(c["output"]).is_file()
        assert MotionClip.load(c["output"]).source == inp
    assert {Path(o).relative_to(out).as_posix() for o in outputs} == {"a/x.npz", "b/x.npz"}
    frames = {Path(c["input"]).parent.name: MotionClip.load(c["output"]).num_frames for c in clips.values()}
    assert frames["a"] != frames["b"]  # different takes, so different lengths (35_01 walk, 35_17 run)


def test_rerun_with_other_options_redoes_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("retarget", WALK, "-e", "tiny", "-o", out).exit_code == 0
    clip = out / "35_01.npz"
    first = MotionClip.load(clip)
    mtime = clip.stat().st_mtime_ns
    res = invoke("retarget", WALK, "-e", "tiny", "-o", out)  # same options: skipped, untouched
    assert res.exit_code == 0 and clip.stat().st_mtime_ns == mtime
    res = invoke("retarget", WALK, "-e", "tiny", "-o", out, "--solve-fps", "60")
    assert res.exit_code == 0, res.output
    assert "redone" in res.output and "solve_fps" in res.output
    again = MotionClip.load(clip)
    assert again.metadata["solve_fps"] == pytest.approx(60.0) and first.metadata[
        "solve_fps"
    ] == pytest.approx(30.0)
    entry = json.loads((out / "report.json").read_text())["clips"][0]
    assert entry["options"]["retarget"] == {"solve_fps": 60.0} and "solve_fps" in entry["redone"]


def test_duplicate_embodiment_refuses_only_that_name() -> None:
    from mm_core import hookimpl, registry
    from mm_core.plugins import get_plugin_manager

    tiny = registry.get_embodiment("tiny")

    class Clash:
        @hookimpl
        def mm_embodiments(self):  # noqa: ANN202
            return [tiny]

    pm = get_plugin_manager()
    pm.register(Clash(), "clash_plugin")
    registry.clear_cache()
    try:
        res = invoke("models", "show", "tiny")
        assert_clean_error(
            res, 2, ["'tiny'", "'clash_plugin'", "'models' (mm-models)", "provided by 2 plugins"]
        )
        res = invoke("retarget", WALK, "-e", "tiny", "-o", "/nonexistent/never-made")
        assert_clean_error(res, 2, ["'tiny'", "clash_plugin"])
        res = invoke("plugins", "list", "--json")  # everything else still works; the clash is said
        assert res.exit_code == 0 and "Traceback" not in res.output and "clash_plugin" in res.output
        assert invoke("models", "show", "hopper", "--json").exit_code == 0
        res = invoke("plugins", "check", "clash_plugin")
        assert res.exit_code == 1 and "Traceback" not in res.output and "'tiny'" in res.output
    finally:
        pm.unregister("clash_plugin")
        registry.clear_cache()


def test_failed_plugin_is_named_when_its_name_is_asked_for() -> None:
    from importlib.metadata import EntryPoint

    from mm_core import registry
    from mm_core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    pm._load_one(EntryPoint(name="zz_broken", value="mm_no_such_module_here", group="mm"))
    registry.clear_cache()
    try:
        res = invoke("models", "show", "my-arm")
        assert_clean_error(
            res, 2, ["'my-arm'", "plugin 'zz_broken'", "failed to load", "mm_no_such_module_here"]
        )
    finally:
        pm.infos.pop("zz_broken")
        registry.clear_cache()


# ---------------------------------------------------------------------------------------------------------------
# Faults: full disk, kill -9
# ---------------------------------------------------------------------------------------------------------------


def test_disk_full_while_checkpointing_leaves_no_partial_file(tmp_path: Path) -> None:
    """A real write failure (the file-size limit, EFBIG, as a full disk gives ENOSPC) in ``checkpoint.save``."""
    import torch

    from mm_rl import checkpoint

    ckpt = tmp_path / "checkpoints"
    checkpoint.save(ckpt, 0, {"w": torch.zeros(10)}, {"config": {}})
    before = snapshot(tmp_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(checkpoint.CheckpointError, match=r"step_00000001\.safetensors.*could not write"):
            checkpoint.save(ckpt, 1, {"w": torch.zeros(100_000)}, {"config": {}})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert snapshot(tmp_path) == before  # no hidden temp file, latest still points at step 0
    assert checkpoint.load(ckpt)[1]["step"] == 0


def test_disk_full_while_resuming_keeps_metrics_csv(tmp_path: Path) -> None:
    """Resume rewrites metrics.csv (dropping rows after the checkpoint): a failed write keeps every old row."""
    from mm_rl.metrics_log import MetricsLog

    path = tmp_path / "metrics.csv"
    log = MetricsLog(path, None)
    for u in range(1, 301):
        log.write({"update": u, "samples": 64 * u, "reward": 0.001 * u, "loss": 1.0 / u})
    before = path.read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))  # the kept 200 rows need ~7 KiB
    try:
        with pytest.raises(OSError):
            MetricsLog(path, 200)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]  # no temporary file left
    MetricsLog(path, 200)  # with room, the resume keeps exactly the rows up to the checkpoint
    assert path.read_text().splitlines()[1:] == before.decode().splitlines()[1:201]


def test_run_made_before_muon_lr_scale_resumes_as_it_was_trained(tmp_path: Path) -> None:
    """A config.json without ppo.muon_lr_scale (runs made before the key) is compared as trained: match_adamw."""
    run = tmp_path / "run"
    assert invoke("train", *SMALL, "--updates", "1", "-o", run).exit_code == 0
    cfg = json.loads((run / "config.json").read_text())
    assert (
        cfg["ppo"].pop("muon_lr_scale") == "match_adamw"
    )  # tiny's preset: what every run used before the key
    (run / "config.json").write_text(json.dumps(cfg))
    res = invoke("train", *SMALL, "--updates", "1", "--set", "ppo.lr=0.1", "-o", run)  # a real change: named
    assert_clean_error(res, 2, ["different config", "(ppo.lr differ)"])
    # The new default scaling on such a run: named, with what the run used and how to continue it.
    res = invoke("train", *SMALL, "--updates", "1", "--set", "ppo.muon_lr_scale=reference", "-o", run)
    assert_clean_error(
        res, 2, ["ppo.muon_lr_scale differ", "predates", "--set ppo.muon_lr_scale=match_adamw"]
    )
    res = invoke("train", *SMALL, "--updates", "2", "-o", run)  # the same command resumes
    assert res.exit_code == 0, res.output
    assert json.loads((run / "config.json").read_text())["ppo"]["muon_lr_scale"] == "match_adamw"


def _mm(*args: object) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "MM_DEBUG"}
    return subprocess.Popen(
        [sys.executable, "-c", "from mm_core.cli import main; main()", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], delay: float, limit: float = 120
) -> None:
    t0 = time.monotonic()
    while not ready() and proc.poll() is None and time.monotonic() - t0 < limit:
        time.sleep(0.001)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _visible_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.parts[-1:])]


def test_kill9_retarget_leaves_only_complete_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inputs = [WALK, RUN]
    final = {".mm-output", "report.json", "35_01.npz", "35_17.npz"}

    def writing() -> bool:  # a file that is not one of the finished ones: a write is under way
        return out.is_dir() and any(p.name not in final for p in out.rglob("*") if p.is_file())

    # While starting, reading and solving (whatever it reaches), and in the middle of writing a file.
    kills = [(out.is_dir, 0.0), (out.is_dir, 0.3), (out.is_dir, 1.0), (writing, 0.0)]
    for ready, delay in kills:
        _kill_when(_mm("retarget", *inputs, "-e", "tiny", "-o", out), ready, delay)
        for p in _visible_files(out):  # every file a reader sees is complete
            if p.suffix == ".npz":
                assert MotionClip.load(p).embodiment == "tiny"
            elif p.name == "report.json":
                json.loads(p.read_text())
    proc = _mm("retarget", *inputs, "-e", "tiny", "-o", out)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()  # type: ignore[union-attr]
    leftovers = [p.name for p in out.rglob(".*") if p.name != ".mm-output"]
    assert not leftovers, leftovers  # temp files of the killed runs were cleaned
    report = json.loads((out / "report.json").read_text())
    assert sorted(Path(c["output"]).name for c in report["clips"]) == ["35_01.npz", "35_17.npz"]
    assert sorted(p.name for p in out.glob("*.npz")) == ["35_01.npz", "35_17.npz"]


@pytest.mark.slow
def test_demo_then_train_on_it_survives_kill9(tmp_path: Path) -> None:
    """`mm retarget demo -o D -e tiny` then `mm train -m D`: trains on the clips (never the AMASS sources in
    D/motions), and a kill -9 while setting up or training leaves only complete files; the re-run resumes."""
    from mm_rl import checkpoint
    from mm_rl.motions import resolve_motion_paths

    d = tmp_path / "demo"
    res = invoke("retarget", "demo", "-o", d, "-e", "tiny")
    assert res.exit_code == 0, res.output
    used = resolve_motion_paths([str(d)])
    assert sorted(p.relative_to(d).as_posix() for p in used) == ["demo_squat.npz", "demo_walk.npz"]
    run = tmp_path / "run"
    cmd = ["train", *SMALL, "-m", d, "--updates", "4", "--set", "checkpoint_every=1", "-o", run, "--json"]
    ckpts = run / "checkpoints"

    def writing_checkpoint() -> bool:  # training, in the middle of writing a checkpoint after the first
        return (ckpts / "latest").is_file() and any(ckpts.glob(".*"))

    kills = [(lambda: (run / ".mm-output").is_file(), 0.5), (writing_checkpoint, 0.0)]
    for ready, delay in kills:  # while setting up; then mid-checkpoint while training
        _kill_when(_mm(*cmd), ready, delay)
        for p in _visible_files(run):
            if p.suffix == ".json":
                json.loads(p.read_text())
        for p in sorted(ckpts.glob("step_*.json")) if ckpts.is_dir() else []:
            checkpoint.load(p)  # SHA-256 checked: every checkpoint is whole
    proc = _mm(*cmd)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()  # type: ignore[union-attr]
    tensors, meta = checkpoint.load(run)
    assert meta["step"] == 4 and meta["num_obs"] > 0
    leftovers = [p.name for p in run.rglob(".*") if p.name != ".mm-output"]
    assert not leftovers, leftovers

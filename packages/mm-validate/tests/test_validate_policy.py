"""The policy path end to end on CPU: a short real mm-rl training on `tiny`, rolled out with mm-sim, validated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# The embodiments these tests run on come from mm-models (a dev-workspace package, not a dependency of mm-validate).
pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")

REF_DIR = Path(__file__).parents[3] / ".." / "shared" / "data" / "reference"
needs_data = pytest.mark.skipif(
    not (REF_DIR / "schwartz2008_walking.csv").is_file(), reason=f"reference data absent: {REF_DIR}"
)


def mm(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mm_core.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 PPO updates on the CPU demo (tiny legs, generated walk; ~40 s of CPU): the legs swing through gait cycles
    (3 right-leg cycles in 620 steps with seed 0; a 3-update policy just plants its feet)."""
    pytest.importorskip("mm_rl", reason="the policy path needs mm-rl")
    run = tmp_path_factory.mktemp("tiny") / "run"
    r = mm("train", "--updates", "60", "--seed", "0", "-o", str(run), "--json", timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return run


@pytest.mark.slow
def test_rollout_records_and_inverse_dynamics_match_muscles(tiny_run: Path) -> None:
    import mujoco

    from mm_core import get_embodiment
    from mm_validate.analysis import analyse
    from mm_validate.validate import RolloutOptions, rollout

    rec, name, _ = rollout(tiny_run, None, RolloutOptions(steps=200, terminate=False, progress=False))
    assert name == "tiny" and rec.dynamic and rec.act is not None
    assert rec.qpos.shape == (200, 6) and np.all((rec.ctrl >= 0) & (rec.ctrl <= 1))
    assert np.all((rec.act >= 0) & (rec.act <= 1))
    model = get_embodiment(name).compile()
    an = analyse(model, rec)
    for q in ("hip_extension_moment", "knee_power", "emg_rectus_femoris", "grf_vertical"):
        assert q in an.signals.values and np.all(np.isfinite(an.signals.values[q]))
    # Inverse dynamics from the recorded kinematics must give back the net muscle moment the simulation applied.
    data = mujoco.MjData(model)
    muscle = np.zeros((rec.qpos.shape[0], model.nv))
    for t in range(len(muscle)):
        data.qpos[:], data.qvel[:], data.act[:], data.ctrl[:] = (
            rec.qpos[t],
            rec.qvel[t],
            rec.act[t],
            rec.ctrl[t],
        )
        mujoco.mj_forward(model, data)
        muscle[t] = data.qfrc_actuator + data.qfrc_passive
    adr, dof, sign = an.joint_map.angle_dofs["hip_flexion"]["right"]
    hip_ext = -sign * muscle[:, dof] / an.joint_map.mass
    a, b = rec.spans()[0]
    r = np.corrcoef(hip_ext[a + 2 : b - 2], an.signals.values["hip_extension_moment"][a + 2 : b - 2, 1])[0, 1]
    assert r > 0.9, r


@pytest.mark.slow
def test_rollout_records_the_state_before_each_step(tiny_run: Path) -> None:
    """Independent route: C MuJoCo stepped from each recorded (qpos, qvel, act) with the recorded excitation gives
    the next recorded state within an episode, so the four records line up, worlds flattened one after another."""
    import mujoco

    from mm_core import get_embodiment
    from mm_validate.validate import RolloutOptions, rollout

    opts = RolloutOptions(steps=400, num_worlds=2, backend="mujoco", terminate=False, progress=False)
    rec, name, _ = rollout(tiny_run, None, opts)
    assert rec.spans() == ((0, 311), (311, 400), (400, 711), (711, 800))  # the 312-frame walk, then a reset
    spec = get_embodiment(name)
    model = spec.compile()
    data = mujoco.MjData(model)
    for a, b in rec.spans():
        for k in range(a, b - 1):
            data.qpos[:], data.qvel[:], data.act[:], data.ctrl[:] = (
                rec.qpos[k],
                rec.qvel[k],
                rec.act[k],
                rec.ctrl[k],
            )
            for _ in range(spec.physics.substeps):
                mujoco.mj_step(model, data)
            for field, v in (("qpos", data.qpos), ("qvel", data.qvel), ("act", data.act)):
                np.testing.assert_allclose(
                    v, getattr(rec, field)[k + 1], atol=1e-8, err_msg=f"{field} step {k}"
                )


@pytest.mark.slow
@needs_data
def test_checkpoint_validates_end_to_end(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "v"
    r = mm("validate", "--checkpoint", str(tiny_run), "--reference", "schwartz2008-walking-free",
           "--reference-dir", str(REF_DIR), "--out", str(out), "--steps", "620",
           "--no-terminate", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout)
    gait = summary["gait"]
    assert gait["cycles_left"] + gait["cycles_right"] >= 2, summary["notes"]
    # Kinematics, kinetics and muscles all compared: the tiny legs have hip/knee/ankle joints and named muscles.
    for q in ("hip_flexion", "knee_flexion", "hip_extension_moment", "ankle_power", "emg_tibialis_anterior"):
        assert q in summary["metrics"], q
        assert -1.0 <= summary["metrics"][q]["r"] <= 1.0
    report = json.loads((out / "report.json").read_text())
    assert report["subject"].startswith("checkpoint ")
    assert {Path(f).name for f in report["figures"]} >= {"angle.png", "moment.png", "emg.png"}
    assert "data:image/png;base64," in (out / "report.html").read_text()


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs CUDA")
def test_rollout_on_warp_cuda_matches_cpu_kinematics(tiny_run: Path) -> None:
    from mm_validate.validate import RolloutOptions, rollout

    gpu, _, _ = rollout(
        tiny_run, None, RolloutOptions(steps=100, backend="warp", device="cuda", progress=False)
    )
    cpu, _, _ = rollout(
        tiny_run, None, RolloutOptions(steps=100, backend="mujoco", device="cpu", progress=False)
    )
    # Same policy, same start frame, same physics settings: the first steps agree closely across backends.
    np.testing.assert_allclose(gpu.qpos[:20], cpu.qpos[:20], atol=2e-2)

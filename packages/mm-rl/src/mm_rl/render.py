"""MP4 of a policy next to its reference: MuJoCo's offscreen renderer, muscles (tendons) coloured by activation.

Needs an OpenGL backend for offscreen rendering: EGL (``libegl1``, default here) or OSMesa (``libosmesa6``),
chosen with ``MUJOCO_GL=egl|osmesa``; encoding uses imageio-ffmpeg's bundled ffmpeg.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


class RenderError(RuntimeError):
    """Rendering is impossible here (no OpenGL) or the input is wrong; the message says what to install or give."""


#: Offset of the reference ghost (m) along x, so that in the side view policy and reference stand side by side.
GHOST_OFFSET = np.array([0.9, 0.0, 0.0])


def activation_rgba(act: np.ndarray) -> np.ndarray:
    """Activation in [0, 1] (K,) -> RGBA (K, 4): blue (relaxed) to red (fully active)."""
    a = np.clip(act, 0.0, 1.0)[:, None]
    low, high = np.array([0.15, 0.25, 0.85, 1.0]), np.array([0.95, 0.1, 0.1, 1.0])
    return (1 - a) * low + a * high


def render_checkpoint(
    path: Path,
    out: Path,
    *,
    motion: str | None = None,
    seconds: float | None = None,
    width: int = 640,
    height: int = 480,
    stride: int = 2,
) -> Path:
    os.environ.setdefault("MUJOCO_GL", "egl")
    env, clip, traj = _rollout(path, motion)
    model = env.model
    n = len(traj["qpos"])
    if seconds is not None:
        n = min(n, int(seconds / (model.opt.timestep * env.sim.substeps)))
    fps = 1.0 / (model.opt.timestep * env.sim.substeps * stride)
    # The env moved the root xy to the origin at reset: move the reference ghost the same way.
    offset = env.offset3[0, 0].double().cpu().numpy()
    ghost_qpos = [_ghost_pose(model, clip.qpos[int(traj["frame"][k])], offset) for k in range(0, n, stride)]
    frames = _frames(model, traj["qpos"][:n:stride], traj["act"][:n:stride], ghost_qpos, width, height)
    out.parent.mkdir(parents=True, exist_ok=True)
    _encode(frames, out, fps)
    return out


def _rollout(path: Path, motion: str | None) -> tuple[Any, Any, dict[str, np.ndarray]]:
    """The checkpoint's deterministic evaluation rollout on one motion (``motion``: clip name or file, default the
    first training motion): (env, clip, recorded trajectory)."""
    import torch

    from mm_core import MotionClip
    from mm_rl.checkpoint import load_policy
    from mm_rl.config import config_from_dict
    from mm_rl.envs import make_env
    from mm_rl.evaluate import eval_config, rollout_first_episodes
    from mm_rl.motions import resolve_motion_paths

    policy, meta = load_policy(path, torch.device("cpu"))
    cfg = config_from_dict(meta["config"], str(path))
    cfg.device = "cpu"
    paths = [Path(p) for p in meta["motions"]]
    if motion is not None:
        by_name = {Path(p).stem: Path(p) for p in paths} | dict(
            zip(meta.get("clip_names", []), paths, strict=False)
        )
        paths = [by_name[motion]] if motion in by_name else resolve_motion_paths([motion])
    clip_path = paths[0]
    clip = MotionClip.load(clip_path)
    env = make_env(
        eval_config(cfg, None), [clip_path], torch.device("cpu"), seed=cfg.seed, num_worlds=1, evaluation=True
    )
    return env, clip, rollout_first_episodes(policy, env, record=True)[0]["trajectory"]


def _ghost_pose(model: Any, qpos: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The reference pose, its free root moved by the env's reset offset."""
    from mm_models.kinematics import has_free_root

    qpos = qpos.copy()
    if has_free_root(model):
        qpos[:3] -= offset
    return qpos


def _frames(
    model: Any, qpos: np.ndarray, act: np.ndarray, ghost_qpos: list[np.ndarray], width: int, height: int
) -> Iterator[np.ndarray]:
    """RGB frames, rendered as they are drawn: the pose ``qpos[k]`` with muscles coloured by ``act[k]``, the ghost
    ``ghost_qpos[k]`` beside it, from the side. Raises RenderError at once when there is no OpenGL."""
    import mujoco

    from mm_models.kinematics import has_free_root

    try:
        renderer = mujoco.Renderer(model, height, width)
    except Exception as e:  # noqa: BLE001 - MuJoCo raises several types when no GL context can be made
        raise RenderError(
            f"offscreen OpenGL is not available ({e}); install EGL (apt-get install libegl1) or OSMesa "
            "(apt-get install libosmesa6) and set MUJOCO_GL=egl or MUJOCO_GL=osmesa"
        ) from e
    data, ghost = mujoco.MjData(model), mujoco.MjData(model)
    muscle_tendons = [
        (i, int(model.actuator_trnid[i, 0]))
        for i in range(model.nu)
        if int(model.actuator_trntype[i]) == int(mujoco.mjtTrn.mjTRN_TENDON)
    ]
    act_cols = [i for i, _ in muscle_tendons if model.actuator_actadr[i] >= 0]
    tendon_ids = [t for i, t in muscle_tendons if model.actuator_actadr[i] >= 0]
    act_adr = [int(model.actuator_actadr[i]) for i in act_cols]
    # Thicker muscle lines so their activation colour reads at video resolution.
    model.tendon_width[tendon_ids] = np.maximum(model.tendon_width[tendon_ids], 0.008)
    cam = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(model, cam)
    cam.azimuth, cam.elevation = 90.0, -10.0  # side view: the sagittal plane faces the camera
    cam.distance = max(2.0, 1.2 * float(model.stat.extent))
    opt = mujoco.MjvOption()
    pert = mujoco.MjvPerturb()
    free = has_free_root(model)

    def frames() -> Iterator[np.ndarray]:
        try:
            for k in range(len(qpos)):
                data.qpos[:] = qpos[k]
                mujoco.mj_forward(model, data)
                model.tendon_rgba[tendon_ids] = activation_rgba(act[k][act_adr])
                ghost.qpos[:] = ghost_qpos[k]
                mujoco.mj_kinematics(model, ghost)
                cam.lookat[:] = data.qpos[:3] if free else model.stat.center
                cam.lookat[:] += GHOST_OFFSET / 2
                renderer.update_scene(data, cam)
                _add_ghost(model, ghost, opt, pert, renderer.scene)
                yield renderer.render()
        finally:
            renderer.close()

    return frames()


def _encode(frames: Iterator[np.ndarray], out: Path, fps: float) -> None:
    """An H.264 MP4 at ``out``, written under a hidden temporary name and renamed: a killed render never leaves
    half an MP4 there."""
    import imageio

    from mm_core.outputs import atomic_path

    with (
        atomic_path(out) as tmp,
        imageio.get_writer(
            tmp,
            format=".mp4",
            fps=fps,
            codec="libx264",
            quality=7,
            macro_block_size=8,
            output_params=["-f", "mp4"],
        ) as writer,
    ):
        for frame in frames:
            writer.append_data(frame)


def _add_ghost(model: Any, ghost: Any, opt: Any, pert: Any, scene: Any) -> None:
    """Append the reference pose's geoms to the scene: translucent green, offset sideways."""
    import mujoco

    first = scene.ngeom
    mujoco.mjv_addGeoms(model, ghost, opt, pert, mujoco.mjtCatBit.mjCAT_DYNAMIC, scene)
    for g in range(first, scene.ngeom):
        geom = scene.geoms[g]
        geom.pos[:] = geom.pos + GHOST_OFFSET
        geom.rgba[:] = (0.2, 0.8, 0.3, 0.45)

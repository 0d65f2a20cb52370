"""A policy's deterministic rollout as a playback: the simulated body beside its reference (a ghost), muscles along
their tendon paths coloured by activation (mm render's colouring), and the per-frame tracking error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mm_view.clips import ViewError
from mm_view.viewer import Playback


def policy_playback(target: Path, motions: list[str] | None, device: str = "cpu") -> tuple[Any, Playback]:
    """Roll the policy of ``target`` (run directory or checkpoint) out on one motion; (model, playback).

    The rollout is ``mm eval``'s: the run's task with the evaluation thresholds, a deterministic start at the
    motion's first frame (``env.reset(clips=...)``), deterministic actions, until it fails or the motion ends. The
    per-frame error is the env's own (``info["tracking"]``), as in ``mm eval``.
    """
    try:
        import torch

        from mm_rl import CheckpointError, load_policy
    except ImportError as e:
        raise ViewError(f"{target}: viewing a policy needs mm-rl: pip install 'mm-view[rl]' ({e})") from e

    try:
        policy, meta = load_policy(target, torch.device(device))
    except CheckpointError as e:
        raise ViewError(str(e)) from e
    from mm_core import MotionClip

    clip_path = _motion_path(meta, motions)
    clip = MotionClip.load(clip_path)
    env = _eval_env(meta, clip_path, device)
    if env.num_obs != policy.num_obs or env.num_actions != policy.num_actions:
        raise ViewError(f"{clip_path}: not a motion of the policy's embodiment ({meta.get('embodiment')})")
    from mm_rl import rollout_first_episodes

    with torch.no_grad():
        res = rollout_first_episodes(policy, env, record=True)[0]
    return env.model, _playback(meta, env, clip, res)


def _motion_path(meta: dict[str, Any], motions: list[str] | None) -> Path:
    """The motion to roll out on: the first of ``motions`` (a clip name of the run, or a path), else the run's first."""
    from mm_rl import resolve_motion_paths

    paths = [Path(p) for p in meta["motions"]]
    if motions:
        by_name = {Path(p).stem: Path(p) for p in paths} | dict(
            zip(meta.get("clip_names", []), paths, strict=False)
        )
        paths = [by_name[motions[0]]] if motions[0] in by_name else resolve_motion_paths(motions[:1])
    clip_path = paths[0]
    if not clip_path.is_file():
        raise ViewError(f"{meta['path']}: its motion {clip_path} is gone; give --motions CLIP")
    return clip_path


def _eval_env(meta: dict[str, Any], clip_path: Path, device: str) -> Any:
    """One evaluation world of the run's task (``mm eval``'s thresholds) on the motion ``clip_path``."""
    import torch

    from mm_rl import config_from_dict, eval_config, make_env

    cfg = config_from_dict(meta["config"], meta["path"])
    cfg.device = device
    return make_env(
        eval_config(cfg, None),
        [clip_path],
        torch.device(device),
        seed=cfg.seed,
        num_worlds=1,
        evaluation=True,
    )


def _playback(meta: dict[str, Any], env: Any, clip: Any, res: dict[str, Any]) -> Playback:
    """The rollout ``res`` of one env world as a playback: body, reference ghost, muscle colours, per-frame error."""
    from mm_models.kinematics import has_free_root
    from mm_rl import GHOST_OFFSET

    model = env.model
    traj = res["trajectory"]
    qpos, frames = traj["qpos"], traj["frame"].astype(int)
    # Error of the state shown at each frame: that after the previous step (none for the start pose).
    err = np.concatenate([[np.nan], traj["site_abs_m"][:-1]])
    # The env moved the root x-y to the origin at reset; the reference ghost is moved the same way (mm render).
    ghost = clip.qpos[frames].copy()
    if has_free_root(model):
        ghost[:, :3] -= env.offset3[0, 0].double().cpu().numpy()
    muscles, rgb = _muscle_colours(model, traj["act"])
    failed = bool(res["metrics"]["early_termination_rate"])
    summary = "\n".join(
        [
            f"policy `{Path(meta['path']).name}` on `{clip.name}`: "
            + (f"failed after {len(qpos)} steps" if failed else f"tracked all {len(qpos)} steps"),
            "",
            "green ghost: the reference; muscles: blue relaxed, red fully active",
        ]
    )
    return Playback(
        title=f"{meta.get('embodiment', '')} policy",
        qpos=qpos,
        fps=1.0 / (model.opt.timestep * env.sim.substeps),
        ghost_qpos=ghost,
        ghost_offset=GHOST_OFFSET,
        muscle_rgb=rgb,
        muscle_tendons=[int(model.actuator_trnid[i, 0]) for i in muscles],
        per_frame={"site error (m)": err, "reference frame": frames.astype(float)},
        summary=summary,
    )


def _muscle_colours(model: Any, act: np.ndarray) -> tuple[list[int], np.ndarray | None]:
    """The tendon actuators with an activation state, and their colour (T, M, 3) per frame (mm render's)."""
    import mujoco

    from mm_rl import activation_rgba

    muscles = [
        i
        for i in range(model.nu)
        if int(model.actuator_trntype[i]) == int(mujoco.mjtTrn.mjTRN_TENDON) and model.actuator_actadr[i] >= 0
    ]
    adr = [int(model.actuator_actadr[i]) for i in muscles]
    return muscles, (np.stack([activation_rgba(a[adr])[:, :3] for a in act]) if muscles else None)

"""Deterministic evaluation: the policy on each motion from its first frame, one episode per motion.

The task is the run's, with the embodiment's evaluation termination thresholds and no time limit.
Metrics per motion (and overall, frame-weighted where it matters):
``early_termination_rate`` (the episode failed before the motion's end), ``frame_coverage`` (frames tracked /
frames in the motion), ``site_error_rel_m`` (tracked sites relative to the main site vs the reference, mean over
steps and non-main sites), ``site_error_abs_m`` (world-frame site positions), ``joint_error_rad`` (mean absolute
error of the non-root joint angles), ``root_error_m`` (root position; 0 for fixed-root embodiments).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mm_core import EvalReport, MotionClip
from mm_rl.config import TrainConfig, from_dict
from mm_rl.policy import ActorCritic


def eval_config(cfg: TrainConfig, backend: str | None) -> TrainConfig:
    import copy

    cfg = copy.deepcopy(cfg)
    # Evaluation runs whole clips: no time limit shorter than the longest motion.
    cfg.task = {**cfg.task, "horizon": 10**9}
    if backend:
        cfg.backend = backend
    return cfg


def start_at_first_frames(env: Any) -> None:
    """Make every (re)set world ``i`` start at frame 0 of clip ``i % num_clips``.

    mm-sim's reference-state init draws a random clip and frame, and its API has no deterministic start; this
    replaces the draw on this evaluation env only.
    """
    lib = env.motions

    def first_frames(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        clip = torch.arange(n, device=lib.clip_len.device) % lib.num_clips
        return clip, torch.zeros_like(clip)

    lib.sample = first_frames


def _joint_columns(model: Any) -> tuple[list[int], int | None]:
    """qpos columns of the non-root hinge/slide joints, and the qpos address of a free root (or None)."""
    import mujoco

    cols, root = [], None
    for j in range(model.njnt):
        t = int(model.jnt_type[j])  # pybind enums do not compare equal to numpy ints
        if t == int(mujoco.mjtJoint.mjJNT_FREE):
            root = int(model.jnt_qposadr[j]) if root is None else root
        elif t in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            cols.append(int(model.jnt_qposadr[j]))
    return cols, root


def rollout_first_episodes(
    policy: ActorCritic, env: Any, clips: list[MotionClip], record: bool = False
) -> list[dict[str, Any]]:
    """One deterministic episode per clip (world ``i`` runs clip ``i`` from its first frame), all in one batch.

    Returns per clip ``{"metrics": {...}}`` and, with ``record``, ``"trajectory"``: ``qpos (K, nq)``,
    ``act (K, na)``, ``frame (K,)`` of the tracked steps.
    """
    import mujoco

    if env.num_envs != len(clips):
        raise ValueError(f"need one world per clip: {env.num_envs} worlds for {len(clips)} clips")
    model = env.model
    site_ids = [[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, s) for s in c.site_names] for c in clips]
    cols, root = _joint_columns(model)
    start_at_first_frames(env)
    obs = env.reset()
    n = len(clips)
    active = np.ones(n, dtype=bool)
    steps, terminated = np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
    errs: list[dict[str, list[float]]] = [{"rel": [], "abs": [], "joint": [], "root": []} for _ in clips]
    traj: list[dict[str, list[np.ndarray]]] = [{"qpos": [], "act": [], "frame": []} for _ in clips]
    limit = max(c.num_frames for c in clips) + 10
    while active.any() and steps.max() < limit:
        obs, _, term, trunc, info = env.step(policy.act(obs, deterministic=True))
        term, done = term.cpu().numpy(), (term | trunc).cpu().numpy()
        steps[active] += 1
        terminated[active & done] = term[active & done]
        live = np.nonzero(active & ~done)[0]
        active &= ~done
        if not len(live):
            continue
        frames = info["frame"].cpu().numpy()
        site_xpos = env.sim.site_xpos.double().cpu().numpy()
        qpos_all = env.sim.qpos.double().cpu().numpy()
        act_all = env.sim.act.double().cpu().numpy() if record else None
        for i in live:
            clip, k, e = clips[i], int(frames[i]), errs[i]
            pos, ref = site_xpos[i, site_ids[i]], clip.site_pos[k]
            e["abs"].append(float(np.linalg.norm(pos - ref, axis=-1).mean()))
            if len(pos) > 1:
                e["rel"].append(
                    float(np.linalg.norm((pos[1:] - pos[0]) - (ref[1:] - ref[0]), axis=-1).mean())
                )
            qpos = qpos_all[i]
            e["joint"].append(float(np.abs(qpos[cols] - clip.qpos[k, cols]).mean()) if cols else 0.0)
            rp = qpos[root : root + 3] - clip.qpos[k, root : root + 3] if root is not None else np.zeros(3)
            e["root"].append(float(np.linalg.norm(rp)))
            if record:
                traj[i]["qpos"].append(qpos)
                traj[i]["act"].append(act_all[i])
                traj[i]["frame"].append(np.array(k))
    out = []
    for i, clip in enumerate(clips):
        total = clip.num_frames - 1
        tracked = steps[i] - 1 if terminated[i] else steps[i]  # a failing step does not count as tracked
        mean = lambda v: float(np.mean(v)) if v else float("nan")  # noqa: E731
        metrics = {
            "early_termination_rate": float(terminated[i]),
            "frame_coverage": min(int(tracked), total) / total,
            "site_error_rel_m": mean(errs[i]["rel"]),
            "site_error_abs_m": mean(errs[i]["abs"]),
            "joint_error_rad": mean(errs[i]["joint"]),
            "root_error_m": mean(errs[i]["root"]),
            "frames": float(total),
            "steps": float(steps[i]),
        }
        item: dict[str, Any] = {"metrics": metrics}
        if record:
            item["trajectory"] = {k: np.stack(v) if v else np.zeros((0,)) for k, v in traj[i].items()}
        out.append(item)
    return out


def evaluate_policy(
    policy: ActorCritic,
    cfg: TrainConfig,
    motion_paths: list[Path],
    *,
    checkpoint: str = "",
    backend: str | None = None,
) -> EvalReport:
    """Evaluate ``policy`` on every motion (one world each, in one env)."""
    from mm_rl.train import make_env

    device = next(policy.parameters()).device
    clips = [MotionClip.load(p) for p in motion_paths]
    env = make_env(
        eval_config(cfg, backend), motion_paths, device, seed=cfg.seed, num_worlds=len(clips), evaluation=True
    )
    if env.num_obs != policy.num_obs or env.num_actions != policy.num_actions:
        raise ValueError(
            f"the task on these motions has {env.num_obs} observations / {env.num_actions} actions, the policy "
            f"{policy.num_obs} / {policy.num_actions}; evaluate on motions of the policy's embodiment"
        )
    per_motion: dict[str, dict[str, float]] = {}
    for path, clip, res in zip(motion_paths, clips, rollout_first_episodes(policy, env, clips), strict=True):
        name = clip.name or Path(path).stem
        if name in per_motion:  # two clips of one name: tell them apart by file
            name = f"{name} ({path})"
        per_motion[name] = res["metrics"]
    return EvalReport(
        checkpoint=checkpoint, embodiment=cfg.embodiment, overall=_overall(per_motion), per_motion=per_motion
    )


def _overall(per_motion: dict[str, dict[str, float]]) -> dict[str, float]:
    ms = list(per_motion.values())
    frames = np.array([m["frames"] for m in ms])
    out = {"motions": float(len(ms))}
    out["early_termination_rate"] = float(np.mean([m["early_termination_rate"] for m in ms]))
    out["frame_coverage"] = float(sum(m["frame_coverage"] * m["frames"] for m in ms) / frames.sum())
    for k in ("site_error_rel_m", "site_error_abs_m", "joint_error_rad", "root_error_m"):
        vals = np.array([m[k] for m in ms])
        w = np.array([m["steps"] for m in ms])
        ok = np.isfinite(vals)
        out[k] = (
            float((vals[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() and w[ok].sum() > 0 else float("nan")
        )
    return out


def evaluate_checkpoint(
    path: str | Path, *, motions: list[str] | None = None, backend: str | None = None, device: str = "cpu"
) -> EvalReport:
    """Evaluate a checkpoint on ``motions`` (default: the motions it was trained on)."""
    from mm_rl.checkpoint import load_policy
    from mm_rl.motions import resolve_motion_paths

    policy, meta = load_policy(path, torch.device(device))
    cfg = from_dict(TrainConfig, meta["config"], str(path))
    cfg.device = device
    paths = resolve_motion_paths(motions) if motions else [Path(p) for p in meta["motions"]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"{path}: its training motions are gone ({missing}); give --motions")
    return evaluate_policy(policy, cfg, paths, checkpoint=meta["path"], backend=backend)

"""Deterministic evaluation: the policy on each motion from its first frame, one episode per motion.

The task is the run's, with the embodiment's evaluation termination thresholds (``mm_rl.envs.task_config``) and no
time limit. The errors are
the env's own (``info["tracking"]``, computed from the same reference tensors and root offsets as the reward),
summed per world on the device over every step of the episode, the failing step included, and averaged here.
Metrics per motion (overall: coverage frame-weighted, errors step-weighted; README, "Evaluation metrics"):

- ``early_termination_rate``: 1 if the episode failed before the motion's end (the reference's ET rate);
- ``frame_coverage``: frames tracked / frames to track (clip frames - 1), the failing step not counted;
- ``site_error_rel_m``: mean Euclidean distance of the non-main sites' positions relative to the main site from
  the reference's (the reference's relative site error);
- ``site_error_abs_m``: mean Euclidean distance of the world-frame site positions (reference moved by the root xy
  offset applied at reset) (the reference's absolute site error);
- ``site_rmse_rel_m``, ``site_rmse_abs_m``: root mean square of the same distances (over steps and sites);
- ``joint_error_rad``: mean absolute error of the non-root joint positions;
- ``root_error_m``: mean distance of the root position (0 for fixed roots); ``root_rot_error_rad``: mean angle
  between the root (main site for fixed roots) orientation and the reference's;
- ``frames`` (frames to track) and ``steps`` (steps taken).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mm_core import EvalReport, MotionClip
from mm_rl.config import TrainConfig, config_from_dict
from mm_rl.envs import make_env
from mm_rl.policy import ActorCritic

#: ``info["tracking"]`` key -> metric name (mean over steps; ``_sq_m2`` ones become root mean squares).
_MEAN_ERRORS = {
    "site_rel_m": "site_error_rel_m",
    "site_abs_m": "site_error_abs_m",
    "joint_rad": "joint_error_rad",
    "root_pos_m": "root_error_m",
    "root_rot_rad": "root_rot_error_rad",
}
_RMS_ERRORS = {"site_rel_sq_m2": "site_rmse_rel_m", "site_abs_sq_m2": "site_rmse_abs_m"}


def eval_config(cfg: TrainConfig, backend: str | None) -> TrainConfig:
    """A copy of the run's config for evaluation: no time limit, ``backend`` if given (the thresholds are
    ``make_env(..., evaluation=True)``'s)."""
    import copy

    cfg = copy.deepcopy(cfg)
    # Evaluation runs whole clips: no time limit shorter than the longest motion.
    cfg.task.horizon = 10**9
    if backend:
        cfg.backend = backend
    return cfg


def rollout_first_episodes(policy: ActorCritic, env: Any, record: bool = False) -> list[dict[str, Any]]:
    """One deterministic episode per world, all in one batch: world ``i`` runs clip ``i % num_clips`` from its
    first frame (``env.reset(clips=...)``) until it fails or reaches the clip's last frame.

    Returns per world ``{"metrics": {...}}`` (module docstring) and, with ``record``, ``"trajectory"``:
    ``qpos (K, nq)``, ``act (K, na)``, ``frame (K,)`` of the state before each of its K steps (the first is the
    start pose), copied out of the simulator's buffers, and ``site_abs_m (K,)``: the env's absolute site error of
    the state after each step.
    """
    n, lib, dev = env.num_envs, env.motions, env.device
    obs = env.reset(clips=torch.arange(n, device=dev) % lib.num_clips)
    clip = env.clip.clone()
    active = torch.ones(n, dtype=torch.bool, device=dev)
    steps = torch.zeros(n, dtype=torch.long, device=dev)
    terminated = torch.zeros(n, dtype=torch.bool, device=dev)
    sums: dict[str, torch.Tensor] = {}
    rec: dict[str, list[torch.Tensor]] = {"qpos": [], "act": [], "frame": [], "site_abs_m": []}
    for _ in range(int(lib.clip_len.max())):  # an episode takes at most clip frames - 1 steps
        if record:
            # clone: on the C MuJoCo backend qpos is a float64 view of the simulator's buffer.
            rec["qpos"].append(env.sim.qpos.detach().to("cpu", torch.float64, copy=True))
            rec["act"].append(env.sim.act.detach().to("cpu", torch.float64, copy=True))
            rec["frame"].append(env.frame.to("cpu", copy=True))
        obs, _, term, trunc, info = env.step(policy.act(obs, deterministic=True))
        if record:
            rec["site_abs_m"].append(info["tracking"]["site_abs_m"].to("cpu", torch.float64, copy=True))
        for k, v in info["tracking"].items():
            sums[k] = sums.get(k, 0) + torch.where(active, v.to(torch.float64), 0.0)
        steps += active
        terminated |= active & term
        active &= ~(term | trunc)
        if not bool(active.any()):
            break
    steps_np, term_np = steps.cpu().numpy(), terminated.cpu().numpy()
    sums_np = {k: v.cpu().numpy() for k, v in sums.items()}
    lengths = lib.clip_len[clip].cpu().numpy()
    out = []
    for i in range(n):
        total, k = int(lengths[i]) - 1, int(steps_np[i])  # every episode takes >= 1 step
        tracked = k - 1 if term_np[i] else k  # a failing step does not count as tracked
        metrics = {
            "early_termination_rate": float(term_np[i]),
            "frame_coverage": min(tracked, total) / total,
        }
        metrics |= {name: float(sums_np[key][i] / k) for key, name in _MEAN_ERRORS.items()}
        metrics |= {name: float(np.sqrt(sums_np[key][i] / k)) for key, name in _RMS_ERRORS.items()}
        metrics |= {"frames": float(total), "steps": float(k)}
        item: dict[str, Any] = {"metrics": metrics}
        if record:
            item["trajectory"] = {key: torch.stack(v)[:k, i].numpy() for key, v in rec.items()}
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
    for path, clip, res in zip(motion_paths, clips, rollout_first_episodes(policy, env), strict=True):
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
    steps = np.array([m["steps"] for m in ms])
    for k in _MEAN_ERRORS.values():
        out[k] = float((np.array([m[k] for m in ms]) * steps).sum() / steps.sum())
    for k in _RMS_ERRORS.values():
        out[k] = float(np.sqrt((np.array([m[k] for m in ms]) ** 2 * steps).sum() / steps.sum()))
    return out


def evaluate_checkpoint(
    path: str | Path, *, motions: list[str] | None = None, backend: str | None = None, device: str = "cpu"
) -> EvalReport:
    """Evaluate a checkpoint on ``motions`` (default: the motions it was trained on)."""
    from mm_rl.checkpoint import load_policy
    from mm_rl.motions import resolve_motion_paths

    policy, meta = load_policy(path, torch.device(device))
    cfg = config_from_dict(meta["config"], str(path))
    cfg.device = device
    paths = resolve_motion_paths(motions) if motions else [Path(p) for p in meta["motions"]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"{path}: its training motions are gone ({missing}); give --motions")
    return evaluate_policy(policy, cfg, paths, checkpoint=meta["path"], backend=backend)

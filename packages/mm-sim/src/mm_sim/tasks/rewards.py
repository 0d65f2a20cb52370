"""Reward and penalty terms of the imitation task, published through the ``mm_reward_terms`` hook.

A term is ``f(env, **params) -> tensor (N,)``. Tracking terms return exp(-k * d) with d a mean squared error
(mean over all compared elements) between the state after the step (``env.cur``) and the reference frame k+1
(``env.ref``), both :class:`~mm_sim.tasks.state.TaskState`; ``k`` and the default weight are the record's; penalty terms return a cost >= 0 that the task subtracts (times its weight, floored). Light at
import: only tensor methods are used, so the plugin can list these without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_core.records import RewardTerm

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().flatten(1).mean(1)


def qpos(env: Any, k: float) -> torch.Tensor:
    """Joint positions. A free root, as in the reference: d = mean squared error over the qpos elements that are
    not its quaternion (root position and joints) + the angle (rad) between the root orientations."""
    import torch

    cur, ref = env.cur, env.ref
    if not env.free_root:
        return (-k * _mse(cur.qpos, ref.qpos)).exp()
    d = _mse(torch.cat((cur.root_pos, cur.qpos[:, 7:]), 1), torch.cat((ref.root_pos, ref.qpos[:, 7:]), 1))
    return (-k * (d + env.root_angle_error())).exp()


def qvel(env: Any, k: float) -> torch.Tensor:
    """Joint velocities (all nv, root included)."""
    return (-k * _mse(env.cur.qvel, env.ref.qvel)).exp()


def root_pos(env: Any, k: float) -> torch.Tensor:
    """Root position (free root; root xy of the reference moved like the world's at reset)."""
    return (-k * _mse(env.cur.root_pos, env.ref.root_pos)).exp()


def root_vel(env: Any, k: float) -> torch.Tensor:
    """Root velocity in the root frame: linear (3) and angular (3) (free root)."""
    return (-k * _mse(env.cur.root_vel_local, env.ref.root_vel_local)).exp()


def site_pos(env: Any, k: float) -> torch.Tensor:
    """Positions of the tracked sites relative to the main site (world axes)."""
    return (-k * _mse(env.cur.rel_pos, env.ref.rel_pos)).exp()


def site_rot(env: Any, k: float) -> torch.Tensor:
    """Orientations relative to the main site: squared angle between current and reference, over 3 elements."""
    return (-k * env.site_rot_error().square().mean(1) / 3).exp()


def _main_frame(vec: torch.Tensor, mat: torch.Tensor) -> torch.Tensor:
    """World-axis vectors vec (N, K, 3) in the frame of the main site, mat = its orientation (N, 3, 3)."""
    from mm_sim.rotations import vec_mat

    return vec_mat(vec, mat.unsqueeze(1))  # row vector times R = (R^T v)^T


def site_angvel(env: Any, k: float) -> torch.Tensor:
    """Angular velocities of the sites relative to the main site, in the main site's frame (as the reference)."""
    cur, ref = env.cur, env.ref
    a, b = _main_frame(cur.rel_angvel, cur.site_mat[:, 0]), _main_frame(ref.rel_angvel, ref.site_mat[:, 0])
    return (-k * _mse(a, b)).exp()


def site_linvel(env: Any, k: float) -> torch.Tensor:
    """Linear velocities of the sites relative to the main site, in the main site's frame (as the reference)."""
    cur, ref = env.cur, env.ref
    a, b = _main_frame(cur.rel_linvel, cur.site_mat[:, 0]), _main_frame(ref.rel_linvel, ref.site_mat[:, 0])
    return (-k * _mse(a, b)).exp()


def action_out_of_range(env: Any) -> torch.Tensor:
    """Cost sum(excess^2) / nu of the raw actions outside [-1, 1]."""
    return (env.actions.abs() - 1).clamp_min(0).square().mean(1)


def action_rate(env: Any) -> torch.Tensor:
    """Cost mean((a_t - a_{t-1})^2) of the clipped actions (off by default)."""
    return (env.ctrl_action - env.prev_ctrl_action).square().mean(1)


def activation_energy(env: Any) -> torch.Tensor:
    """Cost mean(act^2) of the muscle activations (off by default)."""
    return env.cur.act.square().mean(1)


BUILTIN: list[RewardTerm] = [
    RewardTerm(name="qpos", fn=qpos, weight=0.1, params={"k": 10.0}, description=qpos.__doc__ or ""),
    RewardTerm(name="qvel", fn=qvel, weight=0.1, params={"k": 2.0}, description=qvel.__doc__ or ""),
    RewardTerm(
        name="root_pos", fn=root_pos, weight=0.1, params={"k": 10.0}, description=root_pos.__doc__ or ""
    ),
    RewardTerm(
        name="root_vel", fn=root_vel, weight=0.1, params={"k": 10.0}, description=root_vel.__doc__ or ""
    ),
    RewardTerm(
        name="site_pos", fn=site_pos, weight=0.6, params={"k": 100.0}, description=site_pos.__doc__ or ""
    ),
    RewardTerm(
        name="site_rot", fn=site_rot, weight=0.01, params={"k": 10.0}, description=site_rot.__doc__ or ""
    ),
    RewardTerm(
        name="site_angvel",
        fn=site_angvel,
        weight=0.1,
        params={"k": 0.1},
        description=site_angvel.__doc__ or "",
    ),
    RewardTerm(
        name="site_linvel",
        fn=site_linvel,
        weight=0.1,
        params={"k": 0.1},
        description=site_linvel.__doc__ or "",
    ),
    RewardTerm(
        name="action_out_of_range",
        fn=action_out_of_range,
        weight=0.01,
        description="penalty: " + (action_out_of_range.__doc__ or ""),
    ),
    RewardTerm(
        name="action_rate", fn=action_rate, weight=0.01, description="penalty: " + (action_rate.__doc__ or "")
    ),
    RewardTerm(
        name="activation_energy",
        fn=activation_energy,
        weight=0.01,
        description="penalty: " + (activation_energy.__doc__ or ""),
    ),
]

"""Observation terms, published through the ``mm_observation_terms`` hook: ``f(env) -> float tensor (N, k)``.

The policy sees the terms of ``TaskConfig.observations`` concatenated in that order (default per root type:
``mm_sim.tasks.config.OBSERVATIONS``). Terms read ``env.cur`` (:class:`~mm_sim.tasks.state.TaskState`), ``env.sim``
and ``env.motions``.

With ``config.heading_invariant`` (free roots) every world-axis vector (root linear velocity, site offsets and
velocities, reference offsets, root deltas) is rotated into the root's heading frame, so the same motion seen
facing another way gives the same observation. Fixed roots have no root terms; sites are relative to the main site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_core.records import ObservationTerm
from mm_sim.rotations import mat_log

if TYPE_CHECKING:  # pragma: no cover
    import torch


def root(env: Any) -> torch.Tensor:
    """Root height and orientation quaternion (heading removed when heading-invariant) (N, 5); free roots only."""
    import torch

    c = env.cur
    return torch.cat((c.root_pos[:, 2:3], env.root_quat_obs()), 1)


def joint_pos(env: Any) -> torch.Tensor:
    """Positions of the non-root joints (N, nq - 7 | nq)."""
    return env.cur.qpos[:, 7:] if env.free_root else env.cur.qpos


def root_vel(env: Any) -> torch.Tensor:
    """Root linear velocity (world or heading axes) and angular velocity (root frame) (N, 6); free roots only."""
    import torch

    v = env.cur.qvel
    return torch.cat((env.to_heading(v[:, :3]), v[:, 3:6]), 1)


def joint_vel(env: Any) -> torch.Tensor:
    """Velocities of the non-root joints (N, nv - 6 | nv)."""
    return env.cur.qvel[:, 6:] if env.free_root else env.cur.qvel


def muscles(env: Any) -> torch.Tensor:
    """Per actuator [length, velocity, force, ctrl, act] (N, nu * 5); act is 0 for actuators without activation."""
    import torch

    s = env.sim
    act = torch.cat((s.act, s.act.new_zeros(s.act.shape[0], 1)), 1)[:, env.act_index]
    x = torch.stack((s.actuator_length, s.actuator_velocity, s.actuator_force, s.ctrl, act), 2)
    return x.flatten(1).to(torch.float32)


def touch(env: Any) -> torch.Tensor:
    """The embodiment's touch sensors (N, n_touch)."""
    import torch

    return env.sim.sensordata[:, env.touch_adr].to(torch.float32)


def sites(env: Any) -> torch.Tensor:
    """Per non-main site: position, rotation vector, angular and linear velocity relative to the main site (N,
    (S - 1) * 12)."""
    import torch

    c = env.cur
    rv, _ = mat_log(c.rel_mat)
    vec = env.to_heading(torch.cat((c.rel_pos, c.rel_angvel, c.rel_linvel), 1))
    s = c.rel_pos.shape[1]
    return torch.cat((vec[:, :s], rv, vec[:, s : 2 * s], vec[:, 2 * s :]), 2).flatten(1)


def lookahead(env: Any) -> torch.Tensor:
    """Reference site positions relative to the main site at each lookahead time (N, L * (S - 1) * 3), then for
    free roots, at the later lookahead times, the reference's root position (3) and velocity (6) minus the
    reference's at the current frame (as the reference does: where the motion goes, not how far the body is off;
    the body's own root state is in ``root`` and ``root_vel``)."""
    import torch

    lib, idx = env.motions, env.lookahead_index()  # (N, L)
    n = idx.shape[0]
    rel = env.to_heading(lib.rel_pos[idx].flatten(1, 2)).flatten(1)
    if not env.free_root:
        return rel
    later, now = idx[:, 1:], (lib.clip_start[env.clip] + env.frame).unsqueeze(1)
    dpos = lib.qpos[later][..., :3] - lib.qpos[now][..., :3]
    dvel = lib.qvel[later][..., :6] - lib.qvel[now][..., :6]
    lin = env.to_heading(torch.cat((dpos, dvel[..., :3]), 1))
    k = later.shape[1]
    return torch.cat((rel, torch.cat((lin[:, :k], lin[:, k:], dvel[..., 3:]), 2).reshape(n, -1)), 1)


def phase(env: Any) -> torch.Tensor:
    """Progress through the clip, frame / (frames - 1), in [0, 1] (N, 1)."""
    return (env.frame.float() / (env.motions.clip_len[env.clip] - 1).float()).unsqueeze(1)


BUILTIN: list[ObservationTerm] = [
    ObservationTerm(name=f.__name__, fn=f, description=f.__doc__ or "")
    for f in (root, joint_pos, root_vel, joint_vel, muscles, touch, sites, lookahead, phase)
]
"""The built-in observation terms (the default layouts per root type: ``mm_sim.tasks.config.OBSERVATIONS``)."""

"""What a task term reads: :class:`TaskState`, the compared quantities of the simulated state and of its reference.

While the terms run, ``env.cur`` holds the state after the physics step and ``env.ref`` the reference frame it is
compared with (frame k+1 of the world's clip), both as a :class:`TaskState`; between steps both are None. Shapes
are world-first, float32, on the env's device: ``N`` worlds, ``S`` tracked sites (``spec.tracked_sites``, the main
site first), ``nq`` / ``nv`` / ``na`` the model's sizes. Besides these, a term may read ``env.sim`` (the backend's
tensors: ``qpos``, ``sensordata``, ``actuator_force``, ...; see ``mm_sim.backends.base.BatchedSim``), ``env.motions``
(the motion library: per-frame reference arrays indexed by ``env.motions.clip_start[env.clip] + env.frame``), and
``env.actions`` / ``env.ctrl_action`` (N, nu).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(kw_only=True, eq=False)
class TaskState:
    """The compared quantities of one side (``env.cur``: simulation; ``env.ref``: reference), world-first."""

    qpos: torch.Tensor
    """Joint positions (N, nq); for the reference of a free root, the root xy moved like the world's at reset."""
    qvel: torch.Tensor
    """Joint velocities (N, nv) (free root: linear velocity in world axes, angular in the root frame)."""
    site_pos: torch.Tensor
    """Tracked site positions in world axes (N, S, 3); reference root xy moved like the world's at reset."""
    site_mat: torch.Tensor
    """Tracked site orientations (N, S, 3, 3), rotation matrices (site frame -> world)."""
    rel_pos: torch.Tensor
    """Non-main site positions minus the main site's, world axes (N, S-1, 3)."""
    rel_mat: torch.Tensor
    """Non-main site orientations in the main site's frame, R_main^T R_site (N, S-1, 3, 3)."""
    rel_linvel: torch.Tensor
    """Non-main site linear velocities minus the main site's, world axes (N, S-1, 3)."""
    rel_angvel: torch.Tensor
    """Non-main site angular velocities minus the main site's, world axes (N, S-1, 3)."""
    act: torch.Tensor | None = None
    """Muscle activations (N, na); simulation side only (None for the reference)."""
    root_pos: torch.Tensor | None = None
    """Free root position (N, 3) (reference: xy moved like the world's at reset); None for fixed roots."""
    root_quat: torch.Tensor | None = None
    """Free root orientation quaternion (N, 4), (w, x, y, z); None for fixed roots."""
    root_vel_local: torch.Tensor | None = None
    """Free root linear (3) and angular (3) velocity in the root frame (N, 6); None for fixed roots."""
    yaw: torch.Tensor | None = None
    """Root heading angle about world z (N,), rad; simulation side of a heading-invariant free root, else None."""
    heading: tuple[torch.Tensor, torch.Tensor] | None = None
    """(cos yaw, sin yaw), each (N,), with ``yaw``; ``env.to_heading`` rotates world vectors by it."""

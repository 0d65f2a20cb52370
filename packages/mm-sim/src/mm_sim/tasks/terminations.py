"""Termination (failure) terms, published through the ``mm_termination_terms`` hook: ``f(env, **params) -> bool
tensor (N,)``, comparing ``env.cur`` (the state after the step) with ``env.ref`` (frame k+1), both
:class:`~mm_sim.tasks.state.TaskState`. Their default ``threshold`` is the record's ``params``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_core.records import TerminationTerm

if TYPE_CHECKING:  # pragma: no cover
    import torch


def site_rel_error(env: Any, threshold: float) -> torch.Tensor:
    """Mean over the non-main sites of |site position relative to the main site - reference| > threshold (m)."""
    return (env.cur.rel_pos - env.ref.rel_pos).norm(dim=-1).mean(1) > threshold


def root_pos_error(env: Any, threshold: float) -> torch.Tensor:
    """|main site position - reference| > threshold (m), reference root xy moved like the world's at reset."""
    return (env.cur.site_pos[:, 0] - env.ref.site_pos[:, 0]).norm(dim=-1) > threshold


def root_rot_error(env: Any, threshold: float) -> torch.Tensor:
    """Angle between the root orientation and the reference's > threshold (rad)."""
    return env.root_angle_error() > threshold


def site_abs_error(env: Any, threshold: float) -> torch.Tensor:
    """Mean over all tracked sites of |site position - reference| (world frame) > threshold (m)."""
    return (env.cur.site_pos - env.ref.site_pos).norm(dim=-1).mean(1) > threshold


BUILTIN: list[TerminationTerm] = [
    TerminationTerm(name=f.__name__, fn=f, params={"threshold": t}, description=f.__doc__ or "")
    for f, t in ((site_rel_error, 1.0), (root_pos_error, 1.0), (root_rot_error, 1.0), (site_abs_error, 0.25))
]
"""The built-in termination terms, with their default thresholds (m, m, rad, m)."""

"""Termination (failure) terms: ``f(env, **params) -> bool tensor (N,)``, compared after the step with frame k+1."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch


def site_rel_error(env: Any, threshold: float = 1.0) -> torch.Tensor:
    """Mean over the non-main sites of |site position relative to the main site - reference| > threshold (m)."""
    return (env.cur.rel_pos - env.ref.rel_pos).norm(dim=-1).mean(1) > threshold


def root_pos_error(env: Any, threshold: float = 1.0) -> torch.Tensor:
    """|main site position - reference| > threshold (m), reference root xy moved like the world's at reset."""
    return (env.cur.site_pos[:, 0] - env.ref.site_pos[:, 0]).norm(dim=-1) > threshold


def root_rot_error(env: Any, threshold: float = 1.0) -> torch.Tensor:
    """Angle between the root orientation and the reference's > threshold (rad)."""
    return env.root_angle_error() > threshold


def site_abs_error(env: Any, threshold: float = 0.05) -> torch.Tensor:
    """Mean over all tracked sites of |site position - reference| (world frame) > threshold (m)."""
    return (env.cur.site_pos - env.ref.site_pos).norm(dim=-1).mean(1) > threshold


TERMINATIONS: dict[str, Callable[..., Any]] = {
    "site_rel_error": site_rel_error,
    "root_pos_error": root_pos_error,
    "root_rot_error": root_rot_error,
    "site_abs_error": site_abs_error,
}
"""Built-in termination terms by name (``TaskConfig.terminations`` refers to them; add yours here by key)."""

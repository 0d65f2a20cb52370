"""Batched rotation helpers in torch (quaternions w-x-y-z, rotation matrices (..., 3, 3))."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


def quat_to_mat(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) of unit quaternions q: w-x-y-z (..., 4)."""
    import torch

    w, x, y, z = q.unbind(-1)
    return torch.stack(
        (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ),
        -1,
    ).reshape(q.shape[:-1] + (3, 3))  # fmt: skip


def mat_tmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a^T b of 3x3 matrices a, b (..., 3, 3) (broadcast), as products and sums: one fused kernel when compiled,
    where ``a.mT @ b`` is an external batched-matmul call per product."""
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(-3)


def vec_mat(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Row vectors v (..., 3) times 3x3 matrices m (..., 3, 3) (broadcast): ``v @ m`` = m^T v, as products and
    sums (fused when compiled, like :func:`mat_tmul`)."""
    return (v.unsqueeze(-1) * m).sum(-2)


def mat_log(r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation vector and angle of rotation matrices r (..., 3, 3): (rotvec (..., 3), angle (...)).

    The angle uses atan2(|sin|, cos), accurate everywhere; the axis degrades only near pi, where it is ambiguous.
    """
    import torch

    s = 0.5 * torch.stack(
        (r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]), -1
    )
    sin = s.norm(dim=-1)
    cos = 0.5 * (r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2] - 1)
    angle = torch.atan2(sin, cos)
    # angle / sin(angle) -> 1 at 0; clamp keeps the division finite where both vanish.
    scale = torch.where(sin > 1e-6, angle / sin.clamp_min(1e-12), 1.0 + angle * angle / 6)
    return s * scale.unsqueeze(-1), angle


def yaw_inverse(vec: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate world vectors vec (N, ..., 3) by minus the heading given as cos, sin (N,): world -> heading frame."""
    import torch

    shape = (-1,) + (1,) * (vec.dim() - 2)
    c, s = cos.reshape(shape), sin.reshape(shape)
    x, y, z = vec.unbind(-1)
    return torch.stack((c * x + s * y, c * y - s * x, z), -1)


def quat_angle(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """Angle (rad) of the rotation between unit quaternions q1 and q2 (..., 4) -> (...).

    2 atan2(|v|, |w|) of q1^-1 q2 = (w, v): unlike 2 acos(|q1 . q2|) it stays accurate near 0 in float32."""
    import torch

    w1, v1, w2, v2 = q1[..., :1], q1[..., 1:], q2[..., :1], q2[..., 1:]
    w = (q1 * q2).sum(-1)
    v = w1 * v2 - w2 * v1 - torch.linalg.cross(v1, v2)
    return 2 * torch.atan2(v.norm(dim=-1), w.abs())

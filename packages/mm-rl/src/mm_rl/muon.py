"""A small Muon (momentum + Newton-Schulz orthogonalisation) for PyTorch versions without ``torch.optim.Muon``.

Same update as torch's (Nesterov momentum, 5 quintic Newton-Schulz steps, learning rate scaled by
``0.2 * sqrt(max(A, B))`` to match AdamW's update RMS); :func:`make_muon` prefers torch's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalise(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximately U V^T of g = U S V^T (g: (A, B)) by a quintic Newton-Schulz iteration."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(torch.bfloat16 if g.is_cuda else torch.float32)
    wide = x.shape[0] > x.shape[1]
    if wide:
        x = x.T
    x = x / (x.norm() + eps)  # spectral norm <= Frobenius norm <= 1
    for _ in range(steps):
        xx = x @ x.T
        x = a * x + (b * xx + c * xx @ xx) @ x
    return (x.T if wide else x).to(g.dtype)


class SmallMuon(torch.optim.Optimizer):
    """Muon for 2-D parameters (no weight decay)."""

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float = 1e-3, momentum: float = 0.95, ns_steps: int = 5
    ):
        super().__init__(params, dict(lr=lr, momentum=momentum, ns_steps=ns_steps))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201 - torch's Optimizer signature
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.ndim != 2:
                    raise ValueError(f"Muon handles 2-D parameters only, got shape {tuple(p.shape)}")
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.lerp_(p.grad, 1 - group["momentum"])
                update = p.grad.lerp(buf, group["momentum"])  # Nesterov
                scale = 0.2 * math.sqrt(max(p.shape))
                p.add_(orthogonalise(update, group["ns_steps"]), alpha=-group["lr"] * scale)


def make_muon(params: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    """torch.optim.Muon when this torch has it, else :class:`SmallMuon` (same update rule)."""
    if hasattr(torch.optim, "Muon"):
        return torch.optim.Muon(
            params, lr=lr, weight_decay=0.0, momentum=0.95, nesterov=True, adjust_lr_fn="match_rms_adamw"
        )
    return SmallMuon(params, lr=lr)

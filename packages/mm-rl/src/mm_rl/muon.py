"""A small Muon (momentum + Newton-Schulz orthogonalisation) for PyTorch versions without ``torch.optim.Muon``.

Same update as torch's (Nesterov momentum, 5 quintic Newton-Schulz steps); :func:`make_muon` prefers torch's own.
The orthogonalised update of a weight ``(rows, cols)`` has singular values ~1, so its per-element size depends on
the shape; the learning rate is multiplied by one of two factors (:data:`LR_SCALES`):

- ``"reference"``: ``sqrt(max(1, rows / cols))``, Keller Jordan's Muon, which the reference uses (torch's
  ``adjust_lr_fn="original"``);
- ``"match_adamw"``: ``0.2 * sqrt(max(rows, cols))``, scaled to AdamW's update RMS (torch's ``"match_rms_adamw"``);
  6.4x the reference's step for a 1024 x 1024 layer, 9.8x for the 1024 x 2418 input layer of MyoFullBody.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)

#: Learning-rate scaling name -> (torch's ``adjust_lr_fn``, factor for a weight of shape (rows, cols)).
LR_SCALES = {
    "reference": ("original", lambda rows, cols: math.sqrt(max(1.0, rows / cols))),
    "match_adamw": ("match_rms_adamw", lambda rows, cols: 0.2 * math.sqrt(max(rows, cols))),
}


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
    """Muon for 2-D parameters (no weight decay); ``lr_scale`` names the shape scaling (:data:`LR_SCALES`)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        momentum: float = 0.95,
        ns_steps: int = 5,
        lr_scale: str = "reference",
    ):
        if lr_scale not in LR_SCALES:
            raise ValueError(f"Muon lr_scale {lr_scale!r}: valid are {sorted(LR_SCALES)}")
        super().__init__(params, dict(lr=lr, momentum=momentum, ns_steps=ns_steps, lr_scale=lr_scale))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201 - torch's Optimizer signature
        for group in self.param_groups:
            factor = LR_SCALES[group["lr_scale"]][1]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.ndim != 2:
                    raise ValueError(f"Muon handles 2-D parameters only, got shape {tuple(p.shape)}")
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.lerp_(p.grad, 1 - group["momentum"])
                update = p.grad.lerp(buf, group["momentum"])  # Nesterov
                alpha = -group["lr"] * factor(*p.shape)
                p.add_(orthogonalise(update, group["ns_steps"]), alpha=alpha)


def make_muon(params: list[torch.Tensor], lr: float, lr_scale: str = "reference") -> torch.optim.Optimizer:
    """torch.optim.Muon when this torch has it, else :class:`SmallMuon` (same update rule)."""
    if lr_scale not in LR_SCALES:
        raise ValueError(f"ppo.muon_lr_scale {lr_scale!r}: valid are {sorted(LR_SCALES)}")
    if hasattr(torch.optim, "Muon"):
        return torch.optim.Muon(
            params,
            lr=lr,
            weight_decay=0.0,
            momentum=0.95,
            nesterov=True,
            adjust_lr_fn=LR_SCALES[lr_scale][0],
        )
    return SmallMuon(params, lr=lr, lr_scale=lr_scale)

"""The training budget in updates and the learning-rate schedule over it."""

from __future__ import annotations

import math

from mm_rl.config import TrainConfig


def budget_updates(cfg: TrainConfig, per_update: int) -> int | None:
    """PPO updates the budget allows (``max_updates``, ``max_samples`` / samples per update), None if only time."""
    caps = []
    if cfg.max_updates is not None:
        caps.append(cfg.max_updates)
    if cfg.max_samples is not None:
        caps.append(math.ceil(cfg.max_samples / per_update))
    return min(caps) if caps else None


def lr_at(cfg: TrainConfig, update: int, total_updates: int | None, elapsed_s: float) -> float:
    """Learning rate for PPO update ``update`` (0-based): ``ppo.lr``, decayed linearly to 0 over the update budget
    (``total_updates``) or, with only a time budget, over ``max_minutes`` of training time ``elapsed_s``."""
    if not cfg.ppo.lr_decay:
        return cfg.ppo.lr
    if total_updates:
        frac = update / total_updates
    elif cfg.max_minutes:
        frac = elapsed_s / (60 * cfg.max_minutes)
    else:
        frac = 0.0
    return cfg.ppo.lr * max(1.0 - frac, 0.0)

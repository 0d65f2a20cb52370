"""The imitation task as terms: observations, rewards (``mm_reward_terms``), terminations, and its config."""

from __future__ import annotations

from mm_sim.tasks.config import TaskConfig, TermCfg

__all__ = ["TaskConfig", "TermCfg"]

"""The imitation task as terms: observations, rewards, terminations (each published through its ``mm_*_terms``
hook), what they read (``TaskState``) and the task config with its defaults."""

from __future__ import annotations

from mm_sim.tasks.config import TaskConfig, TermCfg, coerce_term
from mm_sim.tasks.state import TaskState

__all__ = ["TaskConfig", "TaskState", "TermCfg", "coerce_term"]

"""mm-rl: PPO training of imitation policies (``mm train``, ``mm eval``, ``mm render``).

The public API, the names other packages import (from here only; loaded on first use, so ``import mm_rl`` stays
light):

- ``load_policy(path, device) -> (policy, meta)``: a run's or checkpoint's policy (eval mode) and its meta;
  ``load_checkpoint(path, device) -> (tensors, meta)``; ``CheckpointError``;
- ``TrainConfig``, ``config_from_dict(data) -> TrainConfig`` (a run's ``config.json`` / ``meta["config"]``);
- ``task_config(source, *, evaluation=False) -> TaskConfig``: a run's task (source: a TrainConfig or a checkpoint's
  meta dict), or the one evaluation uses;
- ``make_env(cfg, motion_paths, device, seed, num_worlds=None, evaluation=False)``: mm-sim's env for a run;
- ``eval_config(cfg, backend)``, ``rollout_first_episodes(policy, env, record=False)``: ``mm eval``'s rollout;
- ``resolve_motion_paths(items)``; ``GHOST_OFFSET``, ``activation_rgba(act)``: ``mm render``'s reference ghost
  and muscle colours.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public name -> (module, attribute).
_API = {
    "load_policy": ("mm_rl.checkpoint", "load_policy"),
    "load_checkpoint": ("mm_rl.checkpoint", "load"),
    "CheckpointError": ("mm_rl.checkpoint", "CheckpointError"),
    "TrainConfig": ("mm_rl.config", "TrainConfig"),
    "config_from_dict": ("mm_rl.config", "config_from_dict"),
    "task_config": ("mm_rl.envs", "task_config"),
    "make_env": ("mm_rl.envs", "make_env"),
    "eval_config": ("mm_rl.evaluate", "eval_config"),
    "rollout_first_episodes": ("mm_rl.evaluate", "rollout_first_episodes"),
    "resolve_motion_paths": ("mm_rl.motions", "resolve_motion_paths"),
    "GHOST_OFFSET": ("mm_rl.render", "GHOST_OFFSET"),
    "activation_rgba": ("mm_rl.render", "activation_rgba"),
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(
            f"module 'mm_rl' has no attribute {name!r}; its public API: {', '.join(__all__)}"
        )
    module, attr = _API[name]
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""The environment of a run: its finished task config (training or evaluation) and mm-sim's env for it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mm_rl.config import TrainConfig, config_from_dict

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from mm_sim.tasks.config import TaskConfig


def task_config(source: TrainConfig | dict[str, Any], *, evaluation: bool = False) -> TaskConfig:
    """The task a run trained on: ``source`` is its TrainConfig or a checkpoint's meta dict (``load_policy``'s
    ``meta``, or ``load_checkpoint``'s; checkpoints written before the task was typed included). A copy: changing
    it leaves ``source`` alone.

    ``evaluation``: the task that evaluation (``mm eval``, ``mm render``, ``mm view``) judges failure by. Rule:
    the run's terminations, where each term that the embodiment names in ``spec.task.eval_terminations`` is
    replaced (or added) by that entry (as ``TaskConfig.for_embodiment(spec, evaluation=True)`` reads it). So the
    embodiment's evaluation thresholds always apply and the evaluations of runs trained with different thresholds
    compare; every other termination, observation and reward of the run stays as it trained.
    """
    cfg = source if isinstance(source, TrainConfig) else _meta_config(source)
    task = copy.deepcopy(cfg.task)
    if evaluation:
        from mm_core import get_embodiment
        from mm_sim.tasks.config import TaskConfig

        spec = get_embodiment(cfg.embodiment)
        evaluated = TaskConfig.for_embodiment(spec, evaluation=True).terminations
        for name in spec.task.eval_terminations or {}:
            task.terminations[name] = evaluated[name]
    return task


def _meta_config(meta: dict[str, Any]) -> TrainConfig:
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise TypeError(
            "task_config(source): give a TrainConfig or a checkpoint's meta dict (with its 'config'), as "
            f"mm_rl.load_policy returns it; got {type(meta).__name__}"
        )
    return config_from_dict(meta["config"], str(meta.get("path", "checkpoint config")))


def make_env(
    cfg: TrainConfig,
    motion_paths: list[Path],
    device: torch.device | str,
    seed: int,
    num_worlds: int | None = None,
    evaluation: bool = False,
) -> Any:
    """mm-sim's ImitationEnv for a train config (``evaluation``: :func:`task_config`'s evaluation task)."""
    import mm_sim

    return mm_sim.make_env(
        cfg.embodiment,
        [str(p) for p in motion_paths],
        backend=cfg.backend,
        num_worlds=num_worlds or cfg.num_worlds,
        config=task_config(cfg, evaluation=evaluation),
        device=str(device),
        seed=seed,
    )


def initial_std(cfg: TrainConfig) -> float:
    """The policy's initial action std: ``policy.init_std``, else the embodiment's ``spec.task.initial_std``."""
    if cfg.policy.init_std is not None:
        return float(cfg.policy.init_std)
    from mm_core import get_embodiment

    return float(get_embodiment(cfg.embodiment).task.initial_std)

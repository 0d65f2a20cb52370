"""Training throughput: ``python -m mm_rl.bench --embodiment tiny --num-worlds 64 --updates 5``.

Runs real PPO updates in a temporary run dir and reports samples/s (rollout + update) with the time split:
physics (the backend's control steps, timed on their own afterwards for the same number of steps), task
(``env.step`` minus physics: observations, rewards, resets), policy inference, and learning (GAE + update).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def bench(
    embodiment: str,
    num_worlds: int,
    updates: int,
    backend: str | None = None,
    motions: list[str] | None = None,
    overrides: list[str] | None = None,
    warmup: int = 1,
) -> dict[str, Any]:
    """Samples/s of ``updates`` PPO updates (after ``warmup`` untimed ones) and their time split (module doc)."""
    from mm_rl.config import resolve
    from mm_rl.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        if not motions:  # a kinematic test motion of the embodiment (every joint swings)
            motions = [str(_sinusoid_motion(embodiment, Path(tmp)))]
        cfg = resolve(
            embodiment, None, overrides or [], num_worlds=num_worlds, backend=backend, motions=motions
        )
        cfg.max_updates = warmup + updates
        cfg.checkpoint_every = 10**9
        trainer = Trainer(cfg, Path(tmp) / "run", progress=False)
        for _ in range(warmup):  # first update pays for compilation and allocation
            trainer.step()
        rows = [trainer.step() for _ in range(updates)]
        physics = _physics_seconds(trainer.env.sim, cfg.ppo.num_steps * updates)
    return _summary(embodiment, num_worlds, trainer, cfg, rows, physics)


def _physics_seconds(sim: Any, steps: int) -> float:
    """Seconds of ``steps`` control steps of the backend alone: the best of two (other load only slows it)."""
    physics = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        for _ in range(steps):
            sim.step()
        physics = min(physics, time.perf_counter() - t0)
    return physics


def _summary(
    embodiment: str, num_worlds: int, trainer: Any, cfg: Any, rows: list[dict], physics: float
) -> dict[str, Any]:
    """The benchmark's figures from the timed updates' log rows and the physics time."""
    updates = len(rows)
    total = trainer.per_update * updates
    wall = sum(r["time_env"] + r["time_act"] + r["time_learn"] for r in rows)
    env_time = sum(r["time_env"] for r in rows)
    physics = min(physics, env_time)  # timed separately, so on a noisy machine it can exceed env.step
    act = sum(r["time_act"] for r in rows)
    learn = sum(r["time_learn"] for r in rows)
    return {
        "embodiment": embodiment,
        "backend": trainer.env.sim.name,
        "num_worlds": num_worlds,
        "num_steps": cfg.ppo.num_steps,
        "updates": updates,
        "samples": total,
        "samples_per_s": total / wall,
        "seconds": {
            "physics": physics,
            "task": env_time - physics,
            "policy": act,
            "learning": learn,
            "total": wall,
        },
        "fraction": {
            "physics": physics / wall,
            "task": (env_time - physics) / wall,
            "policy": act / wall,
            "learning": learn / wall,
        },
        "network": f"{cfg.policy.actor_depth} x {cfg.policy.actor_width}",
    }


def _sinusoid_motion(embodiment: str, tmp: Path) -> Path:
    from mm_core import get_embodiment
    from mm_sim.motion import sinusoid_clip

    spec = get_embodiment(embodiment)
    return sinusoid_clip(spec.compile(), spec, seconds=4.0).save(tmp / f"sinusoid_{embodiment}.npz")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m mm_rl.bench", description=__doc__)
    p.add_argument("--embodiment", "-e", default="tiny")
    p.add_argument("--num-worlds", "-n", type=int, default=64)
    p.add_argument("--updates", type=int, default=3)
    p.add_argument("--backend", default=None)
    p.add_argument("--motions", "-m", nargs="*", default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    a = p.parse_args(argv)
    print(
        json.dumps(bench(a.embodiment, a.num_worlds, a.updates, a.backend, a.motions, a.overrides), indent=2)
    )


if __name__ == "__main__":
    main()

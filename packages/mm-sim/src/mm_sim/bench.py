"""Throughput of the full imitation task vs raw physics, on the same backend, worlds and substeps.

``mm sim bench --embodiment E --backend B --worlds N --steps S [--json]`` or, on a bare GPU machine,
``python -m mm_sim.bench --embodiment E --backend warp --worlds 4096 --steps 200``. Steps/s count control steps
summed over worlds (env steps/s, as training throughput is counted). Task and raw physics alternate step by step
(on separate worlds of the same backend) so that load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from typing import Any


def run_bench(
    embodiment: str,
    backend: str | None,
    worlds: int,
    steps: int,
    *,
    motions: Sequence[str] | None = None,
    device: str | None = None,
    warmup: int = 3,
    seed: int = 0,
    compile: bool = True,
    torch_threads: int | None = 1,
) -> dict[str, Any]:
    import torch

    if torch_threads:
        # The physics threads own the cores; torch's intra-op pool on the same cores only adds sync overhead
        # to the small task tensors (4-8x slower ops on a 2-core machine).
        torch.set_num_threads(torch_threads)

    from mm_core import get_embodiment
    from mm_sim.backends import default_backend, make_sim
    from mm_sim.env import ImitationEnv
    from mm_sim.motion import sinusoid_clip
    from mm_sim.tasks.config import TaskConfig

    if worlds < 1 or steps < 1:
        raise ValueError(f"--worlds and --steps must be >= 1, got {worlds} and {steps}")
    spec = get_embodiment(embodiment)
    backend = backend or default_backend()
    t0 = time.perf_counter()
    clips: Sequence[Any] = (
        list(motions) if motions else [sinusoid_clip(spec.compile(), spec, seconds=10.0, seed=seed)]
    )
    config = TaskConfig.for_embodiment(spec, compile=compile)
    env = ImitationEnv(
        spec, clips, backend=backend, num_worlds=worlds, config=config, device=device, seed=seed
    )
    # Raw physics runs on its own worlds (same model, backend, count, initial state and ctrl sequence), so that
    # neither loop disturbs the other's state or solver warm start.
    raw = make_sim(backend, env.model, worlds, spec.physics, device)
    for f in ("qpos", "qvel", "act", "ctrl", "qacc_warmstart"):
        getattr(raw, f).copy_(getattr(env.sim, f))
    raw.forward()
    setup_s = time.perf_counter() - t0
    gen = torch.Generator(device=env.device).manual_seed(seed)
    bank = torch.rand((8, worlds, env.num_actions), generator=gen, device=env.device) * 2 - 1

    def sync() -> None:
        if env.device.type == "cuda":
            torch.cuda.synchronize(env.device)

    t0 = time.perf_counter()
    for i in range(warmup):  # kernel compilation, CUDA graph capture
        env.step(bank[i % len(bank)])
        raw.ctrl.copy_((bank[i % len(bank)] + 1) / 2)
        raw.physics_step()
    sync()
    warmup_s = time.perf_counter() - t0
    task_t: list[float] = []
    physics_t: list[float] = []
    done = 0
    for k in range(warmup, warmup + steps):
        a = bank[k % len(bank)]
        t0 = time.perf_counter()
        _, _, term, trunc, _ = env.step(a)
        done += int((term | trunc).sum())
        sync()
        t1 = time.perf_counter()
        raw.ctrl.copy_((a + 1) / 2)
        raw.physics_step()
        sync()
        task_t.append(t1 - t0)
        physics_t.append(time.perf_counter() - t1)
    task, physics = worlds * steps / sum(task_t), worlds * steps / sum(physics_t)
    # Medians of the per-step times resist load spikes from other processes on a shared machine.
    task_med, physics_med = worlds / statistics.median(task_t), worlds / statistics.median(physics_t)
    return {
        "embodiment": spec.name,
        "backend": backend,
        "device": str(env.device),
        "sim": env.sim.describe(),
        "worlds": worlds,
        "steps": steps,
        "substeps": spec.physics.substeps,
        "compile": compile,
        "num_obs": env.num_obs,
        "task_steps_per_s": round(task, 2),
        "physics_steps_per_s": round(physics, 2),
        "ratio": round(task / physics, 4),
        "task_steps_per_s_median": round(task_med, 2),
        "physics_steps_per_s_median": round(physics_med, 2),
        "ratio_median": round(task_med / physics_med, 4),
        "physics_substeps_per_s": round(physics * spec.physics.substeps, 1),
        "episodes_done": done,
        "nan_resets": env.nan_resets,
        "overflow_steps": env.sim.overflow_count,
        "physics_nonfinite": int(raw.nonfinite.sum()),
        "setup_s": round(setup_s, 2),
        "warmup_s": round(warmup_s, 2),
        "torch_threads": torch.get_num_threads(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m mm_sim.bench", description=__doc__.splitlines()[0])
    p.add_argument("--embodiment", default="tiny")
    p.add_argument("--backend", default=None, help="warp | mujoco (default: warp with CUDA, else mujoco)")
    p.add_argument("--worlds", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--motion", action="append", default=None, help="MotionClip .npz (repeatable)")
    p.add_argument("--device", default=None)
    p.add_argument("--eager", action="store_true", help="task maths without torch.compile")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    r = run_bench(
        a.embodiment, a.backend, a.worlds, a.steps, motions=a.motion, device=a.device, compile=not a.eager
    )
    print(json.dumps(r, indent=2) if a.json else "\n".join(f"{k}: {v}" for k, v in r.items()))


if __name__ == "__main__":
    main()

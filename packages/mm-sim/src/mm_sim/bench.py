"""Throughput of the full imitation task vs raw physics, on the same backend, worlds and substeps.

``mm sim bench --embodiment E --backend B --worlds N --steps S [--json]`` or, on a bare GPU machine,
``python -m mm_sim.bench --embodiment E --backend warp --worlds 4096 --steps 200``. Steps/s count control steps
summed over worlds (env steps/s, as training throughput is counted). Task and raw physics alternate step by step
(on separate worlds of the same backend) so that load from other processes hits both alike. On the ``mujoco``
backend a third loop, alternated with them, measures the CPU limit: C MuJoCo's own multithreaded rollout
(``mujoco.rollout.Rollout``) of the same model on as many threads, state arrays in and out, same controls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def check_memory(spec: Any, worlds: int, device: str | None) -> None:
    """Refuse a world count whose simulation state alone (MuJoCo's per-world buffers, a lower bound) exceeds the
    memory available on the device, with the estimate, instead of running out of memory part-way."""
    import mujoco

    per_world = mujoco.MjData(spec.compile()).nbuffer
    need = per_world * worlds
    if device is not None and device.startswith("cuda"):
        import torch

        free = torch.cuda.mem_get_info(torch.device(device))[0]
        where = f"free on {device}"
    else:
        try:
            meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
            free = int(meminfo["MemAvailable"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            return
        where = "available RAM"
    if need > 0.8 * free:
        raise ValueError(
            f"--worlds {worlds}: needs at least {need / 2**30:.3g} GiB ({per_world / 1024:.3g} KiB of simulation "
            f"state per world for {spec.name}), but only {free / 2**30:.3g} GiB is {where}; use at most "
            f"{int(0.8 * free / per_world)} worlds"
        )


class RolloutLimit:
    """``worlds`` simulations stepped by ``mujoco.rollout.Rollout(nthread=threads)``, ``substeps`` physics steps
    per control step, full physics state (``mjSTATE_FULLPHYSICS``) arrays in and out: nothing but MuJoCo's C
    stepping on a persistent thread pool, the most a C backend can reach on these threads."""

    def __init__(self, model: Any, qpos: Any, qvel: Any, act: Any, substeps: int, threads: int) -> None:
        import mujoco
        from mujoco import rollout

        self.model, self.substeps = model, substeps
        d = mujoco.MjData(model)
        spec = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)
        self.state = np.empty((len(qpos), mujoco.mj_stateSize(model, spec)))
        for i in range(len(qpos)):
            d.qpos[:], d.qvel[:], d.act[:] = qpos[i], qvel[i], act[i]
            mujoco.mj_getState(model, d, self.state[i], spec)
        self.out = np.empty((len(qpos), substeps, self.state.shape[1]))
        self.ctrl = np.empty((len(qpos), substeps, model.nu))
        self.pool = rollout.Rollout(nthread=threads)
        self.datas = [mujoco.MjData(model) for _ in range(threads)]

    def step(self, ctrl: np.ndarray) -> None:
        """One control step of every world with ``ctrl (worlds, nu)`` held over the substeps."""
        self.ctrl[:] = ctrl[:, None]
        self.pool.rollout(self.model, self.datas, self.state, self.ctrl, nstep=self.substeps, state=self.out)
        self.state[:] = self.out[:, -1]

    def close(self) -> None:
        self.pool.close()


@dataclass
class _Rig:
    """What the benchmark steps: the task env, raw physics on worlds of its own, the optional rollout limit
    (``mujoco`` backend), and the env's backend-step times (``sim_t``, one per control step)."""

    spec: Any
    backend: str
    env: Any
    raw: Any
    limit: RolloutLimit | None
    sim_t: list[float]

    def sync(self) -> None:
        if self.env.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.env.device)

    def step_others(self, ctrl: Any) -> None:
        """One control step of raw physics (and the limit) with the task's action mapped to ``ctrl`` in [0, 1]."""
        self.raw.ctrl.copy_((ctrl + 1) / 2)
        self.raw.physics_step()
        if self.limit is not None:
            self.limit.step(self.raw.ctrl.numpy())


@dataclass
class _Timings:
    """Per-step wall times of each loop, CPU seconds of this process (all its threads) per loop, episodes ended."""

    task: list[float] = field(default_factory=list)
    physics: list[float] = field(default_factory=list)
    limit: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=lambda: {"task": 0.0, "limit": 0.0})
    done: int = 0


def _build_env(
    spec: Any,
    backend: str,
    worlds: int,
    motions: Sequence[str] | None,
    device: str | None,
    seed: int,
    compile: bool,
    tracking: bool,
) -> Any:
    """The imitation env of the benchmark: the given motions, or a 10 s sinusoid clip of ``spec``."""
    from mm_sim.env import ImitationEnv
    from mm_sim.motion import sinusoid_clip
    from mm_sim.tasks.config import TaskConfig

    clips: Sequence[Any] = (
        list(motions) if motions else [sinusoid_clip(spec.compile(), spec, seconds=10.0, seed=seed)]
    )
    config = TaskConfig.for_embodiment(spec, compile=compile)
    return ImitationEnv(
        spec,
        clips,
        backend=backend,
        num_worlds=worlds,
        config=config,
        device=device,
        seed=seed,
        tracking=tracking,
    )


def _build_rig(env: Any, spec: Any, backend: str, worlds: int, device: str | None) -> _Rig:
    """Raw physics and the rollout limit beside ``env``, and ``env.sim.step`` wrapped to record its time."""
    from mm_sim.backends import make_sim

    # Raw physics runs on its own worlds (same model, backend, count, initial state and ctrl sequence), so that
    # neither loop disturbs the other's state or solver warm start.
    raw = make_sim(backend, env.model, worlds, spec.physics, device)
    for f in ("qpos", "qvel", "act", "ctrl", "qacc_warmstart"):
        getattr(raw, f).copy_(getattr(env.sim, f))
    raw.forward()
    limit = None
    if backend == "mujoco":
        limit = RolloutLimit(
            env.model, env.sim.qpos, env.sim.qvel, env.sim.act, spec.physics.substeps, env.sim.num_threads
        )
    # Time of the backend's control step inside env.step: the rest of env.step is the task's own cost.
    sim_t: list[float] = []
    sim_step = env.sim.step

    def timed_sim_step() -> None:
        t = time.perf_counter()
        sim_step()
        sim_t.append(time.perf_counter() - t)

    env.sim.step = timed_sim_step
    return _Rig(spec, backend, env, raw, limit, sim_t)


def _warm_up(rig: _Rig, bank: Any, warmup: int) -> float:
    """``warmup`` untimed steps of every loop (kernel compilation, CUDA graph capture); returns their seconds."""
    t0 = time.perf_counter()
    for i in range(warmup):
        rig.env.step(bank[i % len(bank)])
        rig.step_others(bank[i % len(bank)])
    rig.sync()
    rig.sim_t.clear()
    return time.perf_counter() - t0


def _time_steps(
    rig: _Rig, bank: Any, warmup: int, steps: int, progress: Callable[[int, int], None] | None
) -> _Timings:
    """``steps`` timed control steps, task, raw physics and the limit alternating step by step."""
    env, raw, limit = rig.env, rig.raw, rig.limit
    tm = _Timings()
    for k in range(warmup, warmup + steps):
        if progress is not None:
            progress(k - warmup, steps)
        a = bank[k % len(bank)]
        c0, t0 = time.process_time(), time.perf_counter()
        _, _, term, trunc, _ = env.step(a)
        tm.done += int((term | trunc).sum())
        rig.sync()
        t1 = time.perf_counter()
        tm.cpu["task"] += time.process_time() - c0
        raw.ctrl.copy_((a + 1) / 2)
        raw.physics_step()
        rig.sync()
        t2 = time.perf_counter()
        if limit is not None:
            c0 = time.process_time()
            limit.step(raw.ctrl.numpy())
            tm.limit.append(time.perf_counter() - t2)
            tm.cpu["limit"] += time.process_time() - c0
        tm.task.append(t1 - t0)
        tm.physics.append(t2 - t1)
    return tm


def _limit_result(rig: _Rig, tm: _Timings, worlds: int, steps: int) -> dict[str, Any]:
    """The task against the rollout limit (empty without one)."""
    if not tm.limit:
        return {}
    task, task_med = worlds * steps / sum(tm.task), worlds / statistics.median(tm.task)
    rate, med = worlds * steps / sum(tm.limit), worlds / statistics.median(tm.limit)
    nthread, nstep = rig.env.sim.num_threads, rig.spec.physics.substeps
    # Where the task's time goes, per control step (medians, us): the backend's physics step inside env.step and
    # the serial rest (task maths, resets, Python) while the physics threads wait; at most ``budget`` of the
    # latter keeps the task at >= 0.9 of the limit.
    sim_us = 1e6 * statistics.median(rig.sim_t)
    outside_us = 1e6 * statistics.median([t - s for t, s in zip(tm.task, rig.sim_t, strict=True)])
    limit_us = 1e6 * statistics.median(tm.limit)
    return {
        "limit": f"mujoco.rollout.Rollout(nthread={nthread}), same model, nstep={nstep}",
        "limit_steps_per_s": round(rate, 2),
        "task_over_limit": round(task / rate, 4),
        "limit_steps_per_s_median": round(med, 2),
        "task_over_limit_median": round(task_med / med, 4),
        # CPU time, not wall time: other processes' load on a shared machine barely moves it.
        "task_over_limit_cpu_time": round(tm.cpu["limit"] / tm.cpu["task"], 4),
        "limit_us_per_step_median": round(limit_us, 1),
        "sim_step_us_median": round(sim_us, 1),
        "task_outside_sim_us_median": round(outside_us, 1),
        "outside_sim_budget_us_for_0_9": round(limit_us / 0.9 - sim_us, 1),
    }


def _result(
    rig: _Rig,
    tm: _Timings,
    worlds: int,
    steps: int,
    compile: bool,
    tracking: bool,
    setup_s: float,
    warmup_s: float,
) -> dict[str, Any]:
    """The benchmark's result dict (the keys of ``mm sim bench --json``)."""
    import torch

    env, spec = rig.env, rig.spec
    task, physics = worlds * steps / sum(tm.task), worlds * steps / sum(tm.physics)
    # Medians of the per-step times resist load spikes from other processes on a shared machine.
    task_med, physics_med = worlds / statistics.median(tm.task), worlds / statistics.median(tm.physics)
    return {
        "embodiment": spec.name,
        "backend": rig.backend,
        "device": str(env.device),
        "sim": env.sim.describe(),
        "worlds": worlds,
        "steps": steps,
        "substeps": spec.physics.substeps,
        "compile": compile,
        "tracking": tracking,
        "num_obs": env.num_obs,
        "task_steps_per_s": round(task, 2),
        "physics_steps_per_s": round(physics, 2),
        "ratio": round(task / physics, 4),
        "task_steps_per_s_median": round(task_med, 2),
        "physics_steps_per_s_median": round(physics_med, 2),
        "ratio_median": round(task_med / physics_med, 4),
        **_limit_result(rig, tm, worlds, steps),
        # Share of the task's time in the backend's control step (the rest: actions, task maths, resets); None
        # on CUDA, where the step only enqueues work.
        "task_time_in_sim_step": round(sum(rig.sim_t) / sum(tm.task), 4)
        if env.device.type == "cpu"
        else None,
        "physics_substeps_per_s": round(physics * spec.physics.substeps, 1),
        "episodes_done": tm.done,
        "nan_resets": env.nan_resets,
        "overflow_steps": env.sim.overflow_count,
        "physics_nonfinite": int(rig.raw.nonfinite.sum()),
        "setup_s": round(setup_s, 2),
        "warmup_s": round(warmup_s, 2),
        "torch_threads": torch.get_num_threads(),
    }


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
    tracking: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """``progress(done, total)`` is called before each timed step (the CLI's progress bar). ``tracking``: the
    env publishes ``info["tracking"]`` (evaluation); off by default, as in training."""
    import torch

    if torch_threads:
        # The physics threads own the cores; torch's intra-op pool on the same cores only adds sync overhead
        # to the small task tensors (4-8x slower ops on a 2-core machine).
        torch.set_num_threads(torch_threads)

    from mm_core import get_embodiment
    from mm_sim.backends import default_backend

    if worlds < 1 or steps < 1:
        raise ValueError(f"--worlds and --steps must be >= 1, got {worlds} and {steps}")
    spec = get_embodiment(embodiment)
    backend = backend or default_backend()
    check_memory(spec, worlds, device)
    t0 = time.perf_counter()
    env = _build_env(spec, backend, worlds, motions, device, seed, compile, tracking)
    rig = _build_rig(env, spec, backend, worlds, device)
    setup_s = time.perf_counter() - t0
    gen = torch.Generator(device=env.device).manual_seed(seed)
    bank = torch.rand((8, worlds, env.num_actions), generator=gen, device=env.device) * 2 - 1
    warmup_s = _warm_up(rig, bank, warmup)
    tm = _time_steps(rig, bank, warmup, steps, progress)
    if rig.limit is not None:
        rig.limit.close()
    return _result(rig, tm, worlds, steps, compile, tracking, setup_s, warmup_s)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m mm_sim.bench", description=__doc__.splitlines()[0])
    p.add_argument("--embodiment", default="tiny")
    p.add_argument("--backend", default=None, help="warp | mujoco (default: warp with CUDA, else mujoco)")
    p.add_argument("--worlds", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--motion", action="append", default=None, help="MotionClip .npz (repeatable)")
    p.add_argument("--device", default=None)
    p.add_argument("--eager", action="store_true", help="task maths without torch.compile")
    p.add_argument(
        "--tracking", action="store_true", help="also compute info['tracking'] (as evaluation does)"
    )
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    r = run_bench(
        a.embodiment,
        a.backend,
        a.worlds,
        a.steps,
        motions=a.motion,
        device=a.device,
        compile=not a.eager,
        tracking=a.tracking,
    )
    print(json.dumps(r, indent=2) if a.json else "\n".join(f"{k}: {v}" for k, v in r.items()))


if __name__ == "__main__":
    main()

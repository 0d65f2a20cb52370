"""mm-sim's plugin: the ``warp`` and ``mujoco`` backends, the built-in task terms (observation, reward,
termination) and ``mm sim`` commands.

Light at import (no torch / mujoco / warp): heavy modules are imported inside the factories and commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_core import hookimpl
from mm_core.records import ObservationTerm, RewardTerm, SimBackend, TerminationTerm

if TYPE_CHECKING:  # pragma: no cover
    import typer


def _warp(model: Any, num_worlds: int, physics: Any, device: str | None = None) -> Any:
    from mm_sim.backends.warp_backend import WarpSim

    return WarpSim(model, num_worlds, physics, device)


def _mujoco(model: Any, num_worlds: int, physics: Any, device: str | None = None) -> Any:
    from mm_sim.backends.mujoco_backend import MujocoSim

    return MujocoSim(model, num_worlds, physics, device)


def _warp_available() -> bool:
    from mm_sim.backends.warp_backend import warp_available

    return warp_available()


@hookimpl
def mm_sim_backends() -> list[SimBackend]:
    return [
        SimBackend(
            name="warp",
            factory=_warp,
            is_available=_warp_available,
            description="MuJoCo Warp: all worlds in one Data, CUDA (graph-captured step) or Warp's CPU device",
        ),
        SimBackend(
            name="mujoco",
            factory=_mujoco,
            description="C MuJoCo: all worlds in one mujoco.batch, stepped on C threads",
        ),
    ]


@hookimpl
def mm_reward_terms() -> list[RewardTerm]:
    from mm_sim.tasks.rewards import BUILTIN

    return list(BUILTIN)


@hookimpl
def mm_observation_terms() -> list[ObservationTerm]:
    from mm_sim.tasks.observations import BUILTIN

    return list(BUILTIN)


@hookimpl
def mm_termination_terms() -> list[TerminationTerm]:
    from mm_sim.tasks.terminations import BUILTIN

    return list(BUILTIN)


@hookimpl
def mm_cli(app: typer.Typer) -> None:
    import typer

    sim_app = typer.Typer(help="Batched simulation: backends and benchmarks.", no_args_is_help=True)
    app.add_typer(sim_app, name="sim")

    @sim_app.command("bench")
    def bench(
        embodiment: str = typer.Option("tiny", help="Embodiment name (see `mm models list`)."),
        backend: str = typer.Option(None, help="warp | mujoco (default: warp with CUDA, else mujoco)."),
        worlds: int = typer.Option(2, min=1, help="Number of parallel worlds."),
        steps: int = typer.Option(
            50, min=1, help="Timed control steps (each is physics.substeps physics steps)."
        ),
        motion: list[str] = typer.Option(
            None, help="MotionClip .npz file(s); default: a kinematic test motion."
        ),
        device: str = typer.Option(None, help="Device for warp (cuda:0, cpu)."),
        eager: bool = typer.Option(False, "--eager", help="Task maths without torch.compile."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Control steps/s of the full task (obs + reward + done + reset) and of raw physics, and their ratio."""
        _bench(embodiment, backend, worlds, steps, motion or None, device, eager, as_json)

    @sim_app.command("backends")
    def backends() -> None:
        """List the simulation backends and whether each can run here."""
        _list_backends()


def _bench(
    embodiment: str,
    backend: str | None,
    worlds: int,
    steps: int,
    motions: list[str] | None,
    device: str | None,
    eager: bool,
    as_json: bool,
) -> None:
    """``mm sim bench``: run the benchmark with a progress bar (stderr), print its figures as a table or JSON."""
    from rich.console import Console
    from rich.progress import Progress

    from mm_core.cli import echo_json, fail, print_table
    from mm_core.registry import RegistryError
    from mm_sim.bench import run_bench

    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"mm sim bench: {embodiment}, {worlds} worlds", total=steps)
        try:
            result = run_bench(
                embodiment,
                backend,
                worlds,
                steps,
                motions=motions,
                device=device,
                compile=not eager,
                progress=lambda done, total: bar.update(task, completed=done),
            )
        except (RegistryError, ValueError, RuntimeError) as e:
            raise fail(str(e)) from e
    if as_json:
        echo_json(result)
    else:
        print_table(
            [{"key": k, "value": v} for k, v in result.items()], ["key", "value"], title="mm sim bench"
        )


def _list_backends() -> None:
    """``mm sim backends``: the registered simulation backends, whether each can run here, their provider."""
    from mm_core.cli import print_table
    from mm_core.registry import sim_backends

    rows = [
        {"name": n, "available": rec.is_available(), "provider": p, "description": rec.description}
        for n, (p, rec) in sorted(sim_backends.items().items())
    ]
    print_table(rows, ["name", "available", "provider", "description"], title="simulation backends")

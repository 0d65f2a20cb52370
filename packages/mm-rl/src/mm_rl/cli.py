"""``mm train``, ``mm eval``, ``mm render``. Light at import: torch and the simulator load inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mm_core.cli import echo_json, fail, print_table

#: Metrics shown in the eval table, in order, with their short column labels.
EVAL_COLUMNS = {
    "early_termination_rate": "ET rate",
    "frame_coverage": "coverage",
    "site_error_rel_m": "site rel (m)",
    "site_error_abs_m": "site abs (m)",
    "site_rmse_rel_m": "site RMSE rel (m)",
    "site_rmse_abs_m": "site RMSE abs (m)",
    "joint_error_rad": "joint (rad)",
    "root_error_m": "root (m)",
    "root_rot_error_rad": "root rot (rad)",
}


def _short(metrics: Any) -> dict[str, Any]:
    return {label: metrics.get(key, "") for key, label in EVAL_COLUMNS.items()}


def train(
    embodiment: str = typer.Option(
        None, "--embodiment", "-e", help="Embodiment (mm models list). Default: tiny (the demo)."
    ),
    motions: list[str] = typer.Option(
        None,
        "--motions",
        "-m",
        help="Clip files (.npz) or directories of clips (e.g. an mm retarget output dir).",
    ),
    backend: str = typer.Option(
        None, "--backend", help="Simulation backend: warp or mujoco (default: mm-sim's)."
    ),
    num_worlds: int = typer.Option(None, "--num-worlds", "-n", help="Parallel worlds per process."),
    samples: float = typer.Option(
        None, "--samples", help="Budget: samples (control steps over all worlds), e.g. 2e9."
    ),
    updates: int = typer.Option(None, "--updates", min=1, help="Budget: PPO updates."),
    minutes: float = typer.Option(None, "--minutes", help="Budget: wall-clock minutes."),
    config: Path = typer.Option(None, "--config", "-c", help="TOML config file (keys as in config.json)."),
    overrides: list[str] = typer.Option(
        None, "--set", help="Override a config key: --set ppo.lr=1e-3 (repeatable)."
    ),
    run_dir: Path = typer.Option(None, "--run-dir", "-o", help="Run directory (default: runs/<embodiment>)."),
    resume_from: Path = typer.Option(
        None, "--resume-from", help="Fine-tune: start from this run or checkpoint."
    ),
    reset_std: float = typer.Option(None, "--reset-std", help="With --resume-from: reset the action std."),
    seed: int = typer.Option(None, "--seed", help="Random seed."),
    device: str = typer.Option(None, "--device", help="Torch device (default: cuda if available, else cpu)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Use --run-dir even if it is a non-empty directory that is not an mm run."
    ),
    as_json: bool = typer.Option(False, "--json", help="No progress bar; print a JSON summary."),
) -> None:
    """Train a policy with PPO. With no arguments: a short CPU demo (tiny legs, generated walk, a few minutes)."""
    check_device(device)
    check_backend(backend)
    cfg = _train_config(
        embodiment, config, overrides, motions, backend, num_worlds, samples, updates, minutes, seed, device
    )
    _check_fine_tune(resume_from, reset_std)
    run_dir = run_dir or Path("runs") / cfg.embodiment
    from mm_core.outputs import prepare_output_dir

    prepare_output_dir(run_dir, "train", overwrite=overwrite)  # never writes into a directory of the user's
    summary = _run_training(cfg, run_dir, resume_from, reset_std, progress=not as_json)
    if summary is None:  # not rank 0
        return
    if _is_demo(cfg):
        summary["before_after"] = _before_after(run_dir)
    if as_json:
        echo_json(summary)
        return
    _print_summary(summary, run_dir)


def _train_config(
    embodiment: str | None,
    config: Path | None,
    overrides: list[str] | None,
    motions: list[str] | None,
    backend: str | None,
    num_worlds: int | None,
    samples: float | None,
    updates: int | None,
    minutes: float | None,
    seed: int | None,
    device: str | None,
) -> Any:
    """The resolved TrainConfig of ``mm train``'s options (preset, config file, options, ``--set``)."""
    from mm_core import RegistryError
    from mm_rl.config import ConfigError, resolve

    for flag, value in (("--samples", samples), ("--minutes", minutes)):
        if value is not None and not value > 0:
            raise fail(f"{flag} {value}: a training budget must be > 0")
    try:
        return resolve(
            embodiment,
            config,
            overrides or [],
            motions=list(motions) if motions else None,
            backend=backend,
            num_worlds=num_worlds,
            max_samples=int(samples) if samples is not None else None,
            max_updates=updates,
            max_minutes=minutes,
            seed=seed,
            device=device,
        )
    except (ConfigError, RegistryError) as e:  # presets look the embodiment up: unknown names land here
        raise fail(str(e)) from e


def _check_fine_tune(resume_from: Path | None, reset_std: float | None) -> None:
    if reset_std is not None and resume_from is None:
        raise fail("--reset-std needs --resume-from (the checkpoint whose std to reset)")
    if resume_from is not None:  # before any setup work: a wrong path is one quick error
        from mm_rl.checkpoint import CheckpointError
        from mm_rl.checkpoint import resolve as resolve_checkpoint

        try:
            resolve_checkpoint(resume_from)
        except CheckpointError as e:
            raise fail(str(e)) from e


def _is_demo(cfg: Any) -> bool:
    """The demo: the default embodiment on the generated walk (no motions given); it reports before and after."""
    from mm_rl.config import DEFAULT_EMBODIMENT

    return cfg.embodiment == DEFAULT_EMBODIMENT and not cfg.motions


def _print_summary(summary: dict[str, Any], run_dir: Path) -> None:
    last = summary["last"]
    if last:
        typer.echo(
            f"updates {summary['update']}  samples {summary['samples']}  {last['samples_per_s']:.0f} samples/s "
            f"(env {100 * last['frac_env']:.0f} %, policy {100 * last['frac_act']:.0f} %, "
            f"learning {100 * last['frac_learn']:.0f} %)"
        )
    if "before_after" in summary:
        ba = summary["before_after"]
        print_table(
            [
                {"metric": label, "before (step 0)": ba["before"][k], "after": ba["after"][k]}
                for k, label in EVAL_COLUMNS.items()
            ],
            ["metric", "before (step 0)", "after"],
            title="demo: tracking the generated walk (deterministic policy, from the first frame)",
        )
    typer.echo(f"run dir: {run_dir}  (mm eval {run_dir} --json; mm render {run_dir})")


def _run_training(cfg: Any, run_dir: Path, resume_from: Path | None, reset_std: float | None, progress: bool):
    from mm_core import ContractError, RegistryError
    from mm_rl.checkpoint import CheckpointError
    from mm_rl.config import ConfigError
    from mm_rl.motions import MotionInputError
    from mm_rl.run_dir import RunDirError
    from mm_rl.trainer import Trainer, TrainError

    try:
        trainer = Trainer(cfg, run_dir, resume_from=resume_from, reset_std=reset_std, progress=progress)
        if progress and trainer.dist.main:
            state = f"resuming at update {trainer.update}" if trainer.resuming else "new run"
            typer.echo(
                f"mm train: {cfg.embodiment}, {trainer.env.motions.num_clips} motion(s), {trainer.env.num_envs} worlds "
                f"x {trainer.dist.world} process(es), {state}, run dir {run_dir}"
            )
        if progress and trainer.dist.main and trainer.total_updates() == trainer.update:
            typer.echo(
                f"{run_dir} already finished its budget ({trainer.update} updates); give a larger one to go on"
            )
        try:
            summary = trainer.run()
        except KeyboardInterrupt:
            last = checkpoint_stem(run_dir)
            typer.secho(
                f"interrupted at update {trainer.update}; re-run the same command to resume from {last}",
                fg="yellow",
                err=True,
            )
            raise typer.Exit(130) from None
        trainer.close()
    except (
        ConfigError,
        TrainError,
        RunDirError,
        CheckpointError,
        MotionInputError,
        ContractError,
        RegistryError,
    ) as e:
        raise fail(str(e)) from e
    except ValueError as e:  # mm-sim's checks of motions and task config name the file or field
        raise fail(f"cannot set up training: {e}") from e
    return summary if trainer.dist.main else None


def check_device(device: str | None) -> None:
    """Refuse a torch device name that does not exist or is not available here, before any work starts."""
    if device is None:
        return
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise fail(f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:0): {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise fail(f"--device {device!r}: no CUDA GPU is available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise fail(f"--device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type not in ("cpu", "cuda"):
        raise fail(f"--device {device!r}: mm trains on cpu or cuda")


def check_backend(backend: str | None) -> None:
    """Refuse an unknown simulation backend name, listing the installed ones."""
    if backend is not None:
        from mm_core import registry

        try:
            registry.get_sim_backend(backend)
        except registry.RegistryError as e:
            raise fail(f"--backend: {e}") from None


def checkpoint_stem(run_dir: Path) -> str:
    latest = run_dir / "checkpoints" / "latest"
    return latest.read_text().strip() if latest.is_file() else "the start"


def _before_after(run_dir: Path) -> dict[str, Any]:
    from mm_rl.checkpoint import list_checkpoints
    from mm_rl.evaluate import evaluate_checkpoint

    ckpts = list_checkpoints(run_dir)
    before = evaluate_checkpoint(ckpts[0]).overall
    after = evaluate_checkpoint(ckpts[-1]).overall
    return {"before": dict(before), "after": dict(after), "checkpoints": [str(ckpts[0]), str(ckpts[-1])]}


def evaluate(
    target: Path = typer.Argument(..., help="Run directory or checkpoint (.json / .safetensors)."),
    motions: list[str] = typer.Option(
        None, "--motions", "-m", help="Motions to evaluate on (default: the training motions)."
    ),
    baseline: bool = typer.Option(
        True, "--baseline/--no-baseline", help="Also report the run's step-0 checkpoint."
    ),
    backend: str = typer.Option(None, "--backend", help="Simulation backend (default: the run's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the EvalReport as JSON."),
) -> None:
    """Evaluate a policy (deterministic, from each motion's first frame): termination, coverage, errors."""
    from mm_core import ContractError
    from mm_rl.checkpoint import CheckpointError, list_checkpoints, resolve
    from mm_rl.evaluate import evaluate_checkpoint
    from mm_rl.motions import MotionInputError

    check_backend(backend)
    try:
        ckpt = resolve(target)
        report = evaluate_checkpoint(ckpt, motions=list(motions) if motions else None, backend=backend)
        base = None
        run_dir = ckpt.parent.parent
        first = list_checkpoints(run_dir)[:1] if (run_dir / "checkpoints").is_dir() else []
        if baseline and first and first[0] != ckpt:
            base = evaluate_checkpoint(first[0], motions=list(motions) if motions else None, backend=backend)
    except (CheckpointError, MotionInputError, ContractError, ValueError) as e:
        raise fail(str(e)) from e
    if base is not None:
        from mm_core import EvalReport

        overall = dict(report.overall) | {f"baseline_{k}": v for k, v in base.overall.items()}
        report = EvalReport(
            checkpoint=report.checkpoint,
            embodiment=report.embodiment,
            overall=overall,
            per_motion=report.per_motion,
        )
    if as_json:
        echo_json(report.to_dict())
        return
    rows = [{"motion": name, **_short(m)} for name, m in report.per_motion.items()]
    rows.append({"motion": "overall", **_short(report.overall)})
    if base is not None:
        step = int(Path(base.checkpoint).stem.removeprefix("step_"))
        rows.append({"motion": f"baseline (step {step})", **_short(base.overall)})
    print_table(rows, ["motion", *EVAL_COLUMNS.values()], title=f"mm eval {report.checkpoint}")


def render(
    target: Path = typer.Argument(..., help="Run directory or checkpoint."),
    out: Path = typer.Option(None, "--out", help="MP4 to write (default: <run>/render.mp4)."),
    motion: str = typer.Option(
        None, "--motion", help="Clip name or file (default: the first training motion)."
    ),
    seconds: float = typer.Option(None, "--seconds", help="Length (default: the whole clip)."),
    width: int = typer.Option(640, "--width"),
    height: int = typer.Option(480, "--height"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it is an existing file."),
) -> None:
    """An MP4 of the policy (muscles coloured by activation) next to its reference (a kinematic ghost)."""
    from mm_core.outputs import OutputError, prepare_output_file
    from mm_rl.checkpoint import CheckpointError, resolve
    from mm_rl.render import RenderError, render_checkpoint

    try:
        if out is not None:  # before any work: a bad --out is one quick error
            prepare_output_file(out, overwrite=overwrite)
        ckpt = resolve(target)
        # The default lies in the run directory (an mm output): re-rendering replaces it.
        out = out or prepare_output_file(ckpt.parent.parent / "render.mp4", overwrite=True)
        path = render_checkpoint(ckpt, out, motion=motion, seconds=seconds, width=width, height=height)
    except (CheckpointError, RenderError, OutputError, ValueError) as e:
        raise fail(str(e)) from e
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("eval")(evaluate)
    app.command("render")(render)


def train_app(argv: list[str] | None = None) -> None:
    """``python -m mm_rl.train`` (e.g. under torchrun): the ``mm train`` command on its own."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(train)
    app(argv)

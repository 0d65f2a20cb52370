"""mm-validate's plugin: reference datasets, validation metrics and the ``mm validate`` command.

Light at import (no numpy-heavy work, no mujoco / torch / matplotlib): everything heavy is imported in the command.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from mm_core import hookimpl
from mm_core.records import ReferenceDataset, ValidationMetric

SPEEDS = ("very_slow", "slow", "free", "fast", "very_fast")
#: Metrics printed by ``mm validate`` (missing ones print as null / empty).
COLUMNS = ("r", "rmse", "in_band", "lag_r", "lag_pct", "n_cycles", "n_cycles_reference", "spm_supra_pct")


def _schwartz(path: str | Path | None = None, *, speed: str) -> Any:
    from mm_validate.reference import load_schwartz

    return load_schwartz(path, speed)


def _bmcric(path: str | Path | None = None) -> Any:
    from mm_validate.reference import load_bmcric

    return load_bmcric(path)


@hookimpl
def mm_reference_datasets() -> list[ReferenceDataset]:
    out = [
        ReferenceDataset(
            name=f"schwartz2008-walking-{s.replace('_', '-')}",
            load=partial(_schwartz, speed=s),
            description=f"Schwartz 2008 children walking, {s.replace('_', ' ')} speed: angles, GRF, moments, EMG",
            default_path="mm_validate/data/schwartz2008_walking.csv (packaged; $MM_REFERENCE_DIR overrides)",
        )
        for s in SPEEDS
    ]
    out.append(
        ReferenceDataset(
            name="bmcric-running",
            load=_bmcric,
            description="BMC-RIC adult running at ~2.5 m/s: 3-D hip, knee, ankle angles",
            default_path="mm_validate/data/bmcric_running.csv (packaged; $MM_REFERENCE_DIR overrides)",
        )
    )
    return out


@hookimpl
def mm_validation_metrics() -> list[ValidationMetric]:
    from mm_validate.metrics import METRICS

    return [
        ValidationMetric(name=n, fn=fn, higher_is_better=hib, description=d)
        for n, (fn, hib, d) in METRICS.items()
    ]


def _num(v: Any) -> Any:
    return None if isinstance(v, float) and v != v else v


@hookimpl
def mm_cli(app: Any) -> None:
    import typer

    @app.command("validate")
    def validate(
        motion: Path = typer.Option(
            None, "--motion", help="A MotionClip .npz (or a mocap file, retargeted first)."
        ),
        checkpoint: str = typer.Option(None, "--checkpoint", help="Run directory or checkpoint to roll out."),
        motions: list[str] = typer.Option(
            None, "--motions", help="Clips for the rollout (default: the run's)."
        ),
        reference: str = typer.Option(
            ...,
            "--reference",
            help="Dataset name (e.g. schwartz2008-walking-free), a CSV of cycle curves, or a lab trial "
            "(OpenSim .mot/.sto, C3D) cut into cycles.",
        ),
        reference_forces: Path = typer.Option(
            None,
            "--reference-forces",
            help="OpenSim external-loads .mot (ground_force_vx/vy/vz per foot) of a .mot reference trial: "
            "force-based gait events and a GRF reference.",
        ),
        reference_dir: Path = typer.Option(
            None, "--reference-dir", envvar="MM_REFERENCE_DIR", help="Folder of the reference CSVs."
        ),
        out: Path = typer.Option(Path("validation"), "--out", help="Output directory."),
        overwrite: bool = typer.Option(
            False,
            "--overwrite",
            help="Write into --out even if it is a non-empty directory that mm did not make.",
        ),
        embodiment: str = typer.Option(
            "myofullbody-nofingers", help="Embodiment to retarget a mocap --motion onto."
        ),
        backend: str = typer.Option(None, help="Simulation backend for --checkpoint (warp, mujoco)."),
        num_worlds: int = typer.Option(1, min=1, help="Parallel worlds for the rollout."),
        steps: int = typer.Option(500, min=1, help="Control steps per world (100 Hz)."),
        device: str = typer.Option("cpu", help="Torch device for the rollout."),
        terminate: bool = typer.Option(
            True,
            "--terminate/--no-terminate",
            help="End rollout episodes on tracking failure (as in training).",
        ),
        events: str = typer.Option(
            "auto", help="Gait events from: auto, contact (GRF), height (feet), zeni."
        ),
        align: str = typer.Option(
            "xcorr",
            help="Time-series references (a .mot without gait, or an embodiment without legs): align by "
            "cross-correlation (xcorr) or by time.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Validate a motion or a policy against experimental gait data: figures, metrics JSON, HTML report."""
        from mm_core.cli import fail
        from mm_validate.reference import ReferenceError
        from mm_validate.validate import RolloutOptions

        if (motion is None) == (checkpoint is None):
            raise fail("give exactly one of --motion CLIP or --checkpoint RUN")
        opts = RolloutOptions(
            backend=backend,
            num_worlds=num_worlds,
            steps=steps,
            device=device,
            progress=not as_json,
            terminate=terminate,
        )
        try:
            report = _run_validate(
                motion=motion,
                checkpoint=checkpoint,
                motions=motions or None,
                reference=reference,
                reference_forces=reference_forces,
                reference_dir=reference_dir,
                out=out,
                overwrite=overwrite,
                embodiment=embodiment,
                opts=opts,
                events=events,
                align=align,
            )
        except (ReferenceError, ValueError, FileNotFoundError, LookupError) as e:
            raise fail(str(e)) from e
        _print_summary(report, out, as_json)


def _run_validate(
    *,
    motion: Path | None,
    checkpoint: str | None,
    motions: list[str] | None,
    reference: str,
    reference_forces: Path | None,
    reference_dir: Path | None,
    out: Path,
    overwrite: bool,
    embodiment: str,
    opts: Any,
    events: str,
    align: str,
) -> Any:
    """The work of ``mm validate``: check every input, make ``out``, then validate the clip (over gait cycles or
    as a time series) or roll out and validate the checkpoint; returns the ``ValidationReport``."""
    from mm_core.outputs import prepare_output_dir
    from mm_validate.reference import load_reference
    from mm_validate.validate import load_motion, series_applies, validate_checkpoint, validate_clip

    # A .mot/.sto may be a gait trial or a time series (decided with the clip); anything else is checked before a
    # mocap --motion is retargeted.
    maybe_series = motion is not None and Path(reference).suffix.lower() in (".mot", ".sto")
    ref = None if maybe_series else load_reference(reference, reference_dir, reference_forces)
    clip = load_motion(motion, embodiment) if motion is not None else None
    if checkpoint is not None:
        from mm_rl import load_checkpoint

        load_checkpoint(checkpoint)  # missing or corrupted: said before the output directory is made
    # Inputs checked, before the rollout or any write: never writes into a directory of the user's.
    prepare_output_dir(out, "validate", overwrite=overwrite)
    if clip is not None and maybe_series and series_applies(clip, reference):
        from mm_validate.series import validate_series

        return validate_series(clip, reference, out, align)
    if clip is not None:
        ref = ref or load_reference(reference, reference_dir, reference_forces)
        return validate_clip(clip, ref, out, events)
    return validate_checkpoint(checkpoint, motions, ref, out, opts, events)


def _print_summary(report: Any, out: Path, as_json: bool) -> None:
    """The metrics table (or JSON with ``as_json``), the notes and where the report is."""
    import typer

    from mm_core.cli import echo_json, print_table

    # NaN (e.g. r of a flat curve) is printed as null: strict JSON.
    rows = [
        {"quantity": q, **{k: _num(m.get(k)) for k in COLUMNS}}
        for q, m in report.metrics.items()
        if q not in ("gait", "series")
    ]
    if as_json:
        echo_json(
            {
                "subject": report.subject,
                "reference": report.reference,
                "gait": {k: _num(v) for k, v in report.metrics.get("gait", {}).items()},
                "series": {k: _num(v) for k, v in report.metrics.get("series", {}).items()},
                "metrics": {r["quantity"]: {k: v for k, v in r.items() if k != "quantity"} for r in rows},
                "report": str(out / "report.html"),
                "json": str(out / "report.json"),
                "figures": list(report.figures),
                "notes": list(report.notes),
            }
        )
        return
    print_table(rows, ["quantity", *COLUMNS], title=report.subject)
    for n in report.notes:
        typer.echo(f"note: {n}")
    typer.echo(f"report: {out / 'report.html'}")

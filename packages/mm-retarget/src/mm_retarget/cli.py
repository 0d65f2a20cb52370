"""``mm retarget``: batch retargeting, reports, clip inspection and the demo motions.

``mm retarget INPUT... --embodiment E`` is the same as ``mm retarget run INPUT... --embodiment E``: the group runs
``run`` whenever its first argument is not one of its subcommands (``run``, ``report``, ``show``, ``demo``).
Light at import: typer only; the work is imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import typer.core

from mm_core.cli import echo_json, fail, print_table

#: Report table: column title -> metric key (short titles so the table fits a terminal).
REPORT_COLUMNS = {
    "limit %": "joint_limit_violation_pct",
    "pen %": "penetration_pct",
    "pen max m": "penetration_max_m",
    "float m": "floating_height_m",
    "tendon jump": "tendon_jump_rate",
    "rmse m": "site_rmse_m",
    "s/frame": "seconds_per_frame",
}


class _RunByDefault(typer.core.TyperGroup):
    """A group that treats ``mm retarget ARGS`` as ``mm retarget run ARGS`` unless ARGS starts with a subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Retarget human motion capture (BVH, AMASS .npz) onto an embodiment: "
    "`mm retarget INPUT... --embodiment E --out DIR` (= `mm retarget run ...`).",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="retarget")


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in report["clips"]:
        m = r.get("metrics", {})
        row = {"clip": Path(r["input"]).name, "status": r["status"], "frames": m.get("frames")}
        row.update({title: m.get(key) for title, key in REPORT_COLUMNS.items()})
        rows.append(row)
    return rows


def _print_report(report: dict[str, Any]) -> None:
    cols = ["clip", "status", "frames", *REPORT_COLUMNS]
    print_table(_rows(report), cols, title=f"retarget {report['method']} -> {report['embodiment']}")
    for r in report["clips"]:
        if r["status"] != "ok":  # failures and flags with their reasons, in full
            typer.echo(f"{r['status']}: {r['input']}: {r.get('error') or '; '.join(r.get('flags', []))}")
    for r in report["clips"]:
        if r.get("redone"):
            typer.echo(f"redone: {r['input']}: {r['redone']}")
    stems = [Path(r["input"]).stem for r in report["clips"]]
    for r in report["clips"]:
        if r.get("output") and stems.count(Path(r["input"]).stem) > 1:
            typer.echo(f"note: {r['input']} -> {r['output']} (another input has the same file name)")
    s = report["summary"]
    typer.echo(
        f"{s['clips']} clips: {s['ok']} ok, {s['flagged']} flagged, {s['failed']} failed; {s['frames']} frames"
        + "".join(f"; {k[5:]} {v:.4g}" for k, v in s.items() if k.startswith("mean_"))
    )


@app.command("run")
def run(
    inputs: list[Path] = typer.Argument(..., help="Motion files (.bvh, AMASS .npz)."),
    embodiment: str = typer.Option(..., "--embodiment", "-e", help="Embodiment name (see `mm models list`)."),
    method: str = typer.Option(
        "gmr-fit", "--method", "-m", help="Retargeter: gmr-fit or mocap-body (or a plugin's)."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output directory: one clip .npz per input + report.json."
    ),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Parallel worker processes."),
    force: bool = typer.Option(False, "--force", help="Redo clips that are already in DIR."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Write into DIR even if it is a non-empty directory that mm did not make."
    ),
    joint_map: Path | None = typer.Option(
        None, help="BVH joint map (JSON/TOML: source joint -> SMPL joint)."
    ),
    units: str = typer.Option(
        "auto", help="BVH length unit: auto, m, cm, mm, inch, cmu, or metres per unit."
    ),
    smpl_model_dir: Path | None = typer.Option(
        None,
        help="SMPL model files for shape-aware AMASS joints (else $MM_SMPL_MODEL_DIR; needs mm-retarget[smpl]).",
    ),
    solve_fps: float | None = typer.Option(None, help="IK rate in Hz (default 30; 0 = the source's rate)."),
    out_fps: float | None = typer.Option(
        None,
        help="Output clip rate in Hz (default: the embodiment's control rate, the only one its task accepts).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Retarget INPUT files onto an embodiment; re-running skips clips already done."""
    _check_run(inputs, embodiment, method, units, solve_fps, out_fps)
    reader_opts = _reader_options(units, joint_map, smpl_model_dir)
    rt_opts: dict[str, Any] = {"solve_fps": solve_fps} if solve_fps is not None else {}
    if out_fps is not None:
        rt_opts["out_fps"] = out_fps
    report = _run_with_progress(
        inputs,
        as_json=as_json,
        embodiment=embodiment,
        method=method,
        out_dir=out,
        workers=workers,
        force=force,
        overwrite=overwrite,
        reader_options=reader_opts,
        retarget_options=rt_opts,
    )
    if as_json:
        echo_json(report)
    else:
        _print_report(report)
        typer.echo(f"report: {out / 'report.json'}")
    if report["summary"]["failed"] == len(report["clips"]):
        raise typer.Exit(1)


def _check_run(
    inputs: list[Path],
    embodiment: str,
    method: str,
    units: str,
    solve_fps: float | None,
    out_fps: float | None,
) -> None:
    """Refuse what would fail every clip (an unknown name, a missing input, a bad unit or rate) before any work."""
    from mm_core import registry

    try:
        registry.get_embodiment(embodiment)
        registry.get_retargeter(method)
    except registry.RegistryError as e:
        raise fail(str(e)) from e
    missing = [str(p) for p in inputs if not p.is_file()]
    if missing:
        raise fail(f"no such input file(s): {', '.join(missing)}")
    from mm_retarget.readers import BVH_UNITS

    try:
        if units not in ("auto", *BVH_UNITS) and not float(units) > 0:
            raise ValueError
    except ValueError:
        raise fail(
            f"--units {units!r}: give auto, one of {', '.join(BVH_UNITS)}, or metres per unit (> 0)"
        ) from None
    if solve_fps is not None and (solve_fps < 0 or solve_fps != solve_fps):
        raise fail(f"--solve-fps {solve_fps}: give an IK rate in Hz (> 0), or 0 for the source's rate")
    if out_fps is not None and not (0 < out_fps < float("inf")):
        raise fail(
            f"--out-fps {out_fps}: give a frame rate in Hz (> 0), or leave it out for the control rate"
        )


def _reader_options(units: str, joint_map: Path | None, smpl_model_dir: Path | None) -> dict[str, Any]:
    """The readers' options; a joint map is checked once, here: a bad map is one error, not one per clip."""
    reader_opts: dict[str, Any] = {"units": units}
    if joint_map is not None:
        from mm_retarget.readers import load_joint_map

        try:
            load_joint_map(joint_map)
        except ValueError as e:
            raise fail(f"--joint-map {e}") from None
        reader_opts["joint_map"] = joint_map
    if smpl_model_dir is not None:
        reader_opts["smpl_model_dir"] = smpl_model_dir
    return reader_opts


def _run_with_progress(inputs: list[Path], *, as_json: bool, **batch: Any) -> dict[str, Any]:
    """:func:`~mm_retarget.batch.run_batch` with a progress bar (none with ``--json``)."""
    from rich.progress import Progress

    from mm_retarget.batch import run_batch

    with Progress(transient=True, disable=as_json) as progress:
        task = progress.add_task(f"retargeting onto {batch['embodiment']}", total=len(inputs))
        return run_batch(inputs, on_done=lambda r: progress.advance(task), **batch)


@app.command("report")
def report_cmd(
    out: Path = typer.Argument(..., help="A directory written by `mm retarget`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the per-clip metrics, failures with reasons and the summary of a retarget directory."""
    from mm_retarget.batch import load_report

    try:
        report = load_report(out)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from e
    echo_json(report) if as_json else _print_report(report)


@app.command("show")
def show(
    clip: Path = typer.Argument(..., help="A clip .npz written by `mm retarget`."),
    export_glb: Path | None = typer.Option(
        None, help="Write a GLB with the source skeleton and the posed model."
    ),
    frames: str = typer.Option("0", help="Frames to pose in the GLB, comma-separated (e.g. 0,50,100)."),
    spacing: float = typer.Option(
        1.0, help="GLB: metres between the posed frames along the model's left axis."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print a clip's metrics (and optionally export a GLB of chosen frames)."""
    from mm_core.contracts import ContractError, MotionClip

    try:
        c = MotionClip.load(clip)
    except ContractError as e:
        raise fail(str(e)) from e
    meta = c.metadata
    info = {
        "clip": str(clip),
        "embodiment": c.embodiment,
        "method": meta.get("method"),
        "source": c.source,
        "fps": c.fps,
        "frames": c.num_frames,
        "duration_s": c.duration,
        "metrics": meta.get("metrics", {}),
    }
    if not info["metrics"]:  # a clip made elsewhere: measure it now
        from mm_retarget.metrics import clip_metrics

        try:
            info["metrics"] = clip_metrics(c)
        except (ValueError, LookupError) as e:
            raise fail(f"{clip}: cannot measure it: {e}") from e
    if export_glb is not None:
        try:
            idx = [int(f) for f in frames.split(",") if f.strip()]
        except ValueError as e:
            raise fail(f"--frames must be comma-separated integers, got {frames!r}") from e
        bad = [i for i in idx if not 0 <= i < c.num_frames]
        if bad or not idx:
            raise fail(f"--frames {frames!r}: need frame numbers in 0..{c.num_frames - 1}")
        from mm_retarget.export import export_glb as write_glb

        try:
            info["glb"] = str(write_glb(c, export_glb, idx, spacing=spacing))
        except (ValueError, LookupError) as e:
            raise fail(str(e)) from e
    if as_json:
        echo_json(info)
        return
    for k, v in info.items():
        if k != "metrics":
            typer.echo(f"{k}: {v}")
    print_table(
        [{"metric": k, "value": v} for k, v in info["metrics"].items()], ["metric", "value"], title="metrics"
    )


@app.command("demo")
def demo(
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the demo motions (and clips with -e)."),
    embodiment: str | None = typer.Option(None, "--embodiment", "-e", help="Also retarget them onto this."),
    method: str = typer.Option("gmr-fit", "--method", "-m", help="Retargeter for -e."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write the generated demo motions (AMASS-style .npz from normative gait curves); -e also retargets them."""
    import shutil

    from mm_core.outputs import prepare_output_dir
    from mm_retarget.demo import MOTIONS, demo_motion_path

    prepare_output_dir(out, "retarget")
    (out / "motions").mkdir(parents=True, exist_ok=True)
    paths = []
    for name in MOTIONS:
        p = out / "motions" / f"demo_{name}.npz"
        shutil.copyfile(demo_motion_path(name), p)
        paths.append(p)
    result: dict[str, Any] = {"motions": [str(p) for p in paths]}
    if embodiment is not None:
        from mm_retarget.batch import run_batch

        result["report"] = run_batch(paths, embodiment=embodiment, method=method, out_dir=out, force=True)
    if as_json:
        echo_json(result)
        return
    typer.echo("\n".join(result["motions"]))
    if "report" in result:
        _print_report(result["report"])

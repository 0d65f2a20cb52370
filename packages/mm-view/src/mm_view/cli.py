"""``mm view``: the interactive web viewer. Light at import: typer only (viser, mujoco, torch load in the command)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer


def view(
    target: Path = typer.Argument(
        ..., help="A clip .npz, an `mm retarget` output directory, or a training run / checkpoint."
    ),
    motions: list[str] = typer.Option(
        None, "--motions", "-m", help="Run: the motion to roll out (clip name or file; default: the first)."
    ),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on; other than loopback, anyone who can reach it sees the data.",
    ),
    port: int = typer.Option(8080, "--port", help="Port (the next free one if taken; 0: any free port)."),
    browser: bool = typer.Option(
        True, "--browser/--no-browser", help="Open a browser where there is a desktop."
    ),
    device: str = typer.Option("cpu", "--device", help="Run: torch device for the rollout."),
) -> None:
    """Interactive 3-D viewer in the browser: a clip, a retarget directory (best clips first) or a policy."""
    from mm_core.cli import fail

    try:
        import viser  # noqa: F401
    except ImportError as e:
        raise fail(f"mm view needs viser, which is not installed: pip install mm-view ({e})") from e
    from mm_view.app import can_open_browser, is_loopback, start
    from mm_view.clips import ViewError

    if not is_loopback(host):
        typer.secho(
            f"warning: listening on {host}: anyone who can reach port {port} there can see this data",
            fg="yellow",
            err=True,
        )
    try:
        v = start(target, host=host, port=port, motions=list(motions) if motions else None, device=device)
    except (ViewError, ValueError, FileNotFoundError) as e:
        raise fail(str(e)) from e
    typer.echo(f"mm view: {v.what} at {v.url}  (Ctrl-C to stop)")
    if is_loopback(host):
        p = v.url.rsplit(":", 1)[1]
        typer.echo(
            f"from another machine: ssh -L {p}:localhost:{p} THIS_HOST, then open http://localhost:{p}"
        )
    if browser and can_open_browser():
        import webbrowser

        webbrowser.open(v.url)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    v.stop()
    typer.echo("mm view: stopped")


def register(app: typer.Typer) -> None:
    app.command("view")(view)

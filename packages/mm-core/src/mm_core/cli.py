"""The ``mm`` command. Installed packages add their commands through the ``mm_cli`` hook."""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import typer
import typer.core
from typer.exceptions import TyperException

from mm_core.plugins import PluginLoadError, get_plugin_manager

DEBUG_ENV = "MM_DEBUG"


def debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def is_expected(e: BaseException) -> bool:
    """Errors a user can cause (bad files, names, values; full or read-only disks; too little memory).

    mm's own error classes derive from ``ValueError`` (``ContractError``, ``CheckpointError``, ``ConfigError``...)
    or ``LookupError`` (``RegistryError``) and their messages name the file or field. A bare ``KeyError`` or
    ``IndexError`` is a bug, not an input error.
    """
    from mm_core.registry import RegistryError

    if isinstance(e, RegistryError | PluginLoadError | OSError | MemoryError) or _out_of_memory(e):
        return True
    return isinstance(e, ValueError)


def _out_of_memory(e: BaseException) -> bool:
    # torch.cuda.OutOfMemoryError, matched by name: mm-core never imports torch.
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError"


def report_exception(e: BaseException) -> int:
    """Print ``e`` for the user and return the exit code: 2 for expected errors, 1 for bugs (with traceback)."""
    if debug():
        traceback.print_exception(e)
    if is_expected(e):
        msg = str(e) or type(e).__name__
        if isinstance(e, OSError) and e.filename is not None and str(e.filename) not in msg:
            msg = f"{e.filename}: {msg}"
        if _out_of_memory(e):
            msg = f"out of memory ({msg.splitlines()[0]}); use fewer worlds, steps or clips"
        typer.secho(f"error: {msg}", fg="red", err=True)
        if not debug():
            typer.secho(f"(set {DEBUG_ENV}=1 for the traceback)", fg="bright_black", err=True)
        return 2
    if not debug():
        traceback.print_exception(e)
    typer.secho(
        f"error: unexpected {type(e).__name__}: {e}\nThis is a bug in mm: please report it with the traceback above.",
        fg="red",
        err=True,
    )
    return 1


class _ErrorBoundary(typer.core.TyperGroup):
    """The root group: expected errors from any command become one paragraph on stderr and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - this is the one place that turns errors into messages
            raise typer.Exit(report_exception(e)) from e


app = typer.Typer(
    cls=_ErrorBoundary,
    name="mm",
    help="mm: muscle-driven motion imitation at scale. Commands come from the installed mm packages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plugins_app = typer.Typer(
    help="Installed plugins: what they provide and whether they loaded.", no_args_is_help=True
)
app.add_typer(plugins_app, name="plugins")

#: Command -> distribution that provides it, so a missing one can say what to install.
KNOWN_COMMANDS = {
    "models": "mm-models",
    "sim": "mm-sim",
    "retarget": "mm-retarget",
    "train": "mm-rl",
    "eval": "mm-rl",
    "render": "mm-rl",
    "validate": "mm-validate",
    "view": "mm-view",
}


def echo_json(obj: Any) -> None:
    """Print strict JSON to stdout (the one machine-readable output of ``--json`` commands).

    NaN and infinity are not JSON: each is printed as ``null`` and named in a warning on stderr (it is a bug
    upstream to surface, not a value to hide in output that ``jq`` or a JSON parser would reject).
    """
    bad: list[str] = []
    text = json.dumps(_finite(obj, "", bad), indent=2, default=str, allow_nan=False)
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        typer.secho(f"warning: not a finite number, printed as null: {shown}", fg="yellow", err=True)
    typer.echo(text)


def _finite(obj: Any, where: str, bad: list[str]) -> Any:
    """``obj`` with every NaN/inf float replaced by None; their JSON paths (``a.b[2]``) are added to ``bad``."""
    if isinstance(obj, dict):
        return {k: _finite(v, f"{where}.{k}" if where else str(k), bad) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v, f"{where}[{i}]", bad) for i, v in enumerate(obj)]
    if (
        isinstance(obj, float)
        or getattr(obj, "dtype", None) is not None
        and obj.dtype.kind == "f"
        and obj.ndim == 0
    ):
        value = float(obj)
        if value != value or value in (float("inf"), float("-inf")):
            bad.append(where or "(value)")
            return None
        return value
    return obj


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print an error for the user and return the exit to raise: ``raise fail("...")``."""
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


def print_table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*(_fmt(r.get(c, "")) for c in columns))
    Console().print(table)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v))
    return "" if v is None else str(v)


@plugins_app.command("list")
def plugins_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List plugins: name, distribution, version, hooks, load status and error."""
    pm = get_plugin_manager()
    from mm_core import registry

    # Calling every record hook surfaces plugins whose hooks raise, not only those that fail to import.
    for kind in registry.KINDS.values():
        try:
            for problem in kind.problems():
                typer.secho(f"warning: {problem}", fg="yellow", err=True)
        except registry.RegistryError as e:
            typer.secho(f"warning: {e}", fg="yellow", err=True)
    rows = [i.to_dict() for i in pm.infos.values()]
    if as_json:
        echo_json(rows)
        return
    print_table(rows, ["name", "distribution", "version", "hooks", "status", "error"], title="mm plugins")


@plugins_app.command("check")
def plugins_check(
    name: str = typer.Argument(..., help="Plugin (entry-point) name, see `mm plugins list`."),
) -> None:
    """Run the conformance kit (mm_core.testing) on everything plugin NAME contributes."""
    pm = get_plugin_manager()
    if name not in pm.infos:
        raise fail(f"no plugin named {name!r}; installed: {', '.join(sorted(pm.infos)) or '(none)'}")
    info = pm.infos[name]
    if info.status != "loaded":
        raise fail(f"plugin {name!r} did not load: {info.error}")
    try:
        from mm_core.testing import check_plugin
    except ImportError as e:
        raise fail(
            f"the conformance kit needs the testing extra: pip install 'mm-core[testing]' ({e})"
        ) from e
    from mm_core import registry

    results = check_plugin(name)
    clashes = [p for k in registry.KINDS.values() for p in k.problems() if repr(name) in p]
    for p in clashes:
        typer.echo(f"{typer.style('FAIL', fg='red')} {p}")
    if clashes and not results:
        raise typer.Exit(1)
    if not results:
        typer.echo(
            f"plugin {name!r} contributes no records to check (hooks: {', '.join(info.hooks) or 'none'})"
        )
        return
    ok = not clashes
    for item, checks in results.items():
        for c in checks:
            ok &= c.ok
            mark = typer.style("PASS", fg="green") if c.ok else typer.style("FAIL", fg="red")
            typer.echo(f"{mark} {item} {c.name}: {c.detail}")
    if not ok:
        raise typer.Exit(1)


def _missing(command: str, dist: str) -> None:
    def stub(ctx: typer.Context) -> None:
        raise fail(f"`mm {command}` is provided by {dist}, which is not installed: pip install {dist}")

    stub.__doc__ = f"(not installed: pip install {dist})"
    app.command(
        command,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(stub)


_built = False


def build_app() -> typer.Typer:
    """Add the commands of every installed package (once per process) and return the app."""
    global _built
    if _built:
        return app
    _built = True
    pm = get_plugin_manager()
    pm.call_each("mm_cli", app=app)
    have = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for command, dist in KNOWN_COMMANDS.items():
        if command not in have:
            _missing(command, dist)
    return app


def main() -> None:
    build_app()
    try:
        app()
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="yellow", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

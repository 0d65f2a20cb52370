"""The ``models`` plugin: registers the built-in embodiments and the ``mm models`` commands.

Light on purpose (no MuJoCo at import): models are built only when a spec is compiled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mm_core import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import typer

    from mm_core.contracts import EmbodimentSpec


@hookimpl
def mm_embodiments() -> list[EmbodimentSpec]:
    from mm_models.embodiments import builtin_embodiments

    return builtin_embodiments()


@hookimpl
def mm_cli(app: typer.Typer) -> None:
    from mm_models.cli import models_app

    app.add_typer(models_app, name="models")

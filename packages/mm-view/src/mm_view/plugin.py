"""mm-view's plugin: the ``mm view`` command. Light: viser and mujoco are imported by the command."""

from __future__ import annotations

from typing import Any

from mm_core import hookimpl


@hookimpl
def mm_cli(app: Any) -> None:
    from mm_view.cli import register

    register(app)

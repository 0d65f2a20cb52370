"""mm-rl's plugin: the ``mm train``, ``mm eval`` and ``mm render`` commands. Light: no torch at import."""

from __future__ import annotations

from typing import Any

from mm_core import hookimpl


@hookimpl
def mm_cli(app: Any) -> None:
    from mm_rl.cli import register

    register(app)

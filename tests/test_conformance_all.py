"""Every embodiment any installed plugin registers passes the conformance kit, Warp parity included.

Runs on CPU: MuJoCo Warp uses Warp's CPU device when there is no CUDA. Measured on the shared 2-core machine: with
Warp's kernel cache warm (~/.cache/warp) the whole file takes ~25 s (the Warp check ~2 s per full-body model);
with a cold cache the first Warp checks compile the kernels and the file takes ~4 min.
"""

from __future__ import annotations

import pytest

from mm_core import testing
from mm_core.registry import embodiments, get_embodiment


def _cases() -> list:
    return [
        pytest.param(name, check, id=f"{name}-{check}")
        for name in embodiments.names()
        for check in testing.EMBODIMENT_CHECKS
    ]


def test_registry_has_the_builtin_and_example_embodiments() -> None:
    names = set(embodiments.names())
    assert {"myofullbody", "myofullbody-nofingers", "bimanual", "bimanual-nofingers", "tiny"} <= names
    assert "hopper" in names, (
        "the example plugin mm-plugin-hopper is a workspace member and should be installed"
    )


@pytest.mark.parametrize(("name", "check"), _cases())
def test_conformance(name: str, check: str) -> None:
    testing.EMBODIMENT_CHECKS[check](get_embodiment(name))

"""Which distribution provides each built-in name, so a lookup of one that is not installed says what to install.

The mm packages install separately (``pip install mm-rl`` need not bring every retargeter), so ``tiny`` may be
unknown only because ``mm-models`` is missing. ``tests/test_packaging.py`` checks this table against the
plugins that really provide each name.
"""

from __future__ import annotations

#: hook -> built-in name -> the distribution that provides it (the names users type on the command line).
BUILTIN_PROVIDERS: dict[str, dict[str, str]] = {
    "mm_embodiments": dict.fromkeys(
        ("tiny", "myofullbody", "myofullbody-nofingers", "bimanual", "bimanual-nofingers"), "mm-models"
    ),
    "mm_retargeters": dict.fromkeys(("gmr-fit", "mocap-body"), "mm-retarget"),
    "mm_motion_readers": dict.fromkeys(("amass", "bvh"), "mm-retarget"),
    "mm_sim_backends": dict.fromkeys(("warp", "mujoco"), "mm-sim"),
    "mm_reference_datasets": dict.fromkeys(
        (
            "schwartz2008-walking-very-slow",
            "schwartz2008-walking-slow",
            "schwartz2008-walking-free",
            "schwartz2008-walking-fast",
            "schwartz2008-walking-very-fast",
            "bmcric-running",
        ),
        "mm-validate",
    ),
}


def install_hint(hook: str, name: str) -> str:
    """``"; 'tiny' is built into mm-models: pip install mm-models"`` for a built-in name, else ``""``."""
    from importlib.metadata import PackageNotFoundError, distribution

    dist = BUILTIN_PROVIDERS.get(hook, {}).get(name)
    if dist is None:
        return ""
    try:
        distribution(dist)
        return ""  # installed: its plugin failed to load or was disabled, which the caller reports
    except PackageNotFoundError:
        return f"; {name!r} is built into {dist}, which is not installed: pip install {dist}"

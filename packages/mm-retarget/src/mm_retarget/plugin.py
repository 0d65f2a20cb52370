"""mm-retarget's registrations (the ``mm`` entry point). Light: heavy modules load inside the callables."""

from __future__ import annotations

from typing import Any

from mm_core import hookimpl
from mm_core.records import MotionReader, Retargeter


def _read_amass(path: Any, **options: Any) -> Any:
    from mm_retarget.readers import read_amass

    return read_amass(path, **options)


def _read_bvh(path: Any, **options: Any) -> Any:
    from mm_retarget.readers import read_bvh

    return read_bvh(path, **options)


def _gmr_fit(source: Any, embodiment: Any, **options: Any) -> Any:
    from mm_retarget.retarget import retarget

    return retarget(source, embodiment, method="gmr-fit", **options)


def _mocap_body(source: Any, embodiment: Any, **options: Any) -> Any:
    from mm_retarget.retarget import retarget

    return retarget(source, embodiment, method="mocap-body", **options)


@hookimpl
def mm_motion_readers() -> list[MotionReader]:
    return [
        MotionReader(
            name="amass",
            suffixes=(".npz",),
            read=_read_amass,
            description="AMASS-style SMPL/SMPL-H/SMPL-X .npz (z up, metres); smplx for shape if model files given",
        ),
        MotionReader(
            name="bvh",
            suffixes=(".bvh",),
            read=_read_bvh,
            description="BVH via pybvh; CMU joint map built in (joint_map= for others), units and up axis detected",
        ),
    ]


@hookimpl
def mm_retargeters() -> list[Retargeter]:
    return [
        Retargeter(
            name="gmr-fit",
            retarget=_gmr_fit,
            description="segment-scale fit + mink differential IK with joint limits and couplings, grounded, "
            "at the embodiment's control rate",
        ),
        Retargeter(
            name="mocap-body",
            retarget=_mocap_body,
            description="baseline: scaled source, unconstrained IK (no limits, no couplings), one ground shift",
        ),
    ]


@hookimpl
def mm_cli(app: Any) -> None:
    from mm_retarget.cli import register

    register(app)

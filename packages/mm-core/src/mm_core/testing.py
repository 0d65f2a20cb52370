"""Conformance kit for plugin authors.

Run it from your plugin's tests by subclassing::

    from mm_core.testing import EmbodimentConformance

    class TestMyArm(EmbodimentConformance):
        embodiment_name = "my-arm"

or from the shell: ``mm plugins check my_plugin``. It checks that the model compiles with the embodiment's physics
options, names are unique, tracked sites and the SMPL joint map are consistent, and that a few steps run without
NaN on C MuJoCo and on MuJoCo Warp (CUDA, or Warp's CPU device) and agree within :data:`WARP_QPOS_TOL`.
Needs the ``testing`` extra (``pip install 'mm-core[testing]'``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mm_core.contracts import SMPL_JOINTS, EmbodimentSpec
from mm_core.registry import KINDS, get_embodiment

#: Control steps run by the step checks (each is ``physics.substeps`` physics steps).
CONFORMANCE_STEPS = 5
#: Max |qpos_warp - qpos_c| after CONFORMANCE_STEPS control steps from the same state and ctrl. Both run the same
#: float32-vs-float64 maths; the measured gap on the built-in models is ~1e-6..1e-5 (MyoFullBody, 25 physics steps).
WARP_QPOS_TOL = 1e-3
#: Constraint-solver iterations for the parity check. With the training settings (4 iterations) the two solvers
#: stop at different unconverged iterates where a joint presses on its limit (MyoBimanualArm with fingers: 2.1e-3
#: on pm2_flexion_r after 5 control steps; 3.8e-6 with 10 iterations), which says nothing about model parity.
PARITY_SOLVER_ITERATIONS = 50


class ConformanceError(AssertionError):
    """A contribution does not meet the contract; the message says what and how to fix it."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""


def _names(m: Any, objtype: Any, n: int) -> list[str]:
    import mujoco

    return [mujoco.mj_id2name(m, objtype, i) or "" for i in range(n)]


def check_compiles(emb: EmbodimentSpec) -> str:
    m = emb.compile()
    p = emb.physics
    if abs(m.opt.timestep - p.timestep) > 1e-12 or m.opt.iterations != p.iterations:
        raise ConformanceError(f"{emb.name}: compiled options differ from the embodiment's physics options")
    return f"nq={m.nq} nv={m.nv} nu={m.nu} ntendon={m.ntendon}"


def check_names_unique(emb: EmbodimentSpec) -> str:
    import mujoco

    m = emb.compile()
    o = mujoco.mjtObj
    for label, objtype, n in (
        ("joint", o.mjOBJ_JOINT, m.njnt),
        ("body", o.mjOBJ_BODY, m.nbody),
        ("site", o.mjOBJ_SITE, m.nsite),
        ("actuator", o.mjOBJ_ACTUATOR, m.nu),
        ("tendon", o.mjOBJ_TENDON, m.ntendon),
    ):
        names = [x for x in _names(m, objtype, n) if x]
        dups = sorted({x for x in names if names.count(x) > 1})
        if dups:
            raise ConformanceError(f"{emb.name}: duplicate {label} names {dups[:5]}")
        if label in ("joint", "actuator") and len(names) != n:
            raise ConformanceError(f"{emb.name}: every {label} needs a name ({n - len(names)} unnamed)")
    return "joints, bodies, sites, actuators, tendons unique"


def check_sites_and_map(emb: EmbodimentSpec) -> str:
    import mujoco

    m = emb.compile()
    sites = set(_names(m, mujoco.mjtObj.mjOBJ_SITE, m.nsite))
    missing = [s for s in emb.tracked_sites if s not in sites]
    if missing:
        raise ConformanceError(f"{emb.name}: tracked sites not in the model: {missing}")
    if len(set(emb.tracked_sites)) != len(emb.tracked_sites):
        raise ConformanceError(f"{emb.name}: tracked_sites has duplicates")
    bad = {j: s for j, s in emb.smpl_joint_map.items() if s not in emb.tracked_sites}
    if bad:
        raise ConformanceError(f"{emb.name}: smpl_joint_map points at untracked sites {bad}")
    unknown = [j for j in emb.smpl_joint_map if j not in SMPL_JOINTS]
    if unknown:
        raise ConformanceError(f"{emb.name}: smpl_joint_map has unknown SMPL joints {unknown}")
    if len(set(emb.smpl_joint_map.values())) != len(emb.smpl_joint_map):
        raise ConformanceError(f"{emb.name}: two SMPL joints map to the same site")
    sensors = set(_names(m, mujoco.mjtObj.mjOBJ_SENSOR, m.nsensor))
    if missing := [s for s in emb.touch_sensors if s not in sensors]:
        raise ConformanceError(f"{emb.name}: touch sensors not in the model: {missing}")
    bodies = set(_names(m, mujoco.mjtObj.mjOBJ_BODY, m.nbody))
    for side, feet in emb.feet.items():
        if missing := [b for b in feet if b not in bodies]:
            raise ConformanceError(f"{emb.name}: feet[{side!r}] names bodies not in the model: {missing}")
    for group, acts in emb.muscle_groups.items():
        names = set(_names(m, mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu))
        if missing := [a for a in acts if a not in names]:
            raise ConformanceError(
                f"{emb.name}: muscle group {group!r} names unknown actuators {missing[:5]}"
            )
    return f"{len(emb.tracked_sites)} tracked sites, {len(emb.smpl_joint_map)} SMPL joints mapped"


def _initial_state(emb: EmbodimentSpec) -> tuple[Any, Any, np.ndarray]:
    import mujoco

    m = emb.compile()
    d = mujoco.MjData(m)
    if emb.default_keyframe is not None:
        mujoco.mj_resetDataKeyframe(m, d, m.key(emb.default_keyframe).id)
    mujoco.mj_forward(m, d)
    ctrl = np.random.default_rng(0).uniform(0.0, 1.0, m.nu)
    return m, d, ctrl


def c_mujoco_rollout(emb: EmbodimentSpec, steps: int = CONFORMANCE_STEPS) -> np.ndarray:
    """qpos after ``steps`` control steps of C MuJoCo from the initial state with a fixed random ctrl."""
    import mujoco

    m, d, ctrl = _initial_state(emb)
    d.ctrl[:] = ctrl
    for _ in range(steps * emb.physics.substeps):
        mujoco.mj_step(m, d)
    if not (np.all(np.isfinite(d.qpos)) and np.all(np.isfinite(d.qvel))):
        raise ConformanceError(f"{emb.name}: C MuJoCo state went non-finite within {steps} control steps")
    return d.qpos.copy()


def warp_rollout(emb: EmbodimentSpec, steps: int = CONFORMANCE_STEPS) -> np.ndarray:
    """The same rollout on MuJoCo Warp (CUDA if available, else Warp's CPU device)."""
    import mujoco_warp as mjw
    import warp as wp

    # No per-kernel load lines in `mm plugins check` (INFO level in newer Warp, `quiet` in older).
    if hasattr(wp, "LOG_WARNING"):
        wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)
    wp.config.quiet = True
    m, d, ctrl = _initial_state(emb)
    d.ctrl[:] = ctrl
    device = "cuda:0" if wp.is_cuda_available() else "cpu"
    with wp.ScopedDevice(device):
        wm = mjw.put_model(m)
        wd = mjw.put_data(m, d, nworld=1, nconmax=emb.physics.nconmax, njmax=emb.physics.njmax)
        for _ in range(steps * emb.physics.substeps):
            mjw.step(wm, wd)
        qpos = wd.qpos.numpy()[0].astype(np.float64)
    if not np.all(np.isfinite(qpos)):
        raise ConformanceError(f"{emb.name}: MuJoCo Warp state went non-finite within {steps} control steps")
    return qpos


def check_c_mujoco_steps(emb: EmbodimentSpec) -> str:
    c_mujoco_rollout(emb)
    return f"{CONFORMANCE_STEPS} control steps finite"


def check_warp_agrees(emb: EmbodimentSpec) -> str:
    import dataclasses

    p = emb.physics
    iters = max(p.iterations, PARITY_SOLVER_ITERATIONS)
    emb = dataclasses.replace(
        emb, physics=dataclasses.replace(p, iterations=iters, ls_iterations=max(p.ls_iterations, iters))
    )
    ref, got = c_mujoco_rollout(emb), warp_rollout(emb)
    err = float(np.max(np.abs(ref - got)))
    if err > WARP_QPOS_TOL:
        raise ConformanceError(
            f"{emb.name}: MuJoCo Warp qpos differs from C MuJoCo by {err:.2e} > {WARP_QPOS_TOL:.0e} after "
            f"{CONFORMANCE_STEPS} control steps"
        )
    return f"max |dqpos| = {err:.1e} (tol {WARP_QPOS_TOL:.0e}, solver iterations {iters})"


EMBODIMENT_CHECKS: dict[str, Callable[[EmbodimentSpec], str]] = {
    "compiles": check_compiles,
    "names_unique": check_names_unique,
    "sites_and_smpl_map": check_sites_and_map,
    "c_mujoco_steps": check_c_mujoco_steps,
    "warp_agrees_with_c": check_warp_agrees,
}


def check_record(hook: str, record: Any) -> list[CheckResult]:
    """Run the checks for one contributed record (all checks for an embodiment; basic ones for the rest)."""
    if isinstance(record, EmbodimentSpec):
        out = []
        for name, fn in EMBODIMENT_CHECKS.items():
            try:
                out.append(CheckResult(name, True, fn(record)))
            except Exception as e:  # report every failing check, not just the first
                out.append(CheckResult(name, False, f"{type(e).__name__}: {e}"))
        return out
    callables = [v for k, v in vars(record).items() if k in ("fn", "read", "retarget", "factory", "load")]
    ok = all(callable(c) for c in callables) and bool(record.name)
    return [
        CheckResult("record", ok, f"{hook} {record.name!r}" + ("" if ok else ": missing name or callable"))
    ]


def check_plugin(plugin_name: str) -> dict[str, list[CheckResult]]:
    """Run the conformance kit on everything one plugin contributes: ``"hook:name" -> results``."""
    results: dict[str, list[CheckResult]] = {}
    for hook, kind in KINDS.items():
        for name, (provider, rec) in kind.items().items():
            if provider == plugin_name:
                results[f"{hook}:{name}"] = check_record(hook, rec)
    return results


class EmbodimentConformance:
    """Subclass in your tests and set ``embodiment_name`` (or override ``embodiment``)."""

    embodiment_name: str = ""

    def embodiment(self) -> EmbodimentSpec:
        if not self.embodiment_name:
            raise ConformanceError(f"{type(self).__name__}: set embodiment_name to the registry name")
        return get_embodiment(self.embodiment_name)

    def test_compiles(self) -> None:
        check_compiles(self.embodiment())

    def test_names_unique(self) -> None:
        check_names_unique(self.embodiment())

    def test_sites_and_smpl_map(self) -> None:
        check_sites_and_map(self.embodiment())

    def test_c_mujoco_steps(self) -> None:
        check_c_mujoco_steps(self.embodiment())

    def test_warp_agrees_with_c(self) -> None:
        check_warp_agrees(self.embodiment())

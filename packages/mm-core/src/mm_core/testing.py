"""Conformance kit for plugin authors: a suite per extension kind that calls the contribution on real inputs,
through the registry by its name, and checks its contract.

Run it from your plugin's tests by subclassing (pytest collects the ``test_*`` methods)::

    from mm_core.testing import EmbodimentConformance

    class TestMyArm(EmbodimentConformance):
        embodiment_name = "my-arm"

or call the ``check_*`` functions, or from the shell: ``mm plugins check my_plugin`` (the suites that need no
inputs from you). Kinds: embodiments (:data:`EMBODIMENT_CHECKS`: compiles with its physics options, unique names,
tracked sites / SMPL map consistent, steps finite on C MuJoCo, the registered ``warp`` backend agreeing with the
registered ``mujoco`` one within :data:`WARP_QPOS_TOL`); simulation backends (:data:`BACKEND_CHECKS`); motion readers (:func:`check_motion_reader`, :func:`check_reader_rejects_bad_files`);
retargeters (:func:`check_retargeter`); validation metrics (:func:`check_validation_metric`); reference datasets
(:func:`check_reference_dataset`). Needs the ``testing`` extra (``pip install 'mm-core[testing]'``). The task-term
suites (observation, reward, termination) run the imitation task, so they live in mm-sim: :mod:`mm_sim.testing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
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


def initial_state(emb: EmbodimentSpec, model: Any = None) -> tuple[Any, Any, np.ndarray]:
    """(model, MjData at the embodiment's initial state after mj_forward, a fixed random ctrl (nu,))."""
    import mujoco

    m = model if model is not None else emb.compile()
    d = mujoco.MjData(m)
    if emb.default_keyframe is not None:
        mujoco.mj_resetDataKeyframe(m, d, m.key(emb.default_keyframe).id)
    mujoco.mj_forward(m, d)
    ctrl = np.random.default_rng(0).uniform(0.0, 1.0, m.nu)
    return m, d, ctrl


def c_mujoco_rollout(emb: EmbodimentSpec, steps: int = CONFORMANCE_STEPS) -> np.ndarray:
    """qpos after ``steps`` control steps of C MuJoCo from the initial state with a fixed random ctrl."""
    import mujoco

    m, d, ctrl = initial_state(emb)
    d.ctrl[:] = ctrl
    for _ in range(steps * emb.physics.substeps):
        mujoco.mj_step(m, d)
    if not (np.all(np.isfinite(d.qpos)) and np.all(np.isfinite(d.qvel))):
        raise ConformanceError(f"{emb.name}: C MuJoCo state went non-finite within {steps} control steps")
    return d.qpos.copy()


def _host_start(sim: Any, emb: EmbodimentSpec) -> tuple[Any, np.ndarray]:
    """Put every world of ``sim`` in the embodiment's initial state; returns (MjData of it, ctrl (N, nu))."""
    import torch

    _, d, _ = initial_state(emb, sim.model)
    n, nu = sim.num_worlds, sim.model.nu
    ctrl = np.random.default_rng(0).uniform(0.0, 1.0, (n, nu))
    for f in ("qpos", "qvel", "act"):
        getattr(sim, f)[:] = torch.as_tensor(getattr(d, f), dtype=getattr(sim, f).dtype)
    sim.forward()
    return d, ctrl


def _step_with(sim: Any, ctrl: np.ndarray, steps: int) -> None:
    import torch

    for _ in range(steps):
        sim.ctrl[:] = torch.as_tensor(ctrl, dtype=sim.ctrl.dtype)
        sim.step()


def make_backend(
    name: str, emb: EmbodimentSpec, num_worlds: int, *, device: str | None = "cpu", model: Any = None
) -> Any:
    """The simulation backend registered as ``name``, built through the registry for ``emb`` (its compiled model,
    or ``model``) and ``num_worlds`` worlds."""
    from mm_core.registry import get_sim_backend

    rec = get_sim_backend(name)
    if not rec.is_available():
        raise ConformanceError(f"simulation backend {name!r} is not available here ({rec.description})")
    return rec.factory(model if model is not None else emb.compile(), num_worlds, emb.physics, device)


def backend_rollout(emb: EmbodimentSpec, backend: str, steps: int = CONFORMANCE_STEPS) -> np.ndarray:
    """qpos (nq,) after ``steps`` control steps of the registered ``backend`` (one world, on its default device)
    from the initial state with the fixed random ctrl of :func:`c_mujoco_rollout`."""
    m, _, ctrl = initial_state(emb)
    sim = make_backend(backend, emb, 1, device=None, model=m)
    try:
        _host_start(sim, emb)
        _step_with(sim, ctrl[None], steps)
        qpos = sim.qpos[0].detach().cpu().double().numpy()
    finally:
        _close(sim)
    if not np.all(np.isfinite(qpos)):
        raise ConformanceError(
            f"{emb.name}: backend {backend!r} state went non-finite within {steps} control steps"
        )
    return qpos


def check_c_mujoco_steps(emb: EmbodimentSpec) -> str:
    c_mujoco_rollout(emb)
    return f"{CONFORMANCE_STEPS} control steps finite"


def _parity_physics(emb: EmbodimentSpec) -> EmbodimentSpec:
    import dataclasses

    p = emb.physics
    iters = max(p.iterations, PARITY_SOLVER_ITERATIONS)
    return dataclasses.replace(
        emb, physics=dataclasses.replace(p, iterations=iters, ls_iterations=max(p.ls_iterations, iters))
    )


def check_warp_agrees(emb: EmbodimentSpec) -> str:
    """The registered ``warp`` backend (CUDA, or Warp's CPU device) against the registered ``mujoco`` backend."""
    _quiet_warp()
    emb = _parity_physics(emb)
    ref, got = backend_rollout(emb, "mujoco"), backend_rollout(emb, "warp")
    err = float(np.max(np.abs(ref - got)))
    if err > WARP_QPOS_TOL:
        raise ConformanceError(
            f"{emb.name}: MuJoCo Warp qpos differs from C MuJoCo by {err:.2e} > {WARP_QPOS_TOL:.0e} after "
            f"{CONFORMANCE_STEPS} control steps"
        )
    return f"max |dqpos| = {err:.1e} (tol {WARP_QPOS_TOL:.0e}, solver iterations {emb.physics.iterations})"


def _quiet_warp() -> None:
    """No per-kernel load lines in `mm plugins check` (INFO level in newer Warp, `quiet` in older)."""
    try:
        import warp as wp
    except ImportError:
        return
    if hasattr(wp, "LOG_WARNING"):
        wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)
    wp.config.quiet = True


EMBODIMENT_CHECKS: dict[str, Callable[[EmbodimentSpec], str]] = {
    "compiles": check_compiles,
    "names_unique": check_names_unique,
    "sites_and_smpl_map": check_sites_and_map,
    "c_mujoco_steps": check_c_mujoco_steps,
    "warp_agrees_with_c": check_warp_agrees,
}


# ------------------------------------------------------------------------------------------------ sim backends
#: Worlds in the backend checks: 3, so that a (field, world) layout shows as a wrong shape on most models.
BACKEND_WORLDS = 3
#: Control steps of the backend checks.
BACKEND_STEPS = 5
#: Embodiment the backend checks run on by default (mm-models' ``tiny``: 16 muscles, contacts, fixed root).
BACKEND_EMBODIMENT = "tiny"


def state_shapes(m: Any) -> dict[str, tuple[int, ...]]:
    """Per-world shape of every state tensor a backend exposes (``mm_sim.backends.base``: world-first, MuJoCo's
    names and layouts)."""
    return {
        "qpos": (m.nq,),
        "qvel": (m.nv,),
        "act": (m.na,),
        "ctrl": (m.nu,),
        "qacc_warmstart": (m.nv,),
        "actuator_length": (m.nu,),
        "actuator_velocity": (m.nu,),
        "actuator_force": (m.nu,),
        "sensordata": (m.nsensordata,),
        "xpos": (m.nbody, 3),
        "xquat": (m.nbody, 4),
        "site_xpos": (m.nsite, 3),
        "site_xmat": (m.nsite, 3, 3),
        "cvel": (m.nbody, 6),
        "subtree_com": (m.nbody, 3),
    }


def _c_reference(model: Any, d0: Any, ctrl: np.ndarray, steps: int, substeps: int) -> list[Any]:
    """One MjData per world, stepped by C MuJoCo from ``d0`` with ctrl (N, nu), kinematics recomputed after."""
    import mujoco

    out = []
    for u in ctrl:
        d = mujoco.MjData(model)
        d.qpos[:], d.qvel[:], d.act[:] = d0.qpos, d0.qvel, d0.act
        mujoco.mj_forward(model, d)
        d.ctrl[:] = u
        for _ in range(steps * substeps):
            mujoco.mj_step(model, d)
        mujoco.mj_kinematics(model, d)
        out.append(d)
    return out


def _close(sim: Any) -> None:
    if hasattr(sim, "close"):
        sim.close()


def check_backend_state_tensors(backend: str, emb: EmbodimentSpec) -> str:
    """Every state tensor is a torch tensor (N, ...) with MuJoCo's name and layout; ``nonfinite`` is bool (N,)."""
    import torch

    n = BACKEND_WORLDS
    sim = make_backend(backend, emb, n)
    try:
        if sim.num_worlds != n or sim.substeps != emb.physics.substeps:
            raise ConformanceError(
                f"backend {backend!r}: num_worlds={sim.num_worlds}, substeps={sim.substeps}; built with {n} worlds "
                f"and physics.substeps={emb.physics.substeps}"
            )
        _step_with(sim, np.full((n, sim.model.nu), 0.5), 1)
        for f, shape in state_shapes(sim.model).items():
            t = getattr(sim, f, None)
            if not isinstance(t, torch.Tensor):
                raise ConformanceError(
                    f"backend {backend!r}: sim.{f} must be a torch tensor, got {type(t).__name__}"
                )
            if tuple(t.shape) != (n, *shape):
                raise ConformanceError(
                    f"backend {backend!r}: sim.{f} has shape {tuple(t.shape)}; expected (num_worlds, ...) = "
                    f"{(n, *shape)} (world dimension first, MuJoCo's layout)"
                )
            if not t.is_floating_point():
                raise ConformanceError(f"backend {backend!r}: sim.{f} must be floating point, got {t.dtype}")
        nf = getattr(sim, "nonfinite", None)
        if not isinstance(nf, torch.Tensor) or nf.dtype != torch.bool or tuple(nf.shape) != (n,):
            raise ConformanceError(
                f"backend {backend!r}: sim.nonfinite must be a bool tensor ({n},), got {nf!r}"
            )
    finally:
        _close(sim)
    return f"{len(state_shapes(sim.model))} state tensors (N, ...) with MuJoCo's names, nonfinite (N,)"


def check_backend_matches_c(backend: str, emb: EmbodimentSpec) -> str:
    """Each world, with its own ctrl, follows C MuJoCo (``mj_step`` x substeps, then kinematics): qpos and site
    positions after :data:`BACKEND_STEPS` control steps, within :data:`WARP_QPOS_TOL` (solver iterations raised to
    :data:`PARITY_SOLVER_ITERATIONS`, see there)."""
    import torch

    emb = _parity_physics(emb)
    n = BACKEND_WORLDS
    sim = make_backend(backend, emb, n)
    try:
        d0, ctrl = _host_start(sim, emb)
        _step_with(sim, ctrl, BACKEND_STEPS)
        qpos = sim.qpos.detach().cpu().double().numpy()
        sites = sim.site_xpos.detach().cpu().double().numpy()
        if bool(torch.as_tensor(sim.nonfinite).any()):
            raise ConformanceError(
                f"backend {backend!r}: worlds {sim.nonfinite.nonzero().flatten().tolist()} "
                "flagged non-finite in a run C MuJoCo keeps finite"
            )
    finally:
        _close(sim)
    ref = _c_reference(sim.model, d0, ctrl, BACKEND_STEPS, emb.physics.substeps)
    err = max(float(np.max(np.abs(qpos[w] - d.qpos))) for w, d in enumerate(ref))
    serr = max(float(np.max(np.abs(sites[w] - d.site_xpos))) for w, d in enumerate(ref))
    moved = max(float(np.max(np.abs(d.qpos - d0.qpos))) for d in ref)
    if max(err, serr) > WARP_QPOS_TOL:
        raise ConformanceError(
            f"backend {backend!r} on {emb.name!r}: after {BACKEND_STEPS} control steps with a different ctrl per "
            f"world, max |qpos - C MuJoCo| = {err:.2e}, max |site_xpos - C MuJoCo| = {serr:.2e} > "
            f"{WARP_QPOS_TOL:.0e} (the state moved by {moved:.2e}); check that world w reads ctrl[w] and writes "
            "qpos[w], that one step is physics.substeps physics steps, and that kinematics run after them"
        )
    return f"max |dqpos| = {err:.1e}, max |dsite_xpos| = {serr:.1e} over {n} worlds (state moved {moved:.1e})"


def check_backend_forward_resets(backend: str, emb: EmbodimentSpec) -> str:
    """``forward(worlds)`` after writing qpos/qvel/act of one world recomputes that world (as ``mj_forward``)
    and leaves the others alone: how the task resets worlds."""
    import torch

    n = BACKEND_WORLDS
    sim = make_backend(backend, emb, n)
    try:
        d0, ctrl = _host_start(sim, emb)
        _step_with(sim, ctrl, 2)
        before = sim.site_xpos.detach().cpu().double().numpy().copy()
        mask = torch.zeros(n, dtype=torch.bool, device=sim.qpos.device)
        mask[0] = True
        for f in ("qpos", "qvel", "act"):
            getattr(sim, f)[0] = torch.as_tensor(getattr(d0, f), dtype=getattr(sim, f).dtype)
        sim.forward(mask)
        after = sim.site_xpos.detach().cpu().double().numpy()
    finally:
        _close(sim)
    reset_err = float(np.max(np.abs(after[0] - d0.site_xpos)))
    others = float(np.max(np.abs(after[1:] - before[1:])))
    if reset_err > WARP_QPOS_TOL:
        raise ConformanceError(
            f"backend {backend!r}: after writing world 0's initial state and forward(worlds=[0]), its site_xpos "
            f"differs from mj_forward by {reset_err:.2e}; forward must recompute the derived fields"
        )
    if others > 0:
        raise ConformanceError(
            f"backend {backend!r}: forward(worlds=[0]) changed the other worlds' site_xpos by {others:.2e}"
        )
    return f"reset world matches mj_forward ({reset_err:.1e}); other worlds untouched"


def check_backend_deterministic(backend: str, emb: EmbodimentSpec) -> str:
    """Two backends from the same state and ctrl give bit-identical qpos/qvel/act."""
    n = BACKEND_WORLDS
    states = []
    for _ in range(2):
        sim = make_backend(backend, emb, n)
        try:
            _, ctrl = _host_start(sim, emb)
            _step_with(sim, ctrl, BACKEND_STEPS)
            states.append({f: getattr(sim, f).detach().cpu().clone() for f in ("qpos", "qvel", "act")})
        finally:
            _close(sim)
    diff = {f: float((states[0][f] - states[1][f]).abs().max()) for f in states[0]}
    if any(v != 0 for v in diff.values()):
        raise ConformanceError(
            f"backend {backend!r} is not deterministic: two identical runs differ by {diff}"
        )
    return f"two runs of {BACKEND_STEPS} control steps bit-identical"


def check_backend_flags_nonfinite(backend: str, emb: EmbodimentSpec) -> str:
    """A world given a NaN velocity is flagged in ``nonfinite`` after the step; the other worlds are not."""
    import warnings

    n = BACKEND_WORLDS
    sim = make_backend(backend, emb, n)
    try:
        _, ctrl = _host_start(sim, emb)
        sim.qvel[1] = float("nan")
        with warnings.catch_warnings():  # C MuJoCo warns that it reset the world: expected here
            warnings.simplefilter("ignore")
            _step_with(sim, ctrl, 1)
        flagged = sim.nonfinite.detach().cpu().tolist()
    finally:
        _close(sim)
    if flagged != [w == 1 for w in range(n)]:
        raise ConformanceError(
            f"backend {backend!r}: world 1 was given NaN qvel; nonfinite after the step is {flagged}, expected "
            "only world 1 flagged"
        )
    return "a NaN world is flagged, the others are not"


BACKEND_CHECKS: dict[str, Callable[[str, EmbodimentSpec], str]] = {
    "state_tensors": check_backend_state_tensors,
    "matches_c_mujoco": check_backend_matches_c,
    "forward_resets_worlds": check_backend_forward_resets,
    "deterministic": check_backend_deterministic,
    "flags_nonfinite": check_backend_flags_nonfinite,
}


# ------------------------------------------------------------------------------------------------ motion readers
#: Frame rates a motion-capture reader may return (Hz): a value outside is a unit mistake, not a capture.
READER_FPS_RANGE = (10.0, 1000.0)
#: Extent of a human's joints in one frame (m): outside it the reader got the units wrong.
HUMAN_EXTENT_M = (0.3, 3.0)


def check_motion_reader(name: str, path: str | Path, *, fps: float | None = None) -> str:
    """Reader ``name`` reads ``path`` (a real file of its suffix) into a valid SourceMotion: plausible fps (equal
    to ``fps`` when given), at least 2 frames, unique joint names, unit quaternions, a human-sized skeleton in
    metres."""
    from mm_core.contracts import SourceMotion
    from mm_core.registry import get_motion_reader

    rec, path = get_motion_reader(name), Path(path)
    where = f"motion reader {name!r} on {path}"
    if path.suffix.lower() not in rec.suffixes:
        raise ConformanceError(f"{where}: the file's suffix is not one the reader claims {rec.suffixes}")
    src = rec.read(path)
    if not isinstance(src, SourceMotion):
        raise ConformanceError(f"{where}: must return a SourceMotion, got {type(src).__name__}")
    lo, hi = READER_FPS_RANGE
    if not lo <= src.fps <= hi:
        raise ConformanceError(f"{where}: fps {src.fps:g} is outside the plausible {lo:g}-{hi:g} Hz")
    if fps is not None and abs(src.fps - fps) > 1e-6 * fps:
        raise ConformanceError(f"{where}: fps {src.fps:g}, but the file is at {fps:g} Hz")
    t = src.positions.shape[0]
    if t < 2:
        raise ConformanceError(f"{where}: needs at least 2 frames, got {t}")
    if len(set(src.joint_names)) != len(src.joint_names) or not all(src.joint_names):
        raise ConformanceError(f"{where}: joint names must be unique and non-empty, got {src.joint_names}")
    norm = np.linalg.norm(src.rotations, axis=-1)
    if float(np.max(np.abs(norm - 1))) > 1e-3:
        raise ConformanceError(
            f"{where}: rotations must be unit quaternions (|q| in {norm.min():.3g}..{norm.max():.3g})"
        )
    extent = float(np.max(np.ptp(src.positions[0], axis=0)))
    if not HUMAN_EXTENT_M[0] <= extent <= HUMAN_EXTENT_M[1]:
        raise ConformanceError(
            f"{where}: the joints of frame 0 span {extent:.3g} m, not a human in metres {HUMAN_EXTENT_M}"
        )
    return f"{t} frames at {src.fps:g} Hz, {len(src.joint_names)} joints, extent {extent:.2f} m"


def check_reader_rejects_bad_files(name: str, tmp_dir: str | Path, good: str | Path | None = None) -> str:
    """Reader ``name`` refuses an empty file, a file of random bytes and (given ``good``) a truncated copy of a
    good file, each with its suffix, with a ``ValueError`` whose message names the file."""
    from mm_core.registry import get_motion_reader

    rec, tmp = get_motion_reader(name), Path(tmp_dir)
    suffix = rec.suffixes[0]
    bad = {f"empty{suffix}": b"", f"garbage{suffix}": np.random.default_rng(0).bytes(4096)}
    if good is not None:
        data = Path(good).read_bytes()
        bad[f"truncated{suffix}"] = data[: len(data) // 2]
    for fname, data in bad.items():
        p = tmp / fname
        p.write_bytes(data)
        try:
            got = rec.read(p)
        except ValueError as e:
            if p.name not in str(e):
                raise ConformanceError(
                    f"motion reader {name!r}: the error for {p} does not name the file: {e}"
                ) from e
            continue
        except Exception as e:
            raise ConformanceError(
                f"motion reader {name!r}: {p} raised {type(e).__name__} ({e}); bad input must raise ValueError "
                "naming the file"
            ) from e
        raise ConformanceError(
            f"motion reader {name!r}: read the bad file {p} without an error, got {got!r:.80}"
        )
    return f"{len(bad)} bad files refused with ValueError naming the file"


# ------------------------------------------------------------------------------------------------ retargeters
#: Joint-limit slack of a retargeted clip (rad or m).
JOINT_LIMIT_TOL = 1e-3


def check_retargeter(
    name: str, source: Any, embodiment: str, tmp_dir: str | Path, *, joint_limits: bool = True
) -> str:
    """Retargeter ``name`` maps ``source`` (a SourceMotion) onto ``embodiment``: a valid MotionClip at the
    embodiment's control rate, lasting as long as the source, with the model's qpos/qvel widths and tracked sites,
    unit root/ball quaternions, joints within their limits (unless ``joint_limits=False``: a method documented as
    unconstrained), retarget metrics in ``metadata["metrics"]`` (what the retarget report reads), and an exact
    ``MotionClip.save`` / ``load`` round trip."""
    from mm_core.contracts import MotionClip
    from mm_core.registry import get_embodiment, get_retargeter

    emb, rec = get_embodiment(embodiment), get_retargeter(name)
    where = f"retargeter {name!r} onto {embodiment!r}"
    clip = rec.retarget(source, emb)
    if not isinstance(clip, MotionClip):
        raise ConformanceError(f"{where}: must return a MotionClip, got {type(clip).__name__}")
    clip.validate(where)
    m = emb.compile()
    _check_retargeted_layout(where, clip, emb, m, source)
    _check_retargeted_joints(where, clip, m, joint_limits)
    metrics = _check_retarget_metrics(where, clip)
    back = MotionClip.load(clip.save(Path(tmp_dir) / f"{name}-{embodiment}.npz"))
    same = (
        back.fps == clip.fps
        and back.site_names == clip.site_names
        and all(
            np.array_equal(getattr(back, f), getattr(clip, f))
            for f in ("qpos", "qvel", "site_pos", "site_quat")
        )
    )
    if not same:
        raise ConformanceError(f"{where}: MotionClip.save / load does not round-trip the clip")
    return f"{clip.num_frames} frames at {clip.fps:g} Hz, metrics {sorted(metrics)[:3]}..."


def _check_retargeted_layout(where: str, clip: Any, emb: Any, m: Any, source: Any) -> None:
    """The clip has the model's qpos/qvel widths, the embodiment's tracked sites and name, its control rate, and
    lasts as long as the source (within a frame of each)."""
    t = clip.num_frames
    if clip.qpos.shape != (t, m.nq) or clip.qvel.shape != (t, m.nv):
        raise ConformanceError(
            f"{where}: qpos/qvel are {clip.qpos.shape}/{clip.qvel.shape}; the model needs (T, {m.nq})/(T, {m.nv})"
        )
    if tuple(clip.site_names) != tuple(emb.tracked_sites) or clip.embodiment != emb.name:
        raise ConformanceError(
            f"{where}: site_names {clip.site_names} / embodiment {clip.embodiment!r} must be the embodiment's "
            f"tracked sites {emb.tracked_sites} / {emb.name!r}"
        )
    rate = 1.0 / emb.physics.control_dt
    if abs(clip.fps - rate) > 1e-6 * rate:
        raise ConformanceError(f"{where}: fps {clip.fps:g}, but the embodiment's control rate is {rate:g} Hz")
    src_s = (source.positions.shape[0] - 1) / source.fps
    if abs(clip.duration - src_s) > 1.0 / clip.fps + 1.0 / source.fps:
        raise ConformanceError(f"{where}: the clip lasts {clip.duration:.3f} s, the source {src_s:.3f} s")


def _check_retargeted_joints(where: str, clip: Any, m: Any, joint_limits: bool) -> None:
    """Free-root and ball quaternions of unit norm; limited joints within range (``joint_limits``)."""
    import mujoco

    for j in range(m.njnt):
        adr, typ = int(m.jnt_qposadr[j]), int(m.jnt_type[j])  # int(): numpy ints miss enum members in `in`
        if typ in (mujoco.mjtJoint.mjJNT_FREE, mujoco.mjtJoint.mjJNT_BALL):
            a = adr + (3 if typ == mujoco.mjtJoint.mjJNT_FREE else 0)
            norm = np.linalg.norm(clip.qpos[:, a : a + 4], axis=1)
            if float(np.max(np.abs(norm - 1))) > 1e-4:
                raise ConformanceError(f"{where}: joint {m.joint(j).name!r} has non-unit quaternions")
        elif joint_limits and m.jnt_limited[j]:
            lo, hi = m.jnt_range[j]
            q = clip.qpos[:, adr]
            over = float(max(np.max(lo - q), np.max(q - hi)))
            if over > JOINT_LIMIT_TOL:
                raise ConformanceError(
                    f"{where}: joint {m.joint(j).name!r} leaves its range [{lo:.3g}, {hi:.3g}] by {over:.3g}"
                )


def _check_retarget_metrics(where: str, clip: Any) -> dict[str, Any]:
    """``clip.metadata["metrics"]``: a non-empty dict of finite numbers (what the retarget report reads)."""
    metrics = clip.metadata.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise ConformanceError(
            f"{where}: metadata['metrics'] must be a dict of retarget metrics, got {metrics!r}"
        )
    bad = {k: v for k, v in metrics.items() if not isinstance(v, int | float) or not np.isfinite(v)}
    if bad:
        raise ConformanceError(f"{where}: metadata['metrics'] must hold finite numbers, got {bad}")
    return metrics


# ------------------------------------------------------------------------------------------------ validation
def _cycle_curves() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reference-like cycle (101 points, 0..100 %): mean, SD, and a simulated curve 5 % late, scaled, offset and
    with another harmonic: a worse match than the mean itself on every sensible metric."""
    p = np.linspace(0.0, 100.0, 101)
    mean = 20 * np.sin(2 * np.pi * p / 100) + 8 * np.cos(4 * np.pi * p / 100)
    sd = 4.0 + np.cos(2 * np.pi * p / 100)
    late = p - 5.0
    sim = 1.1 * (20 * np.sin(2 * np.pi * late / 100) + 8 * np.cos(4 * np.pi * late / 100)) + 3.0
    return mean, sd, sim + 2.0 * np.sin(6 * np.pi * p / 100)


def check_validation_metric(name: str) -> str:
    """Metric ``name`` returns a float for (sim, mean, sd) and (sim, mean, None) (NaN allowed only without SD),
    leaves its inputs alone, and scores the reference mean against itself strictly better (by
    ``higher_is_better``) than a shifted, scaled curve."""
    from mm_core.registry import get_validation_metric

    rec = get_validation_metric(name)
    mean, sd, sim = _cycle_curves()
    args = (sim.copy(), mean.copy(), sd.copy())
    v_other = rec.fn(*args)
    if any(not np.array_equal(a, b) for a, b in zip(args, (sim, mean, sd), strict=True)):
        raise ConformanceError(f"validation metric {name!r} modified its input arrays")
    v_self = rec.fn(mean.copy(), mean.copy(), sd.copy())
    no_sd = rec.fn(sim.copy(), mean.copy(), None)
    for label, v in (
        ("(sim, mean, sd)", v_other),
        ("(mean, mean, sd)", v_self),
        ("(sim, mean, None)", no_sd),
    ):
        if not isinstance(v, float | int | np.floating) or isinstance(v, bool):
            raise ConformanceError(f"validation metric {name!r}{label}: must return a float, got {v!r}")
    if not (np.isfinite(v_other) and np.isfinite(v_self)):
        raise ConformanceError(f"validation metric {name!r}: non-finite with an SD: {v_self!r}, {v_other!r}")
    better = v_self > v_other if rec.higher_is_better else v_self < v_other
    if not better:
        raise ConformanceError(
            f"validation metric {name!r} (higher_is_better={rec.higher_is_better}): the reference against itself "
            f"scores {v_self:.4g}, a shifted and scaled curve {v_other:.4g}; the first must be strictly better"
        )
    return f"self {float(v_self):.3g}, shifted curve {float(v_other):.3g}"


def check_reference_dataset(name: str, tmp_dir: str | Path, path: str | Path | None = None) -> str:
    """Dataset ``name`` loads (from ``path``, default location when None) into an object with a ``name`` and
    ``curves``: quantity -> curve with ``unit``, ``percent`` (P,) increasing within 0..100, finite ``mean`` (P,)
    and ``sd`` (P,) >= 0 or None; a missing path fails with an error naming it."""
    from mm_core.registry import get_reference_dataset

    rec = get_reference_dataset(name)
    ref = rec.load(path)
    curves = getattr(ref, "curves", None)
    if not getattr(ref, "name", "") or not isinstance(curves, dict) or not curves:
        raise ConformanceError(
            f"reference dataset {name!r}: load must return an object with a name and curves"
        )
    for q, c in curves.items():
        where = f"reference dataset {name!r}, curve {q!r}"
        pct, mean, sd = (np.asarray(getattr(c, f, None), dtype=float) for f in ("percent", "mean", "sd"))
        if pct.ndim != 1 or len(pct) < 2 or np.any(np.diff(pct) <= 0) or pct[0] < 0 or pct[-1] > 100:
            raise ConformanceError(
                f"{where}: percent must increase within 0..100, got {pct[:3]}...{pct[-2:]}"
            )
        if mean.shape != pct.shape or not np.all(np.isfinite(mean)):
            raise ConformanceError(f"{where}: mean must be finite with shape {pct.shape}, got {mean.shape}")
        if c.sd is not None and (sd.shape != pct.shape or not np.all(np.isfinite(sd)) or np.any(sd < 0)):
            raise ConformanceError(f"{where}: sd must be None or finite >= 0 with shape {pct.shape}")
        if not getattr(c, "unit", ""):
            raise ConformanceError(f"{where}: unit is empty")
    missing = Path(tmp_dir) / "no-such-reference"
    try:
        rec.load(missing)
    except Exception as e:
        if missing.name not in str(e):
            raise ConformanceError(
                f"reference dataset {name!r}: loading {missing} failed without naming it: {type(e).__name__}: {e}"
            ) from e
    else:
        raise ConformanceError(f"reference dataset {name!r}: loading the missing path {missing} did not fail")
    return f"{len(curves)} curves: {', '.join(sorted(curves)[:4])}..."


# ------------------------------------------------------------------------------------------------ plugins check
def _run(checks: dict[str, Callable[[], str]]) -> list[CheckResult]:
    out = []
    for name, fn in checks.items():
        try:
            out.append(CheckResult(name, True, fn()))
        except Exception as e:  # report every failing check, not just the first
            out.append(CheckResult(name, False, f"{type(e).__name__}: {e}"))
    return out


def check_record(hook: str, record: Any) -> list[CheckResult]:
    """Run the checks that need no inputs from the plugin author on one contributed record: all embodiment,
    backend (on :data:`BACKEND_EMBODIMENT`), validation-metric and reference-dataset checks, the bad-file checks of
    readers. Task terms and retargeters need an embodiment / source motion: run their suites from your tests
    (``mm_sim.testing``'s term suites, :class:`RetargeterConformance`); here they get the record check."""
    import tempfile

    from mm_core.registry import get_embodiment

    if isinstance(record, EmbodimentSpec):
        return _run({n: partial(fn, record) for n, fn in EMBODIMENT_CHECKS.items()})
    callables = [v for k, v in vars(record).items() if k in ("fn", "read", "retarget", "factory", "load")]
    ok = all(callable(c) for c in callables) and bool(record.name)
    out = [
        CheckResult("record", ok, f"{hook} {record.name!r}" + ("" if ok else ": missing name or callable"))
    ]
    if not ok:
        return out
    tmp = tempfile.mkdtemp(prefix="mm-check-")
    if hook == "mm_sim_backends" and record.is_available():
        emb = get_embodiment(BACKEND_EMBODIMENT)
        out += _run({n: partial(fn, record.name, emb) for n, fn in BACKEND_CHECKS.items()})
    elif hook == "mm_validation_metrics":
        out += _run({"metric_contract": partial(check_validation_metric, record.name)})
    elif hook == "mm_reference_datasets":
        out += _run({"loads_curves": partial(check_reference_dataset, record.name, tmp)})
    elif hook == "mm_motion_readers":
        out += _run({"rejects_bad_files": partial(check_reader_rejects_bad_files, record.name, tmp)})
    return out


def check_plugin(plugin_name: str) -> dict[str, list[CheckResult]]:
    """Run the conformance kit on everything one plugin contributes: ``"hook:name" -> results``."""
    results: dict[str, list[CheckResult]] = {}
    for hook, kind in KINDS.items():
        for name, (provider, rec) in kind.items().items():
            if provider == plugin_name:
                results[f"{hook}:{name}"] = check_record(hook, rec)
    return results


# ------------------------------------------------------------------------------------------------ test classes
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


def _need(obj: Any, attr: str) -> Any:
    value = getattr(obj, attr)
    if not value:
        raise ConformanceError(f"{type(obj).__name__}: set {attr}")
    return value


class SimBackendConformance:
    """Subclass and set ``backend_name`` (and ``embodiment_name`` for another model than ``tiny``)."""

    backend_name: str = ""
    embodiment_name: str = BACKEND_EMBODIMENT

    def _check(self, check: str) -> None:
        BACKEND_CHECKS[check](_need(self, "backend_name"), get_embodiment(self.embodiment_name))

    def test_state_tensors(self) -> None:
        self._check("state_tensors")

    def test_matches_c_mujoco(self) -> None:
        self._check("matches_c_mujoco")

    def test_forward_resets_worlds(self) -> None:
        self._check("forward_resets_worlds")

    def test_deterministic(self) -> None:
        self._check("deterministic")

    def test_flags_nonfinite(self) -> None:
        self._check("flags_nonfinite")


class MotionReaderConformance:
    """Subclass and set ``reader_name``, ``sample_path`` (a real file of the reader's suffix) and ``sample_fps``
    (its frame rate). Uses pytest's ``tmp_path`` fixture."""

    reader_name: str = ""
    sample_path: str | Path = ""
    sample_fps: float | None = None

    def test_reads_sample(self) -> None:
        check_motion_reader(_need(self, "reader_name"), _need(self, "sample_path"), fps=self.sample_fps)

    def test_rejects_bad_files(self, tmp_path: Path) -> None:
        check_reader_rejects_bad_files(_need(self, "reader_name"), tmp_path, self.sample_path or None)


class RetargeterConformance:
    """Subclass and set ``retargeter_name``, ``embodiment_name`` and override ``source()`` to return a short real
    SourceMotion (e.g. read with a reader). ``joint_limits = False`` for a method documented as unconstrained."""

    retargeter_name: str = ""
    embodiment_name: str = BACKEND_EMBODIMENT
    joint_limits: bool = True

    def source(self) -> Any:
        raise ConformanceError(f"{type(self).__name__}: override source() to return a SourceMotion")

    def test_retarget_contract(self, tmp_path: Path) -> None:
        name = _need(self, "retargeter_name")
        check_retargeter(name, self.source(), self.embodiment_name, tmp_path, joint_limits=self.joint_limits)


class ValidationMetricConformance:
    """Subclass and set ``metric_name``."""

    metric_name: str = ""

    def test_metric_contract(self) -> None:
        check_validation_metric(_need(self, "metric_name"))


class ReferenceDatasetConformance:
    """Subclass and set ``dataset_name`` (and ``dataset_path`` when it has no default location)."""

    dataset_name: str = ""
    dataset_path: str | Path | None = None

    def test_dataset_contract(self, tmp_path: Path) -> None:
        check_reference_dataset(_need(self, "dataset_name"), tmp_path, self.dataset_path)

"""Conformance suites for task terms (observation, reward, termination): the term is called by the imitation task
on a real env, through the registry by its name, and its contract is checked. They live in mm-sim, the home of the
task (the other extension kinds have theirs in :mod:`mm_core.testing`, which imports no other mm package)::

    from mm_sim.testing import ObservationTermConformance, RewardTermConformance, TerminationTermConformance

    class TestMyTerm(RewardTermConformance):
        term_name, kind = "my-term", "tracking"

or call :func:`check_reward_term`, :func:`check_observation_term`, :func:`check_termination_term`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mm_core.contracts import EmbodimentSpec
from mm_core.registry import get_embodiment, get_termination_term
from mm_core.testing import BACKEND_EMBODIMENT, ConformanceError, _need, initial_state  # noqa: PLC2701

# ------------------------------------------------------------------------------------------------ reward terms
#: Worlds of the reward checks: world 0 follows the reference exactly, the others are driven away from it.
REWARD_WORLDS = 3
#: Control steps of the reward checks.
REWARD_STEPS = 4
#: A tracking term's value with the state exactly on the reference must be within this of 1 (float32 features).
AT_REFERENCE_TOL = 1e-4


def _physics_clip(emb: EmbodimentSpec, frames: int) -> tuple[Any, np.ndarray]:
    """(MotionClip, ctrl (nu,)): what C MuJoCo does from the initial state under a constant random ctrl, the
    reference an env reproduces exactly when it applies the same ctrl from frame 0 (qvel from the physics)."""
    import mujoco

    from mm_core.contracts import MotionClip

    m, d, ctrl = initial_state(emb)
    d.act[:] = 0  # as the task's reference-state init
    mujoco.mj_forward(m, d)
    d.ctrl[:] = ctrl
    qpos, qvel = [d.qpos.copy()], [d.qvel.copy()]
    for _ in range(frames - 1):
        for _ in range(emb.physics.substeps):
            mujoco.mj_step(m, d)
        qpos.append(d.qpos.copy())
        qvel.append(d.qvel.copy())
    from mm_sim.motion import site_ids, site_kinematics

    kin = site_kinematics(m, np.array(qpos), None, site_ids(m, emb.tracked_sites))
    clip = MotionClip(
        fps=1.0 / emb.physics.control_dt,
        qpos=np.array(qpos),
        qvel=np.array(qvel),
        site_pos=kin["pos"],
        site_quat=kin["quat"],
        site_names=tuple(emb.tracked_sites),
        embodiment=emb.name,
        name="conformance",
    )
    return clip, ctrl


def _recorded_calls(env: Any, actions: Any, table: dict[str, Any], name: str, stand_in: Any) -> list[Any]:
    """Record what the bound term ``table[name]`` of ``env`` returns at the reset (if called there) and at each of
    :data:`REWARD_STEPS` steps with ``actions``; the env goes on with ``stand_in(env)`` in its place, so a malformed
    output reaches the checks instead of failing the env. Closes the env."""
    out: list[Any] = []
    try:
        fn = table[name]
        table[name] = lambda e: out.append(fn(e)) or stand_in(e)
        env.reset(frames=0)
        for _ in range(REWARD_STEPS):
            env.step(actions)
    finally:
        env.close()
    return out


def reward_values(name: str, emb: EmbodimentSpec, *, backend: str = "mujoco") -> list[Any]:
    """Values (one (N,) tensor per control step, as the task computes them) of reward term ``name`` with its
    default params in an imitation env of ``emb``: world 0 applies the ctrl that produced its reference (its
    state stays on the reference), the other worlds apply 1 - that ctrl (they leave it)."""
    from mm_sim.tasks.config import TermCfg

    env, a = _term_env(emb, {"rewards": {name: TermCfg(weight=1.0)}}, backend)
    try:
        env.reset(frames=0)
        out = []
        for _ in range(REWARD_STEPS):
            _, _, _, _, info = env.step(a)
            out.append(info["reward_terms"][name])
    finally:
        env.close()
    return out


def _check_per_world(v: Any, where: str) -> None:
    """``v`` must be a tensor (num_worlds,) = (:data:`REWARD_WORLDS`,)."""
    import torch

    if not isinstance(v, torch.Tensor) or tuple(v.shape) != (REWARD_WORLDS,):
        shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ConformanceError(
            f"{where}: must return a tensor (num_worlds,) = ({REWARD_WORLDS},), got {shape}"
        )


def check_reward_term(name: str, embodiment: str = BACKEND_EMBODIMENT, *, kind: str = "tracking") -> str:
    """Reward term ``name`` called by the task on ``embodiment``: a finite float tensor (num_worlds,) every step;
    ``kind="tracking"``: in [0, 1], 1 (within :data:`AT_REFERENCE_TOL`) where the state is on the reference and
    lower where it is not; ``kind="penalty"``: a cost >= 0; ``kind="any"``: only shape and finiteness."""
    import torch

    if kind not in ("tracking", "penalty", "any"):
        raise ValueError(f"kind must be 'tracking', 'penalty' or 'any', got {kind!r}")
    values = reward_values(name, get_embodiment(embodiment))
    for step, v in enumerate(values):
        where = f"reward term {name!r} on {embodiment!r}, step {step + 1}"
        _check_per_world(v, where)
        if not v.is_floating_point() or not bool(torch.isfinite(v).all()):
            raise ConformanceError(f"{where}: must be finite floats, got {v.tolist()}")
        if kind == "tracking" and not bool(((v >= 0) & (v <= 1 + 1e-6)).all()):
            raise ConformanceError(f"{where}: a tracking term must lie in [0, 1], got {v.tolist()}")
        if kind == "tracking" and float(v[0]) < 1 - AT_REFERENCE_TOL:
            raise ConformanceError(
                f"{where}: the state is exactly on the reference in world 0, so a tracking term must be 1 "
                f"(its maximum), got {float(v[0]):.6g}"
            )
        if kind == "penalty" and not bool((v >= 0).all()):
            raise ConformanceError(
                f"{where}: a penalty is a cost >= 0 (the task subtracts it), got {v.tolist()}"
            )
    last = values[-1]
    if kind == "tracking" and not bool((last[1:] < last[0]).all()):
        raise ConformanceError(
            f"reward term {name!r} on {embodiment!r}: worlds driven off the reference score {last[1:].tolist()}, "
            f"not below the on-reference world's {float(last[0]):.6g}; the term does not respond to the state"
        )
    return f"{kind}: {REWARD_STEPS} steps of ({REWARD_WORLDS},) finite, last {[round(x, 4) for x in last.tolist()]}"


# ------------------------------------------------------------------------------------ observation / termination
def _term_env(emb: EmbodimentSpec, config: dict[str, Any], backend: str = "mujoco") -> tuple[Any, Any]:
    """(env, actions (N, nu)) on a recorded C MuJoCo rollout of ``emb`` (see :func:`reward_values`): world 0
    applies the ctrl that produced its reference, the others 1 - that ctrl. ``config``: TaskConfig overrides."""
    import torch

    from mm_sim import make_env
    from mm_sim.tasks.config import TaskConfig

    clip, u = _physics_clip(emb, REWARD_STEPS + 2)
    base = {"rewards": {}, "penalties": {}, "terminations": {}, "lookahead_s": (0.0,)}
    cfg = TaskConfig.for_embodiment(emb, **(base | config))
    env = make_env(emb, [clip], backend=backend, num_worlds=REWARD_WORLDS, config=cfg, device="cpu")
    a = torch.as_tensor(2 * u - 1, dtype=torch.float32).repeat(REWARD_WORLDS, 1)
    a[1:] = -a[1:]
    return env, a


def observation_values(name: str, emb: EmbodimentSpec, *, backend: str = "mujoco") -> list[Any]:
    """What observation term ``name`` (registered params) returns in an imitation env of ``emb``: after the reset,
    then after each of :data:`REWARD_STEPS` steps (worlds as in :func:`reward_values`). The env binds the term as
    configured and calls it where it observes; the outputs are recorded there and a zero column stands in for them,
    so a malformed output reaches the checks instead of failing the env."""
    import dataclasses

    from mm_sim.tasks.config import TermCfg

    env, a = _term_env(emb, {"observations": {"phase": TermCfg()}}, backend)
    try:
        env.config = dataclasses.replace(env.config, observations={name: TermCfg()})
        env._bind_terms()
    except BaseException:
        env.close()
        raise
    return _recorded_calls(env, a, env.obs_terms, name, lambda e: e.frame.new_zeros(e.num_envs, 1).float())


def check_observation_term(name: str, embodiment: str = BACKEND_EMBODIMENT) -> str:
    """Observation term ``name`` called by the task on ``embodiment`` (its registered params): a finite float32
    tensor (num_worlds, k) after the reset and every step, with the same width k every time (the policy's input
    layout is fixed)."""
    import torch

    values = observation_values(name, get_embodiment(embodiment))
    width = None
    for i, v in enumerate(values):
        where = f"observation term {name!r} on {embodiment!r}, call {i + 1} ({'reset' if i == 0 else 'step'})"
        if not isinstance(v, torch.Tensor) or v.ndim != 2 or v.shape[0] != REWARD_WORLDS:
            shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ConformanceError(
                f"{where}: must return a tensor (num_worlds, k) = ({REWARD_WORLDS}, k), got {shape}; "
                "return one row per world (e.g. x.unsqueeze(1) for one value per world)"
            )
        if v.dtype != torch.float32:
            raise ConformanceError(
                f"{where}: must be float32 (the policy's dtype), got {v.dtype}; convert with .to(torch.float32) "
                "(C MuJoCo's env.sim tensors are float64)"
            )
        if not bool(torch.isfinite(v).all()):
            raise ConformanceError(f"{where}: must be finite, got {v.tolist()}")
        if width is None:
            width = int(v.shape[1])
            if width == 0:
                raise ConformanceError(f"{where}: returns no columns (k = 0)")
        elif int(v.shape[1]) != width:
            raise ConformanceError(
                f"{where}: width {int(v.shape[1])}, but {width} at the reset; k must be fixed for an env"
            )
    return f"({REWARD_WORLDS}, {width}) float32, finite, {len(values)} calls"


def termination_values(
    name: str, emb: EmbodimentSpec, params: Mapping[str, Any] | None = None, *, backend: str = "mujoco"
) -> list[Any]:
    """What termination term ``name`` (registered params updated by ``params``) returns, recorded as the task calls
    it after each of :data:`REWARD_STEPS` steps, in an env whose only termination it is (worlds as in
    :func:`reward_values`: world 0 replays its reference exactly). The env goes on as if it had returned false, so
    every step compares with the same reference frame as the oracle."""
    from mm_sim.tasks.config import TermCfg

    env, a = _term_env(emb, {"terminations": {name: TermCfg(params=dict(params or {}))}}, backend)
    return _recorded_calls(
        env, a, env.termination_terms, name, lambda e: e.sim.nonfinite.new_zeros(e.num_envs)
    )


def check_termination_term(
    name: str, embodiment: str = BACKEND_EMBODIMENT, *, fires_with: Mapping[str, Any] | None = None
) -> str:
    """Termination term ``name`` called by the task on ``embodiment`` with its registered (sensible) params: a bool
    tensor (num_worlds,) every step, false in world 0, which replays its reference exactly (an oracle never fails).
    ``fires_with``: params (e.g. ``{"threshold": 0.0}``) with which it must be true in the worlds driven off the
    reference at the last step (the term responds to the state)."""
    import torch

    values = termination_values(name, get_embodiment(embodiment))
    for step, v in enumerate(values):
        where = f"termination term {name!r} on {embodiment!r}, step {step + 1}"
        _check_per_world(v, where)
        if v.dtype != torch.bool:
            raise ConformanceError(f"{where}: must be a bool tensor (e.g. error > threshold), got {v.dtype}")
        if bool(v[0]):
            raise ConformanceError(
                f"{where}: true in world 0, which replays its reference exactly; with its registered params "
                f"{dict(get_termination_term(name).params)} an oracle must not fail"
            )
    detail = f"({REWARD_WORLDS},) bool, false on the oracle replay for {REWARD_STEPS} steps"
    if fires_with is not None:
        last = termination_values(name, get_embodiment(embodiment), fires_with)[-1]
        if not bool(last[1:].all()):
            raise ConformanceError(
                f"termination term {name!r} on {embodiment!r} with {dict(fires_with)}: worlds driven off the "
                f"reference give {last[1:].tolist()}, expected true; the term does not respond to the state"
            )
        detail += f"; fires off the reference with {dict(fires_with)}"
    return detail


class RewardTermConformance:
    """Subclass and set ``term_name``, ``kind`` (``tracking``: in [0, 1], 1 on the reference; ``penalty``: a cost
    >= 0; ``any``) and ``embodiment_name`` (a free-root one for terms that read the root)."""

    term_name: str = ""
    kind: str = "tracking"
    embodiment_name: str = BACKEND_EMBODIMENT

    def test_reward_term_contract(self) -> None:
        check_reward_term(_need(self, "term_name"), self.embodiment_name, kind=self.kind)


class ObservationTermConformance:
    """Subclass and set ``term_name`` and ``embodiment_name`` (a free-root one for terms that read the root)."""

    term_name: str = ""
    embodiment_name: str = BACKEND_EMBODIMENT

    def test_observation_term_contract(self) -> None:
        check_observation_term(_need(self, "term_name"), self.embodiment_name)


class TerminationTermConformance:
    """Subclass and set ``term_name``, ``embodiment_name`` and, to check that it responds to the state,
    ``fires_with`` (params with which it must fire off the reference, e.g. ``{"threshold": 0.0}``)."""

    term_name: str = ""
    embodiment_name: str = BACKEND_EMBODIMENT
    fires_with: Mapping[str, Any] | None = None

    def test_termination_term_contract(self) -> None:
        check_termination_term(_need(self, "term_name"), self.embodiment_name, fires_with=self.fires_with)

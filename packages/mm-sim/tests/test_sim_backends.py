"""Backend parity (C MuJoCo vs MuJoCo Warp on Warp's CPU device), NaN detection and contact-budget overflow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from mm_core import PhysicsOptions, get_embodiment
from mm_core.registry import embodiments
from mm_sim.backends import make_sim
from mm_sim.motion import sinusoid_clip

if "tiny" not in embodiments.names():  # the built-in models come from mm-models (a dev dependency)
    pytest.skip("needs the built-in embodiments: install mm-models", allow_module_level=True)

# Control steps compared per embodiment (each = 5 physics steps): a few for the big models, which step slowly on
# Warp's CPU device. Tolerances: float32 (Warp) vs float64 (C); measured maxima on these cases (MuJoCo 4.0,
# mujoco-warp 4.0, CPU) are qpos 1.7e-5, qvel 1.3e-3 (relative), act 1.2e-7, force 4.2e-5 (relative; 1.6e-4 on
# bimanual), sites 2.6e-6: the tolerances sit ~10x (force: 3x) above them so a real divergence fails.
CASES = {
    "tiny": 10,
    "bimanual-nofingers": 5,
    "bimanual": 2,  # from its start state (central-difference qvel) float32 drift in FCU_left grows ~3x per step
    "myofullbody-nofingers": 2,
    "myofullbody": 1,
}
QPOS_TOL = 2e-4  # rad or m (also used for site positions)
QVEL_TOL = 1.5e-2  # relative to max(1, |qvel|)
ACT_TOL = 1e-5
FORCE_TOL = 5e-4  # relative to the largest muscle force


def _same_start(name: str, worlds: int = 2):
    """Both backends at the same mid-motion state (a frame of a kinematic motion), with the same random ctrl."""
    spec = get_embodiment(name)
    model = spec.compile()
    clip = sinusoid_clip(model, spec, seconds=0.5)
    sims = [make_sim(b, model, worlds, spec.physics, "cpu") for b in ("mujoco", "warp")]
    ctrl = torch.rand(worlds, model.nu, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for s in sims:
        for w in range(worlds):
            s.qpos[w] = torch.as_tensor(clip.qpos[10 + 5 * w])
            s.qvel[w] = torch.as_tensor(clip.qvel[10 + 5 * w])
        s.act.zero_()
        s.forward()
    return spec, sims, ctrl


@pytest.mark.parametrize("name", list(CASES))
def test_backends_agree(name: str) -> None:
    spec, (c, w), ctrl = _same_start(name)
    for _ in range(CASES[name]):
        for s in (c, w):
            s.ctrl.copy_(ctrl)
            s.step()
    assert not c.nonfinite.any() and not w.nonfinite.any()
    err = {
        "qpos": (c.qpos - w.qpos.double()).abs().max().item(),
        "qvel": ((c.qvel - w.qvel.double()).abs() / c.qvel.abs().clamp_min(1)).max().item(),
        "act": (c.act - w.act.double()).abs().max().item(),
        "force": (
            (c.actuator_force - w.actuator_force.double()).abs().max() / c.actuator_force.abs().max()
        ).item(),
        "site_xpos": (c.site_xpos - w.site_xpos.double()).abs().max().item(),
    }
    tol = {"qpos": QPOS_TOL, "qvel": QVEL_TOL, "act": ACT_TOL, "force": FORCE_TOL, "site_xpos": QPOS_TOL}
    bad = {k: v for k, v in err.items() if v > tol[k]}
    assert not bad, f"{name}: backends differ after {CASES[name]} control steps: {bad} (tolerances {tol})"


def test_kinematics_pass_matches_state() -> None:
    """After step(), sites and body velocities describe the *new* state (mj_kinematics/comPos/comVel ran)."""
    import mujoco

    spec, (c, _), ctrl = _same_start("tiny", worlds=1)
    c.ctrl.copy_(ctrl)
    c.step()
    d = mujoco.MjData(c.model)
    d.qpos[:], d.qvel[:] = c.qpos[0].numpy(), c.qvel[0].numpy()
    mujoco.mj_forward(c.model, d)
    np.testing.assert_allclose(c.site_xpos[0].numpy(), d.site_xpos, atol=1e-12)
    np.testing.assert_allclose(c.cvel[0].numpy(), d.cvel, atol=1e-9)


@pytest.mark.parametrize("threads", [1, 2])
def test_mujoco_backend_is_a_loop_of_mj_step(threads: int) -> None:
    """The batched C backend gives, bit for bit, what one MjData per world stepped by ``mj_step`` gives, on the
    free-root full body, at any thread count: state after the step, a world's state written between steps (a
    reset), kinematics of the new state, and the actuator force of the last physics step."""
    import mujoco

    from mm_sim.backends.mujoco_backend import MujocoSim

    spec = get_embodiment("myofullbody-nofingers")
    model = spec.compile()
    clip = sinusoid_clip(model, spec, seconds=0.3)
    n = 3
    sim = MujocoSim(model, n, spec.physics, num_threads=threads)
    ref = [mujoco.MjData(model) for _ in range(n)]
    for w, d in enumerate(ref):
        d.qpos[:], d.qvel[:] = clip.qpos[3 * w], clip.qvel[3 * w]
        sim.qpos[w], sim.qvel[w] = torch.as_tensor(d.qpos), torch.as_tensor(d.qvel)
    sim.forward()
    rng = np.random.default_rng(0)
    for k in range(3):
        u = rng.random((n, model.nu))
        if k == 1:  # reset world 1 to another frame between steps, as the env does
            sim.qpos[1], sim.qvel[1] = torch.as_tensor(clip.qpos[20]), torch.as_tensor(clip.qvel[20])
            sim.act[1] = 0
            sim.forward(torch.tensor([False, True, False]))
            ref[1].qpos[:], ref[1].qvel[:], ref[1].act[:] = clip.qpos[20], clip.qvel[20], 0
        sim.ctrl.copy_(torch.as_tensor(u))
        sim.step()
        for w, d in enumerate(ref):
            d.ctrl[:] = u[w]
            mujoco.mj_step(model, d, nstep=spec.physics.substeps)
            force = d.actuator_force.copy()  # of the last physics step
            after = mujoco.MjData(model)  # the new state's kinematics, computed from scratch
            after.qpos[:], after.qvel[:], after.act[:] = d.qpos, d.qvel, d.act
            mujoco.mj_forward(model, after)
            for f in ("qpos", "qvel", "act", "qacc_warmstart"):
                assert np.array_equal(getattr(sim, f)[w].numpy(), getattr(d, f)), (k, w, f)
            np.testing.assert_array_equal(sim.actuator_force[w].numpy(), force)
            for f in (
                "xpos",
                "xquat",
                "site_xpos",
                "cvel",
                "subtree_com",
                "actuator_length",
                "actuator_velocity",
            ):
                np.testing.assert_allclose(
                    getattr(sim, f)[w].numpy(), getattr(after, f), atol=1e-12, err_msg=f
                )
            np.testing.assert_allclose(sim.site_xmat[w].numpy().reshape(-1, 9), after.site_xmat, atol=1e-12)
    assert not sim.nonfinite.any()


@pytest.mark.parametrize("name", ["tiny", "myofullbody-nofingers"])
def test_set_worlds_is_a_fresh_start(name: str) -> None:
    """``set_worlds`` (the task's reset: the C backend writes the state rows through numpy) gives the reset worlds
    exactly what a fresh ``MjData`` at that qpos/qvel with act = ctrl = warm start = 0 gives after ``mj_forward``
    (derived fields included), and leaves the other worlds alone."""
    import mujoco

    from mm_sim.backends.mujoco_backend import MujocoSim

    spec = get_embodiment(name)
    model = spec.compile()
    clip = sinusoid_clip(model, spec, seconds=0.3)
    n = 4
    sim = MujocoSim(model, n, spec.physics, num_threads=2)
    for w in range(n):
        sim.qpos[w], sim.qvel[w] = torch.as_tensor(clip.qpos[w]), torch.as_tensor(clip.qvel[w])
    sim.forward()
    sim.ctrl.copy_(torch.rand(n, model.nu, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    sim.step()  # nonzero act, ctrl and warm start everywhere
    before = {
        f: getattr(sim, f).clone() for f in ("qpos", "qvel", "act", "ctrl", "qacc_warmstart", "site_xpos")
    }
    ids = torch.tensor([1, 3])
    qpos = torch.as_tensor(clip.qpos[[9, 12]], dtype=torch.float32)  # the motion library's dtype
    qvel = torch.as_tensor(clip.qvel[[9, 12]], dtype=torch.float32)
    sim.set_worlds(ids, qpos, qvel)
    for k, w in enumerate(ids.tolist()):
        d = mujoco.MjData(model)
        d.qpos[:], d.qvel[:] = qpos[k].double().numpy(), qvel[k].double().numpy()
        mujoco.mj_forward(model, d)
        for f in (
            "qpos",
            "qvel",
            "act",
            "ctrl",
            "qacc_warmstart",
            "actuator_force",
            "sensordata",
            "site_xpos",
        ):
            np.testing.assert_array_equal(
                getattr(sim, f)[w].numpy(), getattr(d, f), err_msg=f"world {w}: {f}"
            )
        np.testing.assert_array_equal(sim.site_xmat[w].numpy().reshape(-1, 9), d.site_xmat)
    for w in (0, 2):
        for f, v in before.items():
            assert torch.equal(getattr(sim, f)[w], v[w]), (w, f)


@pytest.mark.parametrize("backend", ["mujoco", "warp"])
def test_nonfinite_world_is_flagged_alone(backend: str) -> None:
    spec, sims, _ = _same_start("tiny", worlds=2)
    sim = sims[0] if backend == "mujoco" else sims[1]
    sim.qvel[0, 0] = float("nan")
    sim.step()
    assert sim.nonfinite.tolist() == [True, False]
    assert torch.isfinite(sim.qpos[1]).all()


_PILE = """<mujoco><option timestep="0.002"/><worldbody><geom type="plane" size="2 2 .1"/>
  <body pos="0 0 .05"><freejoint/><geom type="box" size=".1 .1 .05"/></body>
  <body pos=".5 0 .05"><freejoint/><geom type="box" size=".1 .1 .05"/></body></worldbody></mujoco>"""


def test_warp_contact_overflow_is_reported() -> None:
    import mujoco

    model = mujoco.MjModel.from_xml_string(_PILE)
    sim = make_sim("warp", model, 2, PhysicsOptions(nconmax=1, njmax=8), "cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim.step()
    assert sim.overflow_count == 1
    assert any("overflowed" in str(w.message) and "nconmax=1" in str(w.message) for w in caught)


def test_mujoco_backend_rejects_cuda() -> None:
    spec = get_embodiment("tiny")
    with pytest.raises(ValueError, match="CPU only"):
        make_sim("mujoco", spec.compile(), 1, spec.physics, "cuda:0")


def test_unknown_backend_lists_valid_names() -> None:
    spec = get_embodiment("tiny")
    with pytest.raises(LookupError, match="mujoco.*warp"):
        make_sim("bullet", spec.compile(), 1, spec.physics)


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA (the CUDA-graph path of the warp backend)"
)
def test_warp_cuda_graph_matches_c_mujoco() -> None:
    spec, (c, _), ctrl = _same_start("bimanual-nofingers")
    g = make_sim("warp", c.model, 2, spec.physics, "cuda:0")
    g.qpos.copy_(c.qpos)
    g.qvel.copy_(c.qvel)
    g.forward()
    for _ in range(5):
        c.ctrl.copy_(ctrl)
        g.ctrl.copy_(ctrl)
        c.step()
        g.step()
    assert list(g._graphs) == ["_control_step"]  # captured once, replayed
    assert (c.qpos - g.qpos.double().cpu()).abs().max().item() < QPOS_TOL
    assert not g.nonfinite.any()

"""The bench (CLI and module), the plugin records, config defaults from the embodiments, and torch.compile."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from mm_core import get_embodiment, get_reward_term, get_sim_backend, get_termination_term
from mm_core.registry import UnknownNameError, embodiments
from mm_sim import make_env
from mm_sim.motion import sinusoid_clip
from mm_sim.tasks.config import TaskConfig, TermCfg, coerce_term

if "tiny" not in embodiments.names():  # the built-in models come from mm-models (a dev dependency)
    pytest.skip("needs the built-in embodiments: install mm-models", allow_module_level=True)


def test_bench_cli_reports_task_physics_and_ratio() -> None:
    from mm_core.cli import build_app

    args = [
        "sim",
        "bench",
        "--embodiment",
        "tiny",
        "--backend",
        "mujoco",
        "--worlds",
        "2",
        "--steps",
        "10",
        "--eager",
        "--json",
    ]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert r["embodiment"] == "tiny" and r["backend"] == "mujoco" and r["worlds"] == 2 and r["steps"] == 10
    assert r["task_steps_per_s"] > 0 and r["physics_steps_per_s"] > 0
    assert r["ratio"] == pytest.approx(r["task_steps_per_s"] / r["physics_steps_per_s"], rel=1e-3)
    # The CPU limit (C MuJoCo's rollout on the backend's threads), measured in the same run.
    assert r["sim"]["threads"] == 2 and "Rollout(nthread=2)" in r["limit"]
    assert r["task_over_limit"] == pytest.approx(r["task_steps_per_s"] / r["limit_steps_per_s"], rel=1e-3)
    assert r["task_over_limit_cpu_time"] > 0 and 0 < r["task_time_in_sim_step"] < 1
    # The per-step split: the limit's median step, the backend's step and the serial rest of the task.
    assert r["limit_us_per_step_median"] == pytest.approx(2e6 / r["limit_steps_per_s_median"], rel=1e-3)
    assert r["sim_step_us_median"] > 0 and r["task_outside_sim_us_median"] > 0
    budget = r["limit_us_per_step_median"] / 0.9 - r["sim_step_us_median"]
    assert r["outside_sim_budget_us_for_0_9"] == pytest.approx(budget, abs=0.2)


def test_rollout_limit_steps_like_mj_step() -> None:
    """The bench's limit does the backend's work: ``substeps`` x ``mj_step`` per world with the control held."""
    import mujoco
    import numpy as np

    from mm_sim.bench import RolloutLimit

    spec = get_embodiment("tiny")
    m, sub = spec.compile(), spec.physics.substeps
    rng = np.random.default_rng(1)
    ds = [mujoco.MjData(m) for _ in range(3)]
    for d in ds:
        d.qpos[:], d.qvel[:], d.act[:] = (
            m.qpos0 + 0.1 * rng.standard_normal(m.nq),
            rng.standard_normal(m.nv),
            0.5,
        )
    limit = RolloutLimit(m, *(np.array([getattr(d, f) for d in ds]) for f in ("qpos", "qvel", "act")), sub, 2)
    for _ in range(3):
        u = rng.random((3, m.nu))
        limit.step(u)
        for d, ui in zip(ds, u, strict=True):
            d.ctrl[:] = ui
            mujoco.mj_step(m, d, nstep=sub)
        qpos = limit.state[:, 1 : 1 + m.nq]  # mjSTATE_FULLPHYSICS: time, qpos, qvel, act, ...
        # ~1 ulp apart: the rollout's state rows carry no solver warm start between control steps.
        np.testing.assert_allclose(qpos, [d.qpos for d in ds], rtol=0, atol=1e-12)
    limit.close()


def test_bench_cli_bad_input_is_a_clear_error() -> None:
    from mm_core.cli import build_app

    result = CliRunner().invoke(build_app(), ["sim", "bench", "--embodiment", "nope", "--backend", "mujoco"])
    assert result.exit_code == 2 and "unknown embodiment 'nope'" in result.output and "tiny" in result.output


def test_plugin_is_light_and_registers_backends_and_terms() -> None:
    code = "import sys, mm_sim.plugin, mm_sim; assert not {'torch', 'mujoco', 'warp'} & set(sys.modules), sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert get_sim_backend("mujoco").is_available() and get_sim_backend("warp").is_available()
    for name in (
        "qpos",
        "qvel",
        "root_pos",
        "root_vel",
        "site_pos",
        "site_rot",
        "site_angvel",
        "site_linvel",
    ):
        assert callable(get_reward_term(name).fn)
    assert get_reward_term("action_out_of_range").weight == 0.01


def test_unknown_reward_term_names_the_valid_ones() -> None:
    spec = get_embodiment("tiny")
    clip = sinusoid_clip(spec.compile(), spec, seconds=0.2)
    cfg = TaskConfig.for_embodiment(spec)
    cfg.rewards["walk_nicely"] = cfg.rewards["qpos"]
    with pytest.raises(UnknownNameError, match="walk_nicely.*site_pos"):
        make_env(spec, [clip], backend="mujoco", num_worlds=1, config=cfg)


def test_config_defaults_follow_embodiment_task() -> None:
    """Facts-sheet defaults by value: the root type's sets, the embodiment's TaskDefaults on top, the k of each
    term from its registration; old task dicts (no observations) still load."""
    k = {"qpos": 10.0, "qvel": 2.0, "root_pos": 10.0, "root_vel": 10.0, "site_pos": 100.0, "site_rot": 10.0}
    k |= {"site_angvel": 0.1, "site_linvel": 0.1}
    assert {n: get_reward_term(n).params["k"] for n in k} == k
    assert {n: get_termination_term(n).params["threshold"] for n in ("site_rel_error", "site_abs_error")} == {
        "site_rel_error": 1.0, "site_abs_error": 0.25
    }  # fmt: skip
    tiny = TaskConfig.for_embodiment(get_embodiment("tiny"))
    assert tiny.terminations == {"site_abs_error": TermCfg(params={"threshold": 0.3})}
    assert TaskConfig.for_embodiment(get_embodiment("tiny"), evaluation=True).terminations == {
        "site_abs_error": TermCfg(params={"threshold": 0.2})
    }
    assert list(tiny.observations) == [
        "joint_pos",
        "joint_vel",
        "muscles",
        "touch",
        "sites",
        "lookahead",
        "phase",
    ]
    arm = TaskConfig.for_embodiment(get_embodiment("bimanual-nofingers"))
    assert {n: t.weight for n, t in arm.rewards.items()} == {
        "qpos": 0.5, "qvel": 0.5, "site_pos": 2.0, "site_rot": 0.2, "site_angvel": 0.5, "site_linvel": 0.5
    }  # fmt: skip
    assert arm.terminations == {"site_abs_error": TermCfg(params={"threshold": 0.05})}
    assert "touch" not in arm.observations and "root" not in arm.observations
    body = TaskConfig.for_embodiment(get_embodiment("myofullbody-nofingers"), evaluation=True)
    assert {n: t.params for n, t in body.terminations.items()} == {
        "site_rel_error": {"threshold": 0.5}, "root_pos_error": {"threshold": 1.0}, "root_rot_error": {"threshold": 1.0}
    }  # fmt: skip
    assert list(body.observations) == [
        "root", "joint_pos", "root_vel", "joint_vel", "muscles", "touch", "sites", "lookahead", "phase"
    ]  # fmt: skip
    assert {n: t.weight for n, t in body.rewards.items()} == {
        "qpos": 0.1, "qvel": 0.1, "root_pos": 0.1, "root_vel": 0.1, "site_pos": 0.6, "site_rot": 0.01,
        "site_angvel": 0.1, "site_linvel": 0.1,
    }  # fmt: skip
    assert TaskConfig.from_dict(body.to_dict()) == body
    spec = get_embodiment("bimanual-nofingers")
    # A task dict as the previous version saved it: terms as {weight, params}, no observations key.
    old = {"horizon": 500, "rewards": {"site_pos": {"weight": 2.0, "params": {"k": 50.0}}}}
    old |= {"terminations": {"site_abs_error": {"weight": None, "params": {"threshold": 0.1}}}}
    cfg = TaskConfig.from_dict(old, spec=spec)
    assert cfg.horizon == 500 and cfg.observations == arm.observations and cfg.penalties == arm.penalties
    assert cfg.rewards == {"site_pos": TermCfg(weight=2.0, params={"k": 50.0})}
    assert cfg.terminations == {"site_abs_error": TermCfg(params={"threshold": 0.1})}
    with pytest.raises(ValueError, match="unknown field.*'horizn'.*horizon"):
        TaskConfig.from_dict({"horizn": 3})
    # The env binds the registered k and the configured weights and thresholds; the config stays as given.
    env = make_env(
        spec.name, [sinusoid_clip(spec.compile(), spec, seconds=0.2)], backend="mujoco", num_worlds=1
    )
    assert {n: (t.weight, t.params["k"]) for n, t in env.terms["reward"].items()} == {
        n: (arm.rewards[n].weight, k[n]) for n in arm.rewards
    }
    assert env.terms["termination"]["site_abs_error"].params == {"threshold": 0.05}
    assert env.config == arm


def test_coerce_term_forms() -> None:
    """Every user form of a term; unknown names list the registered ones; wrong forms say what to give."""
    assert coerce_term("reward", "qpos", 0.3) == TermCfg(weight=0.3)
    assert coerce_term("penalty", "action_rate", True) == TermCfg()
    assert coerce_term("reward", "qpos", 0) is None and coerce_term("reward", "qpos", False) is None
    assert coerce_term("reward", "qpos", {"weight": 0}) is None
    assert coerce_term("termination", "site_abs_error", 0.1) == TermCfg(params={"threshold": 0.1})
    assert coerce_term("observation", "phase", True) == TermCfg()
    assert coerce_term("reward", "site_pos", {"params": {"k": 5}}) == TermCfg(params={"k": 5})
    given = TermCfg(weight=2.0, params={"k": 1.0})
    copy = coerce_term("reward", "qpos", given)
    assert copy == given and copy is not given and copy.params is not given.params
    with pytest.raises(ValueError, match="unknown reward term 'walk'.*'qpos'"):
        coerce_term("reward", "walk", 1.0)
    with pytest.raises(ValueError, match="unknown termination term 'qpos'.*'site_abs_error'"):
        coerce_term("termination", "qpos", 1.0)
    with pytest.raises(ValueError, match="unknown key.*'wieght'"):
        coerce_term("reward", "qpos", {"wieght": 1.0})
    with pytest.raises(ValueError, match="observation term 'phase': give true/false"):
        coerce_term("observation", "phase", 2.0)
    with pytest.raises(ValueError, match="unknown task term kind 'bonus'"):
        coerce_term("bonus", "qpos", 1.0)
    with pytest.raises(ValueError, match="expected a number"):
        coerce_term("reward", "qpos", "lots")


@pytest.mark.slow
def test_compiled_task_matches_eager() -> None:
    spec = get_embodiment("tiny")
    clip = sinusoid_clip(spec.compile(), spec, seconds=1.0)
    envs = [
        make_env(
            spec, [clip], backend="mujoco", num_worlds=2, config=TaskConfig.for_embodiment(spec, compile=c)
        )
        for c in (False, True)
    ]
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        a = torch.rand(2, spec.compile().nu, generator=g) * 2 - 1
        (o1, r1, t1, u1, _), (o2, r2, t2, u2, _) = (e.step(a) for e in envs)
        torch.testing.assert_close(o1, o2, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(r1, r2, rtol=1e-5, atol=1e-6)
        assert torch.equal(t1, t2) and torch.equal(u1, u2)


def test_terms_given_as_numbers_use_registered_defaults() -> None:
    spec = get_embodiment("tiny")
    clip = sinusoid_clip(spec.compile(), spec, seconds=0.3)
    cfg = TaskConfig.for_embodiment(spec, rewards={"qpos": 0.3}, terminations={"site_abs_error": 0.5})
    assert cfg.rewards == {"qpos": TermCfg(weight=0.3)}, "coerced at construction"
    before = cfg.to_dict()
    env = make_env(spec, [clip], backend="mujoco", num_worlds=1, config=cfg)
    assert env.terms["reward"]["qpos"] == TermCfg(weight=0.3, params={"k": 10.0})
    assert env.terms["termination"]["site_abs_error"].params == {"threshold": 0.5}
    assert cfg.to_dict() == before == env.config.to_dict(), "the env does not modify the config"
    _, reward, *_ = env.step(torch.zeros(1, env.num_actions))
    assert 0 < reward.item() <= 0.3
    cfg.rewards["qpos"] = 0.3  # assigned past the constructor: not coerced
    with pytest.raises(TypeError, match="reward term 'qpos' is 0.3, not a TermCfg.*coerce_term"):
        make_env(spec, [clip], backend="mujoco", num_worlds=1, config=cfg)


def _level(env, level: float = 0.5) -> torch.Tensor:
    """A plugin reward term: ``level`` in every world."""
    return torch.full((env.num_envs,), level)


def test_plugin_reward_term_default_weight_applies() -> None:
    """A term switched on without a weight gets its record's weight: reward == weight * value in a real step."""
    from mm_core import hookimpl, registry
    from mm_core.plugins import get_plugin_manager
    from mm_core.records import RewardTerm

    class LevelPlugin:
        @hookimpl
        def mm_reward_terms(self):  # noqa: ANN202
            return [RewardTerm(name="level", fn=_level, weight=0.375, params={"level": 0.625})]

    pm = get_plugin_manager()
    pm.register(LevelPlugin(), "level_plugin")
    registry.clear_cache()
    try:
        spec = get_embodiment("tiny")
        clip = sinusoid_clip(spec.compile(), spec, seconds=1.0)
        # (term config, the value its fn returns, the weight it must get)
        cases = [
            (TermCfg(params={"level": 0.5}), 0.5, 0.375),  # params given, weight not: the record's weight
            ({}, 0.625, 0.375),  # as `--set task.rewards.level={}`: the record's params and weight
            (True, 0.625, 0.375),  # switched on: the record's weight and params
            (0.25, 0.625, 0.25),  # a weight given wins
            (TermCfg(weight=2.0, params={"level": 0.5}), 0.5, 2.0),
        ]
        for term, value, weight in cases:
            cfg = TaskConfig.for_embodiment(spec, rewards={"level": term}, penalties={})
            env = make_env(spec, [clip], backend="mujoco", num_worlds=2, config=cfg)
            assert env.terms["reward"]["level"].weight == weight, term
            _, reward, _, _, info = env.step(torch.zeros(2, env.num_actions))
            assert info["reward_terms"]["level"].tolist() == [weight * value] * 2, term
            assert reward.tolist() == [weight * value] * 2, term
        # The built-ins keep their values: a built-in switched on without a weight gets its record's weight.
        cfg = TaskConfig.for_embodiment(spec, rewards={"qpos": True, "site_pos": {"params": {"k": 50.0}}})
        env = make_env(spec, [clip], backend="mujoco", num_worlds=1, config=cfg)
        assert {n: (t.weight, t.params) for n, t in env.terms["reward"].items()} == {
            "qpos": (0.1, {"k": 10.0}), "site_pos": (0.6, {"k": 50.0})
        }  # fmt: skip
        assert env.terms["penalty"]["action_out_of_range"].weight == 0.01
    finally:
        pm.unregister("level_plugin")
        registry.clear_cache()

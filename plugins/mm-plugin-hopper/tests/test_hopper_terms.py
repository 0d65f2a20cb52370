"""The hopper's observation, reward and termination terms, registered through its entry point, act in the task.

Each is switched on by its registry name, through ``TaskConfig`` / ``coerce_term`` and through ``mm train --set``,
and checked by value against the simulator's own site positions and the reference clip; the conformance kit's
suites run on each. Needs mm-sim (and mm-rl for the ``mm train`` route).
"""

from __future__ import annotations

import pytest

pytest.importorskip("mm_sim", reason="the task terms run in mm-sim's imitation env")

import json  # noqa: E402

import torch  # noqa: E402

from mm_core.registry import get_embodiment, observation_terms, reward_terms, termination_terms  # noqa: E402
from mm_sim import make_env  # noqa: E402
from mm_sim.motion import sinusoid_clip  # noqa: E402
from mm_sim.tasks.config import TaskConfig, TermCfg, coerce_term  # noqa: E402
from mm_sim.testing import (  # noqa: E402
    ObservationTermConformance,
    RewardTermConformance,
    TerminationTermConformance,
)

STARTS = [0, 30]  # the two worlds' start frames: different pelvis heights


class TestPelvisHeightObservation(ObservationTermConformance):
    term_name, embodiment_name = "hopper_pelvis_height", "hopper"


class TestHeightMatchReward(RewardTermConformance):
    term_name, kind, embodiment_name = "hopper_height_match", "tracking", "hopper"


class TestPelvisLowTermination(TerminationTermConformance):
    term_name, embodiment_name, fires_with = "hopper_pelvis_low", "hopper", {"threshold": 10.0}


@pytest.fixture(scope="module")
def hopper():
    spec = get_embodiment("hopper")
    model = spec.compile()
    return spec, model, sinusoid_clip(model, spec, seconds=1.0)


def _step(spec, model, clip, cfg: TaskConfig):
    """One step of two worlds (start frames ``STARTS``) under a fixed action; (env, obs, reward, terminated, info,
    pelvis height after the step read from the simulator (N,))."""
    env = make_env(spec, [clip], backend="mujoco", num_worlds=2, config=cfg)
    env.reset(clips=[0, 0], frames=STARTS)
    a = torch.linspace(-1, 1, model.nu).repeat(2, 1)
    obs, reward, terminated, truncated, info = env.step(a)
    z = env.sim.site_xpos[:, model.site("mimic_pelvis").id, 2].to(torch.float32)
    return env, obs, reward, terminated, truncated, info, z


def test_registered_through_the_entry_point() -> None:
    assert observation_terms.provider("hopper_pelvis_height") == "hopper"
    assert reward_terms.provider("hopper_height_match") == "hopper"
    assert termination_terms.provider("hopper_pelvis_low") == "hopper"


def _assert_terms_act(
    spec, model, clip, cfg: TaskConfig, *, scale: float, weight: float, threshold: float
) -> None:
    """``cfg`` = the embodiment's defaults + the three hopper terms; one step of it against one of the defaults,
    checked by value: the observation has one more column, scale * pelvis height (the others unchanged); the reward
    is up by weight * exp(-k (z - z_ref)^2), k the record's 100, z_ref from reference frame start + 1; the episodes
    whose pelvis is below ``threshold`` terminate, the others do not."""
    _, obs0, reward0, term0, trunc0, _, z = _step(spec, model, clip, TaskConfig.for_embodiment(spec))
    assert not (term0 | trunc0).any()
    env, _, reward, terminated, _, info, z_on = _step(spec, model, clip, cfg)
    torch.testing.assert_close(
        z_on[~terminated], z[~terminated]
    )  # the same physics (a terminated world is reset)
    obs = info["final_obs"]  # before the terminated world's reset
    assert env.num_obs == obs0.shape[1] + 1 and list(env.observation_layout())[-1] == "hopper_pelvis_height"
    torch.testing.assert_close(obs[:, :-1], obs0)
    torch.testing.assert_close(obs[:, -1], scale * z)
    z_ref = torch.as_tensor(clip.site_pos[[s + 1 for s in STARTS], 0, 2], dtype=torch.float32)
    expected = weight * torch.exp(-100.0 * (z - z_ref).square())
    assert float(expected.min()) > 1e-3
    torch.testing.assert_close(info["reward_terms"]["hopper_height_match"], expected)
    torch.testing.assert_close(reward - reward0, expected, rtol=1e-5, atol=1e-6)
    assert terminated.tolist() == (z < threshold).tolist() and terminated.any() and not terminated.all()


def _between(spec, model, clip) -> float:
    """A pelvis height between the two worlds' after the step (so one episode ends and the other does not)."""
    *_, z = _step(spec, model, clip, TaskConfig.for_embodiment(spec))
    assert abs(float(z[0] - z[1])) > 1e-3, z
    return round(float(z.mean()), 6)


def test_each_term_acts_by_value(hopper) -> None:
    """Switched on in Python: TaskConfig overrides in coerce_term's forms (a dict, a weight, a threshold)."""
    spec, model, clip = hopper
    base, threshold = TaskConfig.for_embodiment(spec), _between(spec, model, clip)
    on = {
        "hopper_pelvis_height": coerce_term("observation", "hopper_pelvis_height", {"params": {"scale": 2.0}})
    }
    cfg = TaskConfig.for_embodiment(
        spec,
        observations=base.observations | on,
        rewards=base.rewards | {"hopper_height_match": 0.3},
        terminations=base.terminations | {"hopper_pelvis_low": threshold},
    )
    _assert_terms_act(spec, model, clip, cfg, scale=2.0, weight=0.3, threshold=threshold)


def test_switched_on_by_mm_train_set(hopper, tmp_path) -> None:
    """Switched on from the command line: ``mm train --set task.<kind>.<name>=...`` trains with them (the policy
    sees one more input), and the task config the run saved makes them act as above."""
    pytest.importorskip("mm_rl")
    from typer.testing import CliRunner

    from mm_core.cli import build_app
    from mm_rl import config_from_dict, load_policy, task_config

    spec, model, clip = hopper
    threshold, run = _between(spec, model, clip), tmp_path / "run"
    sets = [
        "task.observations.hopper_pelvis_height=true",
        "task.rewards.hopper_height_match=0.3",
        f"task.terminations.hopper_pelvis_low={threshold}",
        "ppo.num_steps=8",
        "ppo.num_minibatches=2",
    ]
    args = ["train", "-e", "hopper", "-m", str(clip.save(tmp_path / "hop.npz")), "--updates", "1", "-n", "4"]
    args += ["--backend", "mujoco", "--device", "cpu", "--run-dir", str(run), "--json"]
    res = CliRunner().invoke(build_app(), args + [x for s in sets for x in ("--set", s)])
    assert res.exit_code == 0, res.output
    cfg = task_config(config_from_dict(json.loads((run / "config.json").read_text())))
    base = TaskConfig.for_embodiment(spec)
    assert cfg.observations == base.observations | {"hopper_pelvis_height": TermCfg()}
    assert cfg.rewards == base.rewards | {"hopper_height_match": TermCfg(weight=0.3)}
    assert cfg.terminations == base.terminations | {
        "hopper_pelvis_low": TermCfg(params={"threshold": threshold})
    }
    policy, _ = load_policy(run, "cpu")
    width = make_env(spec, [clip], backend="mujoco", num_worlds=1, config=base).num_obs + 1
    assert policy.num_obs == width
    _assert_terms_act(spec, model, clip, cfg, scale=1.0, weight=0.3, threshold=threshold)

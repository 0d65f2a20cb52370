"""The typed task inside TrainConfig: ``--set task.*`` and TOML through the one override engine, configs written
before the task was typed (load, evaluate, resume), the evaluation task, presets by properties, the public API."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mm_core import get_embodiment
from mm_core.registry import embodiments
from mm_rl.config import ConfigError, config_from_dict, preset, resolve, to_dict
from mm_rl.envs import initial_std, task_config
from mm_rl.run_dir import RunDirError, check_same_run, write_config
from mm_sim.tasks.config import TaskConfig, TermCfg

if "tiny" not in embodiments.names():
    pytest.skip("mm-models is not installed", allow_module_level=True)


def _tiny_task() -> TaskConfig:
    return TaskConfig.for_embodiment(get_embodiment("tiny"))


def test_set_task_keys_patch_the_typed_task() -> None:
    cfg = resolve(
        "tiny",
        None,
        [
            "task.horizon=500",
            "task.lookahead_s=[0, 0.5]",
            "task.rewards.site_pos.weight=0.3",
            "task.rewards.site_pos.params.k=50",
            "task.rewards.root_pos=0.1",  # not in tiny's set: a new term with that weight
            "task.rewards.qpos=0",  # removes the term
            "task.terminations.site_abs_error=0.1",
            "task.observations.root_vel=true",
            "task.penalties.action_rate=0.02",
        ],
    )
    want = _tiny_task()
    want.horizon, want.lookahead_s = 500, (0.0, 0.5)
    want.rewards["site_pos"] = TermCfg(weight=0.3, params={"k": 50})
    want.rewards["root_pos"] = TermCfg(weight=0.1)
    del want.rewards["qpos"]
    want.terminations = {"site_abs_error": TermCfg(params={"threshold": 0.1})}
    want.observations["root_vel"] = TermCfg()
    want.penalties["action_rate"] = TermCfg(weight=0.02)
    assert cfg.task == want
    assert list(cfg.task.observations)[-1] == "root_vel"  # appended: the layout keeps its order
    # A weight of 0 through the term's own key also leaves it out.
    assert "qvel" not in resolve("tiny", None, ["task.rewards.qvel.weight=0"]).task.rewards


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("task.horizn=5", "valid keys here: task.horizon, task.lookahead_s"),
        ("task.rewards.nope=0.1", "unknown reward term 'nope'; registered reward terms: ["),
        ("task.terminations.nope.params.threshold=1", "registered termination terms: ["),
        ("task.observations.nope=true", "registered observation terms: ["),
        (
            "task.rewards.site_pos.wieght=1",
            "valid keys here: task.rewards.site_pos.weight, task.rewards.site_pos.params",
        ),
        ("task.rewards=3", "task.rewards must be a table of reward terms"),
        ("task.horizon=long", "expected an integer"),
    ],
)
def test_set_task_errors_list_the_valid_keys(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"--set " + item.replace("[", r"\[") + ".*" + _re(message)):
        resolve("tiny", None, [item])


def _re(text: str) -> str:
    import re

    return re.escape(text)


def test_toml_task_tables(tmp_path: Path) -> None:
    """A ``[task.*]`` table replaces that term set (as config.json's does); a quoted dotted key patches one term."""
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[task]\nhorizon = 300\n"rewards.site_pos.weight" = 0.25\n'
        "[task.terminations]\nsite_abs_error = 0.15\n"
        "[task.penalties.action_out_of_range]\nweight = 0.5\n"
        "[task.observations]\nsites = true\njoint_pos = true\n"
    )
    cfg = resolve("tiny", toml, [])
    want = _tiny_task()
    want.horizon = 300
    want.rewards["site_pos"] = TermCfg(weight=0.25)
    want.terminations = {"site_abs_error": TermCfg(params={"threshold": 0.15})}
    want.penalties = {"action_out_of_range": TermCfg(weight=0.5)}
    want.observations = {"sites": TermCfg(), "joint_pos": TermCfg()}
    assert cfg.task == want


#: A config.json / checkpoint ``config`` of the version before the task was typed: ``task`` held overrides only.
OLD_CONFIG = {
    "embodiment": "tiny",
    "num_worlds": 8,
    "task": {
        "horizon": 6,
        "rewards.site_pos.weight": 0.3,
        "terminations": {"site_abs_error": {"params": {"threshold": 0.1}}},
    },
}


def _old_task_by_hand() -> TaskConfig:
    want = _tiny_task()
    want.horizon = 6
    want.rewards["site_pos"] = TermCfg(weight=0.3)
    want.terminations = {"site_abs_error": TermCfg(params={"threshold": 0.1})}
    return want


def test_old_format_configs_load_and_round_trip() -> None:
    cfg = config_from_dict(copy.deepcopy(OLD_CONFIG))
    assert cfg.task == _old_task_by_hand() and cfg.num_worlds == 8
    # A checkpoint meta of that version gives the same task; the new format reads back to the same config.
    assert task_config({"config": copy.deepcopy(OLD_CONFIG), "task": OLD_CONFIG["task"]}) == cfg.task
    again = config_from_dict(json.loads(json.dumps(to_dict(cfg))))
    assert again == cfg
    # A term removed for training stays removed when the saved (full) config is read back.
    cfg = resolve("tiny", None, ["task.rewards.qpos=0"])
    assert "qpos" not in config_from_dict(json.loads(json.dumps(to_dict(cfg)))).task.rewards


def test_old_format_run_dir_resumes(tmp_path: Path) -> None:
    """A run directory whose config.json holds the old overrides-only task is the same run as the typed config
    it describes; a config that differs in the task is refused, naming the key."""
    write_config(tmp_path, resolve("tiny", None, ["task.horizon=6"]))
    saved = json.loads((tmp_path / "config.json").read_text())
    saved["task"] = {"horizon": 6}  # as the previous version wrote it
    (tmp_path / "config.json").write_text(json.dumps(saved))
    check_same_run(tmp_path, resolve("tiny", None, ["task.horizon=6"]))
    with pytest.raises(RunDirError, match=r"task\.horizon differ"):
        check_same_run(tmp_path, resolve("tiny", None, ["task.horizon=7"]))
    with pytest.raises(RunDirError, match=r"task\.rewards\.site_pos\.weight differ"):
        check_same_run(tmp_path, resolve("tiny", None, ["task.horizon=6", "task.rewards.site_pos.weight=1"]))


def test_evaluation_task_takes_the_embodiment_eval_terminations() -> None:
    """The run's task with each term of ``spec.task.eval_terminations`` replaced by that entry."""
    cfg = resolve("tiny", None, ["task.terminations.site_abs_error=0.1", "task.horizon=9"])
    spec = get_embodiment("tiny")
    (name, threshold), *_ = dict(spec.task.eval_terminations).items()
    ev = task_config(cfg, evaluation=True)
    assert ev.terminations == {name: TermCfg(params={"threshold": float(threshold)})}
    assert ev.horizon == 9 and ev.rewards == cfg.task.rewards
    assert cfg.task.terminations["site_abs_error"].params["threshold"] == 0.1  # the source is left alone
    # Free root: the evaluation site threshold replaces the run's; the root terms stay as the run trained them.
    full = resolve("myofullbody-nofingers", None, ["task.terminations.root_pos_error=0.7"])
    ev = task_config(full, evaluation=True)
    fspec = get_embodiment("myofullbody-nofingers")
    for term, value in dict(fspec.task.eval_terminations).items():
        assert ev.terminations[term] == TermCfg(params={"threshold": float(value)})
    assert ev.terminations["root_pos_error"] == TermCfg(params={"threshold": 0.7})
    assert set(ev.terminations) == set(full.task.terminations)


#: The presets by value: (num_worlds, actor width, actor depth, critic depth, num_steps, num_minibatches, epochs,
#: lr, lr_decay, muon_lr_scale, max_updates).
SMALL = (64, 128, 2, 2, 32, 8, 2, 3e-3, True, "match_adamw", 150)
BIMANUAL = (8192, 1024, 4, 4, 10, 32, 1, 4e-4, False, "reference", None)
FULLBODY = (8192, 1024, 16, 16, 20, 128, 1, 4e-4, True, "reference", None)
EXPECTED = {
    "tiny": SMALL,
    "hopper": SMALL,  # the example plugin: a small model that is not named tiny
    "bimanual": BIMANUAL,
    "bimanual-nofingers": BIMANUAL,
    "myofullbody": FULLBODY,
    "myofullbody-nofingers": FULLBODY,
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_presets_by_properties(name: str) -> None:
    if name not in embodiments.names():
        pytest.skip(f"{name} is not installed")
    c = preset(name)
    got = (
        c.num_worlds,
        c.policy.actor_width,
        c.policy.actor_depth,
        c.policy.critic_depth,
        c.ppo.num_steps,
        c.ppo.num_minibatches,
        c.ppo.epochs,
        c.ppo.lr,
        c.ppo.lr_decay,
        c.ppo.muon_lr_scale,
        c.max_updates,
    )
    assert got == EXPECTED[name]
    spec = get_embodiment(name)
    assert c.task == TaskConfig.for_embodiment(spec)
    assert initial_std(c) == spec.task.initial_std
    assert initial_std(dataclasses.replace(c, policy=dataclasses.replace(c.policy, init_std=0.3))) == 0.3


PUBLIC_API = {
    "load_policy",
    "load_checkpoint",
    "CheckpointError",
    "TrainConfig",
    "config_from_dict",
    "task_config",
    "make_env",
    "eval_config",
    "rollout_first_episodes",
    "resolve_motion_paths",
    "GHOST_OFFSET",
    "activation_rgba",
}


def test_public_api_is_lazy_and_complete() -> None:
    code = (
        "import sys, mm_rl; heavy = [m for m in ('torch', 'mujoco', 'warp', 'mm_sim.env') if m in sys.modules]; "
        "print(sorted(mm_rl.__all__)); print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    names, heavy = out.strip().splitlines()
    assert names == str(sorted(PUBLIC_API)) and heavy == "[]"
    import inspect

    import mm_rl
    from mm_rl import checkpoint, evaluate, render

    assert mm_rl.load_checkpoint is checkpoint.load and mm_rl.load_policy is checkpoint.load_policy
    assert mm_rl.rollout_first_episodes is evaluate.rollout_first_episodes
    assert mm_rl.GHOST_OFFSET is render.GHOST_OFFSET
    assert list(inspect.signature(mm_rl.make_env).parameters) == [
        "cfg", "motion_paths", "device", "seed", "num_worlds", "evaluation"
    ]  # fmt: skip
    params = inspect.signature(mm_rl.task_config).parameters
    assert params["evaluation"].kind is inspect.Parameter.KEYWORD_ONLY
    with pytest.raises(AttributeError, match="its public API: CheckpointError"):
        mm_rl.Trainer  # noqa: B018

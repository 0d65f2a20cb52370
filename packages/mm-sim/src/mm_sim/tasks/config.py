"""Configuration of the imitation task: kw_only dataclasses with defaults per embodiment."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mm_core.contracts import EmbodimentSpec


@dataclass(kw_only=True)
class TermCfg:
    """One reward, penalty or termination term, referred to by its registry name."""

    weight: float | None = None
    """Reward: w in w * term; penalty: w in -w * cost; termination: unused. ``None`` (not given): the registered
    term's default, :attr:`mm_core.records.RewardTerm.weight` (the env fills it in)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword parameters passed to the term function (e.g. ``k`` of an exp kernel, ``threshold``)."""


# Facts sheet: reward = sum_i w_i * exp(-k_i * d_i). (name, k, weight free-root / MyoFullBody, weight fixed-root).
_REWARD_TABLE = (
    ("qpos", 10.0, 0.1, 0.5),
    ("qvel", 2.0, 0.1, 0.5),
    ("root_pos", 10.0, 0.1, 0.0),
    ("root_vel", 10.0, 0.1, 0.0),
    ("site_pos", 100.0, 0.6, 2.0),
    ("site_rot", 10.0, 0.01, 0.2),
    ("site_angvel", 0.1, 0.1, 0.5),
    ("site_linvel", 0.1, 0.1, 0.5),
)


def default_rewards(root: str) -> dict[str, TermCfg]:
    """The reference's tracking terms and weights for a ``free`` (MyoFullBody) or ``fixed`` (bimanual) root."""
    col = 2 if root == "free" else 3
    return {row[0]: TermCfg(weight=row[col], params={"k": row[1]}) for row in _REWARD_TABLE if row[col] > 0}


def default_terminations(spec: EmbodimentSpec) -> dict[str, TermCfg]:
    """Facts-sheet thresholds: MyoFullBody (and any free root) 1.0 m / 1.0 m / 1.0 rad (training); bimanual mean
    absolute site error 0.05 m; other fixed-root embodiments (``tiny``, plugins) 0.25 m (the bimanual GMR value)."""
    if spec.root == "free":
        return {
            "site_rel_error": TermCfg(params={"threshold": 1.0}),
            "root_pos_error": TermCfg(params={"threshold": 1.0}),
            "root_rot_error": TermCfg(params={"threshold": 1.0}),
        }
    threshold = 0.05 if spec.name.startswith("bimanual") else 0.25
    return {"site_abs_error": TermCfg(params={"threshold": threshold})}


@dataclass(kw_only=True)
class TaskConfig:
    """The imitation task (observation layout, reward, termination, episode); see ``for_embodiment``."""

    horizon: int = 1000
    """Time limit in control steps (truncation)."""
    lookahead_s: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)
    """Reference frames observed ahead of the current one, in seconds (clamped to the clip's end)."""
    heading_invariant: bool = True
    """Express world-axis site and root features in the root's heading (yaw) frame; False = world axes (as the
    reference does). Only affects free-root embodiments."""
    rewards: dict[str, TermCfg] = field(default_factory=lambda: default_rewards("free"))
    """Tracking terms: name -> weight and params; reward = sum w * term (each term in [0, 1])."""
    penalties: dict[str, TermCfg] = field(
        default_factory=lambda: {"action_out_of_range": TermCfg(weight=0.01)}
    )
    """Penalty terms: name -> weight; their sum -w * cost is floored at ``penalty_floor``."""
    penalty_floor: float = -1.0
    """Lower bound of the summed penalties."""
    terminations: dict[str, TermCfg] = field(
        default_factory=lambda: {"site_rel_error": TermCfg(params={"threshold": 1.0})}
    )
    """Failure conditions: name -> params (e.g. ``threshold``); any true terminates the episode."""

    compile: bool = False
    """Run the task maths (features, rewards, terminations, observations) through ``torch.compile``: one fused
    kernel instead of ~200 small ops per step (first step compiles, ~1 min on CPU; cached on disk after)."""

    @classmethod
    def for_embodiment(
        cls, spec: EmbodimentSpec, *, evaluation: bool = False, **overrides: Any
    ) -> TaskConfig:
        """Defaults for ``spec`` (facts-sheet weights by root type), then ``spec.extras``, then ``overrides``.

        ``extras`` keys read: ``reward_weights`` (term -> weight; 0 removes the term), ``reward_sharpness``
        (term -> k), ``termination`` (``mean_site_error_m``: mean site error, relative to the main site for free
        roots, absolute for fixed ones; ``root_pos_error_m``; ``root_rot_error_rad``; ``eval_``-prefixed values
        replace them when ``evaluation``; or termination term names -> threshold or params).
        """
        rewards = default_rewards(spec.root)
        sharp = {r[0]: r[1] for r in _REWARD_TABLE} | dict(spec.extras.get("reward_sharpness", {}))
        for name, w in dict(spec.extras.get("reward_weights", {})).items():
            if float(w) == 0:
                rewards.pop(name, None)
            else:
                rewards[name] = TermCfg(weight=float(w), params={"k": sharp[name]} if name in sharp else {})
        for name, t in rewards.items():
            if name in sharp:
                t.params["k"] = float(sharp[name])
        terms = default_terminations(spec)
        given = dict(spec.extras.get("termination", {}))
        if given:
            site_term = "site_rel_error" if spec.root == "free" else "site_abs_error"
            aliases = {"mean_site_error_m": site_term, "root_pos_error_m": "root_pos_error"}
            aliases["root_rot_error_rad"] = "root_rot_error"
            chosen: dict[str, TermCfg] = {}
            for key, value in given.items():
                if key.startswith("eval_"):
                    continue
                if evaluation and "eval_" + key in given:
                    value = given["eval_" + key]
                name = aliases.get(key, key)
                params = dict(value) if isinstance(value, dict) else {"threshold": float(value)}
                chosen[name] = TermCfg(params=params)
            terms = chosen
        return cls(**{"rewards": rewards, "terminations": terms, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskConfig:
        """Inverse of :meth:`to_dict` (e.g. a checkpoint's saved task config)."""
        d = dict(d)
        for k in ("rewards", "penalties", "terminations"):
            if k in d:
                d[k] = {n: v if isinstance(v, TermCfg) else TermCfg(**v) for n, v in d[k].items()}
        if "lookahead_s" in d:
            d["lookahead_s"] = tuple(d["lookahead_s"])
        return cls(**d)

"""Configuration of the imitation task, and the one home of its defaults.

Where each default lives:

- a term's parameters (the ``k`` of a reward kernel, a termination ``threshold``) and its default weight: its
  registration record (:class:`~mm_core.records.RewardTerm`, :class:`~mm_core.records.ObservationTerm`,
  :class:`~mm_core.records.TerminationTerm`), published through the ``mm_*_terms`` hooks;
- the default term sets per root type (observation layout, reward weights, terminations, penalties): the tables
  below (facts sheet: the reference's MyoFullBody terms for ``free`` roots, its bimanual terms for ``fixed``);
- an embodiment's deviations from its root type's sets (and PPO's initial std): ``EmbodimentSpec.task``
  (:class:`~mm_core.contracts.TaskDefaults`).

A config holds :class:`TermCfg` entries only: ``TaskConfig(...)`` and :meth:`TaskConfig.from_dict` turn user values
(numbers, ``True``, dicts) into them with :func:`coerce_term`. The env binds each term with the record's params
updated by the entry's, and its weight, or the record's when the entry has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mm_core.contracts import EmbodimentSpec

KINDS = ("observation", "reward", "penalty", "termination")
"""Term kinds of :func:`coerce_term`; rewards and penalties are both ``mm_reward_terms`` records."""

OBSERVATIONS: dict[str, tuple[str, ...]] = {
    "free": ("root", "joint_pos", "root_vel", "joint_vel", "muscles", "touch", "sites", "lookahead", "phase"),
    "fixed": ("joint_pos", "joint_vel", "muscles", "touch", "sites", "lookahead", "phase"),
}
"""Default observation layout per root type (``touch`` is left out for embodiments without touch sensors)."""

REWARD_WEIGHTS: dict[str, dict[str, float]] = {
    "free": {
        "qpos": 0.1,
        "qvel": 0.1,
        "root_pos": 0.1,
        "root_vel": 0.1,
        "site_pos": 0.6,
        "site_rot": 0.01,
        "site_angvel": 0.1,
        "site_linvel": 0.1,
    },
    "fixed": {
        "qpos": 0.5,
        "qvel": 0.5,
        "site_pos": 2.0,
        "site_rot": 0.2,
        "site_angvel": 0.5,
        "site_linvel": 0.5,
    },
}
"""Default tracking terms and weights per root type (facts sheet: reward = sum_i w_i * exp(-k_i * d_i))."""

TERMINATIONS: dict[str, dict[str, float]] = {
    "free": {"site_rel_error": 1.0, "root_pos_error": 1.0, "root_rot_error": 1.0},
    "fixed": {"site_abs_error": 0.25},
}
"""Default termination thresholds per root type: MyoFullBody's 1.0 m / 1.0 m / 1.0 rad (training) for free roots;
mean absolute site error 0.25 m for fixed roots (an embodiment tightens it in ``TaskDefaults``)."""

PENALTIES: dict[str, float] = {"action_out_of_range": 0.01}
"""Default penalty terms and weights (every root type)."""

TERM_FIELDS = {
    "observations": "observation",
    "rewards": "reward",
    "penalties": "penalty",
    "terminations": "termination",
}
"""TaskConfig field -> term kind."""


@dataclass(kw_only=True)
class TermCfg:
    """One observation, reward, penalty or termination term, referred to by its registry name."""

    weight: float | None = None
    """Reward: w in w * term; penalty: w in -w * cost; observation, termination: unused. ``None``: the registered
    term's default, :attr:`mm_core.records.RewardTerm.weight` (the env fills it in when it binds the term)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword parameters of the term function (e.g. ``k`` of an exp kernel, ``threshold``); they update the
    registered term's ``params`` (a key not given keeps the registered value)."""


def _registry(kind: str) -> Any:
    from mm_core import registry

    if kind not in KINDS:
        raise ValueError(f"unknown task term kind {kind!r}; valid: {list(KINDS)}")
    if kind == "observation":
        return registry.observation_terms
    if kind == "termination":
        return registry.termination_terms
    return registry.reward_terms


def coerce_term(kind: str, name: str, value: Any) -> TermCfg | None:
    """A user value for the ``kind`` term ``name`` as a :class:`TermCfg`, or None (leave the term out).

    ``kind``: ``observation``, ``reward``, ``penalty`` or ``termination``. ``value``: a number is a weight (reward,
    penalty) or a ``threshold`` (termination); ``True`` switches the term on with its registered defaults; a dict
    holds :class:`TermCfg` fields (``weight``, ``params``); a TermCfg is copied; ``False``, ``None`` or a weight of
    0 leave the term out. Raises ValueError for a name that no plugin registered (listing the registered names of
    that kind) and for a value of the wrong form.
    """
    reg = _registry(kind)
    names = reg.names()
    if name not in names:
        raise ValueError(
            f"unknown {kind} term {name!r}; registered {kind} terms: {names} (a plugin adds one through its "
            "mm_*_terms hook; `mm plugins list` shows which plugins are loaded)"
        )
    where = f"task {kind} term {name!r}"
    if value is None or value is False:
        return None
    if value is True:
        return TermCfg()
    if isinstance(value, TermCfg):
        value = {"weight": value.weight, "params": value.params}
    if isinstance(value, int | float):
        if kind == "observation":
            raise ValueError(f"{where}: give true/false or {{'params': {{...}}}}, got {value!r}")
        if kind == "termination":
            return TermCfg(params={"threshold": float(value)})
        return None if value == 0 else TermCfg(weight=float(value))
    if isinstance(value, Mapping):
        extra = sorted(set(value) - {"weight", "params"})
        if extra:
            raise ValueError(
                f"{where}: unknown key(s) {extra} in {dict(value)!r}; a term takes 'weight' and 'params' "
                "(e.g. {'weight': 0.5, 'params': {'k': 10.0}})"
            )
        weight, params = value.get("weight"), value.get("params") or {}
        if not isinstance(params, Mapping):
            raise ValueError(f"{where}: params must be a mapping of keyword arguments, got {params!r}")
        if weight is not None:
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ValueError(f"{where}: weight must be a number, got {weight!r}")
            if weight == 0:
                return None
            weight = float(weight)
        return TermCfg(weight=weight, params=dict(params))
    raise ValueError(
        f"{where}: expected a number, true/false, a dict of TermCfg fields or a TermCfg, got {value!r}"
    )


def _coerce_all(kind: str, terms: Mapping[str, Any]) -> dict[str, TermCfg]:
    out = {}
    for name, value in terms.items():
        t = coerce_term(kind, name, value)
        if t is not None:
            out[name] = t
    return out


def _set(kind: str, values: Mapping[str, Any]) -> dict[str, TermCfg]:
    """Default entries from a name -> weight / threshold table (no registry look-up: built-in names)."""
    if kind == "termination":
        return {n: TermCfg(params={"threshold": float(v)}) for n, v in values.items()}
    return {n: TermCfg(weight=float(v)) for n, v in values.items()}


@dataclass(kw_only=True)
class TaskConfig:
    """The imitation task: observation layout, reward, termination and episode; see :meth:`for_embodiment`.

    The class defaults are those of a free root; the term dicts may be given in any :func:`coerce_term` form and
    hold :class:`TermCfg` entries after construction.
    """

    horizon: int = 1000
    """Time limit in control steps (truncation)."""
    lookahead_s: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)
    """Reference frames observed ahead of the current one, in seconds (clamped to the clip's end)."""
    heading_invariant: bool = True
    """Express world-axis site and root features in the root's heading (yaw) frame; False = world axes (as the
    reference does). Only affects free-root embodiments."""
    observations: dict[str, TermCfg] = field(
        default_factory=lambda: dict.fromkeys(OBSERVATIONS["free"], TermCfg())
    )
    """Observation terms, in order: the policy's observation layout (their outputs concatenated)."""
    rewards: dict[str, TermCfg] = field(default_factory=lambda: _set("reward", REWARD_WEIGHTS["free"]))
    """Tracking terms: name -> weight and params; reward = sum w * term (each term in [0, 1])."""
    penalties: dict[str, TermCfg] = field(default_factory=lambda: _set("penalty", PENALTIES))
    """Penalty terms: name -> weight; their sum -w * cost is floored at ``penalty_floor``."""
    penalty_floor: float = -1.0
    """Lower bound of the summed penalties."""
    terminations: dict[str, TermCfg] = field(
        default_factory=lambda: _set("termination", TERMINATIONS["free"])
    )
    """Failure conditions: name -> params (e.g. ``threshold``); any true terminates the episode."""

    compile: bool = False
    """Run the task maths (features, rewards, terminations, observations) through ``torch.compile``: one fused
    kernel instead of ~200 small ops per step (first step compiles, ~1 min on CPU; cached on disk after)."""

    def __post_init__(self) -> None:
        for attr, kind in TERM_FIELDS.items():
            setattr(self, attr, _coerce_all(kind, getattr(self, attr)))
        self.lookahead_s = tuple(float(s) for s in self.lookahead_s)

    @classmethod
    def for_embodiment(
        cls, spec: EmbodimentSpec, *, evaluation: bool = False, **overrides: Any
    ) -> TaskConfig:
        """Defaults for ``spec``: its root type's term sets (tables above; ``touch`` only with touch sensors),
        replaced by ``spec.task``'s (``reward_weights``, ``terminations``, and ``eval_terminations`` entries on top
        when ``evaluation``), then ``overrides`` (TaskConfig fields, term dicts in any :func:`coerce_term` form)."""
        task = spec.task
        obs = [n for n in OBSERVATIONS[spec.root] if n != "touch" or spec.touch_sensors]
        weights = REWARD_WEIGHTS[spec.root] if task.reward_weights is None else task.reward_weights
        rewards = {n: TermCfg(weight=float(w)) for n, w in weights.items() if float(w) != 0}
        terms: dict[str, TermCfg] = _set("termination", TERMINATIONS[spec.root])
        if task.terminations is not None:
            terms = _termination_entries(task.terminations)
        if evaluation and task.eval_terminations:
            terms |= _termination_entries(task.eval_terminations)
        return cls(
            **{"observations": dict.fromkeys(obs, TermCfg()), "rewards": rewards, "terminations": terms}
            | overrides
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (terms as ``{"weight", "params"}``); :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], *, spec: EmbodimentSpec | None = None, evaluation: bool = False
    ) -> TaskConfig:
        """Inverse of :meth:`to_dict`; also reads task dicts saved by earlier versions (e.g. without
        ``observations``). Fields missing from ``d`` take the defaults of ``spec`` (:meth:`for_embodiment`) when
        given, else the class defaults (free root)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"task config: unknown field(s) {unknown}; fields: {sorted(names)}")
        if spec is not None:
            return cls.for_embodiment(spec, evaluation=evaluation, **d)
        return cls(**d)


def _termination_entries(given: Mapping[str, Any]) -> dict[str, TermCfg]:
    """``TaskDefaults`` termination entries (threshold or params mapping) as TermCfgs."""
    return {
        n: TermCfg(params=dict(v)) if isinstance(v, Mapping) else TermCfg(params={"threshold": float(v)})
        for n, v in given.items()
    }

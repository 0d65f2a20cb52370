"""Training configuration: kw_only dataclasses, presets per embodiment, TOML files and ``--set key=value`` overrides.

One override engine, :func:`set_key`, serves ``--set``, TOML files, explicit CLI options and ``config.json`` of a
run or checkpoint (``config_from_dict``). Its ``task.*`` keys reach into mm-sim's typed ``TaskConfig``; a term map
(``task.rewards`` etc.) given whole (a table) replaces the set, a key inside it (``task.rewards.site_pos.weight``)
patches one term, and a value for one term goes through ``mm_sim.tasks.config.coerce_term`` (a number is a weight
or a threshold, ``true`` switches it on with its registered defaults, ``false`` or a weight of 0 leaves it out).

Light module (no torch): the CLI resolves the config before importing anything heavy.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mm_sim.tasks.config import TERM_FIELDS, TaskConfig, TermCfg, coerce_term

#: The embodiment ``mm train`` uses when none is given: its demo trains on the generated walk within minutes.
DEFAULT_EMBODIMENT = "tiny"


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the key or file and what to do."""


@dataclass(kw_only=True)
class PolicyConfig:
    """Actor and critic networks (separate MLPs, Linear -> LayerNorm -> SiLU)."""

    actor_width: int = 1024
    """Hidden units per actor layer."""
    actor_depth: int = 16
    """Number of hidden actor layers."""
    critic_width: int = 1024
    """Hidden units per critic layer."""
    critic_depth: int = 16
    """Number of hidden critic layers."""
    init_std: float | None = None
    """Initial action std; None takes the embodiment's ``spec.task.initial_std``."""
    obs_clip: float = 10.0
    """Normalised observations are clipped to +- this."""


@dataclass(kw_only=True)
class PPOConfig:
    """PPO hyperparameters (defaults: the reference's MyoFullBody settings)."""

    num_steps: int = 20
    """Control steps per world per update (rollout length)."""
    num_minibatches: int = 128
    """Minibatches per epoch."""
    epochs: int = 1
    """Passes over each rollout."""
    gamma: float = 0.99
    """Discount."""
    lam: float = 0.95
    """GAE lambda."""
    clip: float = 0.2
    """Policy-ratio clip."""
    value_clip: float = 0.2
    """Value-loss clip around the rollout's values (0 = unclipped)."""
    value_coef: float = 0.5
    """Value-loss weight."""
    entropy_coef: float = 0.0
    """Entropy bonus weight."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    lr: float = 4e-4
    """Learning rate (Muon and Adam)."""
    lr_decay: bool = True
    """Decay the learning rate linearly to 0 over the budget (needs a sample or update budget)."""
    muon: bool = True
    """Muon for 2-D weights (Adam for the rest); False = Adam for everything."""
    muon_lr_scale: str = "reference"
    """Muon's learning rate per weight of shape (rows, cols): ``reference`` = lr * sqrt(max(1, rows / cols)) (Keller
    Jordan's Muon, as the reference); ``match_adamw`` = lr * 0.2 * sqrt(max(rows, cols)) (torch's AdamW-RMS match,
    6-10x larger steps for 1024-wide layers; see BENCHMARKS.md)."""
    normalize_reward: bool = True
    """Divide rewards by the running std of the discounted return."""


@dataclass(kw_only=True)
class SamplingConfig:
    """Failure-weighted motion sampling over the motion library."""

    adaptive: bool = False
    """Sample clips with probability rising with their early-termination rate."""
    uniform_mix: float = 0.1
    """Share of the uniform distribution mixed in (keeps every clip alive)."""
    decay: float = 0.99
    """Per-update decay of the episode counts (forgets old failures)."""
    prior: float = 1.0
    """Pseudo-episodes per clip (half failed) so unseen clips get a middling rate."""


@dataclass(kw_only=True)
class TrainConfig:
    """Everything ``mm train`` needs; written to ``config.json`` in the run directory."""

    embodiment: str = DEFAULT_EMBODIMENT
    """Registry name of the embodiment (``mm models list``)."""
    motions: list[str] = field(default_factory=list)
    """Motion clip files (.npz); empty = the built-in generated demo walk."""
    backend: str | None = None
    """Simulation backend (``warp``, ``mujoco``); None = mm-sim's default."""
    device: str | None = None
    """Torch device for the policy (None: cuda if available, else cpu)."""
    num_worlds: int = 64
    """Parallel simulated worlds (per process)."""
    seed: int = 0
    """Seed for torch, numpy and the environment."""
    torch_threads: int = 0
    """CPU threads for torch (0 = torch's default); 1 is fastest for small networks on a busy CPU."""
    max_samples: int | None = None
    """Stop after this many samples (control steps over all worlds and processes)."""
    max_updates: int | None = None
    """Stop after this many PPO updates."""
    max_minutes: float | None = None
    """Stop after this many minutes of wall-clock time."""
    eval_every: int = 0
    """Run a deterministic evaluation every this many updates (0 = off)."""
    checkpoint_every: int = 50
    """Write a checkpoint every this many updates (always at the start and the end)."""
    keep_checkpoints: int = 3
    """Keep the newest this many periodic checkpoints (the step-0 one is always kept)."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """The imitation task (mm-sim's ``TaskConfig``): :func:`preset` fills it with the embodiment's defaults
    (``TaskConfig.for_embodiment``); ``--set task.horizon=500``, ``--set task.rewards.site_pos.weight=0.3``."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """Networks."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO."""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    """Motion sampling."""


#: Embodiments with at most this many actuators get the small CPU-friendly preset (``tiny``, small plugin models).
SMALL_MODEL_MAX_ACTUATORS = 32


def preset(embodiment: str) -> TrainConfig:
    """Defaults per embodiment, chosen by its properties (never its name), so a plugin embodiment gets what a
    built-in with the same properties gets: a small fast setup for models with at most
    ``SMALL_MODEL_MAX_ACTUATORS`` actuators (``tiny``, the hopper plugin), the reference's bimanual settings for
    larger fixed-root models, its full-body settings for larger free-root ones. The task is the embodiment's
    (``TaskConfig.for_embodiment``)."""
    from mm_core import get_embodiment

    spec = get_embodiment(embodiment)
    task = TaskConfig.for_embodiment(spec)
    if int(spec.compile().nu) <= SMALL_MODEL_MAX_ACTUATORS:
        # Small nets and short rollouts so the CPU demo learns within a few minutes on 2 cores.
        return TrainConfig(
            embodiment=embodiment,
            task=task,
            num_worlds=64,
            max_updates=150,
            max_minutes=3.0,
            torch_threads=1,
            checkpoint_every=20,
            eval_every=0,
            policy=PolicyConfig(actor_width=128, actor_depth=2, critic_width=128, critic_depth=2),
            # Tuned with Muon's AdamW-matched step (2.3x the reference's for these 128-wide layers).
            ppo=PPOConfig(num_steps=32, num_minibatches=8, epochs=2, lr=3e-3, muon_lr_scale="match_adamw"),
        )
    if spec.root == "fixed":
        return TrainConfig(
            embodiment=embodiment,
            task=task,
            num_worlds=8192,
            policy=PolicyConfig(actor_width=1024, actor_depth=4, critic_width=1024, critic_depth=4),
            ppo=PPOConfig(num_steps=10, num_minibatches=32, lr_decay=False),
        )
    return TrainConfig(embodiment=embodiment, task=task, num_worlds=8192)


def config_from_dict(data: dict[str, Any], where: str = "config") -> TrainConfig:
    """The TrainConfig of a ``config.json`` (a run directory's, or ``meta["config"]`` of a checkpoint) or of any
    nested mapping of its keys.

    Keys absent from ``data`` keep ``TrainConfig``'s defaults, except ``task``, which starts from the embodiment's
    (``TaskConfig.for_embodiment``): so a config written before ``task`` was typed, where it held only overrides
    (``{"horizon": 6}``, dotted keys allowed), loads to the task that run trained with.
    """
    from mm_core import get_embodiment

    embodiment = data.get("embodiment", DEFAULT_EMBODIMENT)
    if not isinstance(embodiment, str):
        raise ConfigError(f"{where}: embodiment must be a name (a string), got {embodiment!r}")
    cfg = TrainConfig(embodiment=embodiment, task=TaskConfig.for_embodiment(get_embodiment(embodiment)))
    return apply_mapping(cfg, data, where)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from a (nested) dict, checking keys and types."""
    return apply_mapping(cls(), data, where)


def apply_mapping(cfg: Any, data: dict[str, Any], where: str) -> Any:
    """Set the fields of dataclass ``cfg`` from a nested mapping (in place); returns ``cfg``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of config keys, got {data!r}")
    for key, value in data.items():
        set_key(cfg, key, value, where)
    return cfg


def set_key(cfg: Any, dotted: str, value: Any, where: str = "--set", *, path: str = "") -> None:
    """Set ``cfg.a.b = value`` for ``dotted="a.b"``, coercing to the field's type (the one override engine).

    Inside a task's term map (``task.rewards``, ``task.observations``, ...) the next part is a term name: a value
    for the term itself goes through ``coerce_term`` (None from it removes the term); a key inside the term
    (``weight``, ``params.k``) patches it, starting from the registered term's defaults if it is not in the set;
    the whole map given as a table replaces the set. An unknown key or term fails with the valid ones. ``path``:
    the dotted key of ``cfg`` itself (for messages).
    """
    parts = dotted.split(".")
    obj = cfg
    for i, name in enumerate(parts):
        if isinstance(obj, dict):  # free-form mapping (a term's params): keep the rest of the key dotted
            obj[".".join(parts[i:])] = value
            return
        here = ".".join([path] * bool(path) + parts[:i])
        fields = {f.name: f for f in dataclasses.fields(obj)}
        if name not in fields:
            valid = ", ".join(f"{here + '.' if here else ''}{n}" for n in fields)
            key = f"{path}.{dotted}" if path else dotted
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys here: {valid}")
        current = getattr(obj, name)
        if isinstance(obj, TaskConfig) and name in TERM_FIELDS:
            map_path = f"{here}.{name}" if here else name
            if i == len(parts) - 1:
                setattr(obj, name, _term_map(TERM_FIELDS[name], value, where, map_path))
            else:
                _set_term(current, TERM_FIELDS[name], parts[i + 1 :], value, where, map_path)
            return
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(current) and isinstance(value, dict):
                for key, item in value.items():
                    set_key(current, key, item, where, path=f"{here}.{name}" if here else name)
            else:
                hint = typing.get_type_hints(type(obj))[name]
                setattr(obj, name, _coerce(value, hint, f"{where}: {path + '.' if path else ''}{dotted}"))
            return
        obj = current


def _term_map(kind: str, value: Any, where: str, path: str) -> dict[str, TermCfg]:
    """A whole term map (a table replaces the set, as a map saved in ``config.json`` does)."""
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: {path} must be a table of {kind} terms (name = value), got {value!r}; to set one term "
            f"use {path}.NAME=VALUE"
        )
    terms: dict[str, TermCfg] = {}
    for name, item in value.items():
        _set_term(terms, kind, name.split("."), item, where, path)
    return terms


def _set_term(
    terms: dict[str, TermCfg], kind: str, parts: list[str], value: Any, where: str, path: str
) -> None:
    """``terms[parts[0]]``, a ``kind`` term, set to ``value`` (no more parts) or patched inside (``weight``,
    ``params.k``); a term that ends up switched off (None, weight 0) leaves the map."""
    name, rest = parts[0], parts[1:]
    try:
        if rest:
            base = terms.get(name) or coerce_term(kind, name, True)
            term = TermCfg(weight=base.weight, params=dict(base.params))
            set_key(term, ".".join(rest), value, where, path=f"{path}.{name}")
            term = None if term.weight == 0 else term
        else:
            plain = dataclasses.asdict(value) if isinstance(value, TermCfg) else value
            term = coerce_term(kind, name, plain)
    except ConfigError:
        raise
    except ValueError as e:  # coerce_term: an unknown term (it lists the registered ones) or a wrong value
        raise ConfigError(f"{where}: {path}.{name}: {e}") from None
    if term is None:
        terms.pop(name, None)
    else:
        terms[name] = term


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: cannot use {value!r}")
    if origin is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, args[0], where) for v in value] if args else list(value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(v, item, where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table/dict, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax (``1e-3``, ``true``, ``[1, 2]``, ``"x"``), else the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from e


def resolve(
    embodiment: str | None = None,
    config_file: Path | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
    **explicit: Any,
) -> TrainConfig:
    """Preset for the embodiment, then the TOML file, then explicit CLI options (not None), then ``--set``."""
    file_data = load_toml(config_file) if config_file else {}
    name = embodiment or file_data.get("embodiment") or DEFAULT_EMBODIMENT
    cfg = preset(name)
    budget = ("max_samples", "max_updates", "max_minutes")
    if any(file_data.get(k) is not None or explicit.get(k) is not None for k in budget):
        # A budget given by the user replaces the preset's, rather than capping it.
        for k in budget:
            setattr(cfg, k, None)
    apply_mapping(cfg, file_data, str(config_file))
    cfg.embodiment = name
    for key, value in explicit.items():
        if value is not None:
            set_key(cfg, key, value, f"option {key}")
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set ppo.lr=1e-3")
        key, text = item.split("=", 1)
        set_key(cfg, key.strip(), parse_value(text.strip()), f"--set {item}")
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    checks = [
        (cfg.num_worlds >= 1, "num_worlds must be >= 1"),
        (cfg.ppo.num_steps >= 1, "ppo.num_steps must be >= 1"),
        (cfg.ppo.num_minibatches >= 1, "ppo.num_minibatches must be >= 1"),
        (cfg.ppo.epochs >= 1, "ppo.epochs must be >= 1"),
        (cfg.ppo.lr > 0, "ppo.lr must be > 0"),
        (
            0 < cfg.ppo.gamma <= 1 and 0 <= cfg.ppo.lam <= 1,
            "ppo.gamma must be in (0, 1] and ppo.lam in [0, 1]",
        ),
        (cfg.policy.actor_depth >= 1 and cfg.policy.critic_depth >= 1, "network depths must be >= 1"),
        (0 <= cfg.sampling.uniform_mix <= 1, "sampling.uniform_mix must be in [0, 1]"),
        (
            cfg.ppo.muon_lr_scale in ("reference", "match_adamw"),
            f"ppo.muon_lr_scale must be 'reference' or 'match_adamw', got {cfg.ppo.muon_lr_scale!r}",
        ),
        (cfg.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
        (
            cfg.num_worlds * cfg.ppo.num_steps >= cfg.ppo.num_minibatches,
            "num_worlds * ppo.num_steps must be >= ppo.num_minibatches",
        ),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"invalid config: {msg}")

"""A run directory's ``config.json``: written atomically, and compared with the config of a command that re-runs
on the directory (a resume may change only the budget and bookkeeping)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mm_rl.config import ConfigError, TrainConfig, config_from_dict, to_dict

#: Keys that may differ when re-running a command on an existing run dir (budget and bookkeeping only).
RESUMABLE_KEYS = {
    "max_samples",
    "max_updates",
    "max_minutes",
    "eval_every",
    "checkpoint_every",
    "keep_checkpoints",
}
#: Keys added after runs were made, with the behaviour those runs had: dotted key -> value. A run whose
#: config.json lacks one is compared as if it had that value.
LEGACY_DEFAULTS = {"ppo.muon_lr_scale": "match_adamw"}


class RunDirError(RuntimeError):
    """The run directory holds another run; the message says how to continue it or start a new one."""


def write_config(run_dir: Path, cfg: TrainConfig) -> None:
    from mm_core.outputs import atomic_path

    with atomic_path(run_dir / "config.json") as tmp:  # a kill -9 never leaves half a config
        tmp.write_text(json.dumps(to_dict(cfg), indent=2))


def check_same_run(run_dir: Path, cfg: TrainConfig) -> None:
    """Refuse to continue the run in ``run_dir`` with a config that differs beyond ``RESUMABLE_KEYS``."""
    saved = run_dir / "config.json"
    if not saved.is_file():
        return
    old = json.loads(saved.read_text())
    legacy = []
    for dotted, value in LEGACY_DEFAULTS.items():
        section, key = dotted.split(".")
        if isinstance(old.get(section), dict) and key not in old[section]:
            old[section][key] = value
            legacy.append(dotted)
    try:
        # A run written before the task was typed saved only its overrides: compare the task they made.
        old["task"] = to_dict(
            config_from_dict({"embodiment": old.get("embodiment"), "task": old.get("task", {})}).task
        )
    except ConfigError as e:
        raise RunDirError(f"{saved}: its task config does not load ({e}); use a new --run-dir") from None
    diff = [k for k in changed_keys(old, to_dict(cfg)) if k.split(".")[0] not in RESUMABLE_KEYS]
    if diff:
        hint = "".join(
            f"; the run predates {k} and was trained with {LEGACY_DEFAULTS[k]!r}: add --set "
            f"{k}={LEGACY_DEFAULTS[k]} to continue it"
            for k in legacy
            if k in diff
        )
        raise RunDirError(
            f"{run_dir} holds a run with a different config ({', '.join(diff)} differ); to continue it "
            f"re-run the same command, to fine-tune from it use a new --run-dir with --resume-from{hint}"
        )


def changed_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys (``ppo.lr``) whose values differ between two nested config dicts."""
    keys = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            keys.append(prefix + k)
    return keys

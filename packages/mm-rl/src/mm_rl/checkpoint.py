"""Checkpoints: safetensors weights + a JSON file of config and state. Loading never executes code.

A checkpoint ``step_00001234`` is two files in ``<run>/checkpoints/``: ``.safetensors`` (policy weights and
normaliser buffers, reward normaliser, optimiser tensors, torch RNG state) and ``.json`` (format, the resolved
train config, embodiment, sizes, counters, optimiser hyperparameters, numpy RNG state and the SHA-256 of the
weights file). ``latest`` holds the name of the newest one. Every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from mm_rl.policy import ActorCritic

FORMAT = "mm-rl-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted or not an mm-rl checkpoint; the message names the file."""


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # disk full, quota, read-only: leave no partial file behind
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"{path}: could not write the checkpoint ({e.strerror or e}); free disk space (or fix the "
            "directory) and re-run the same command to resume from the last complete checkpoint"
        ) from e


def clean_temp(ckpt_dir: Path) -> None:
    """Remove the temporary files of a writer that was killed (they are hidden; no reader looks at them)."""
    if ckpt_dir.is_dir():
        for p in ckpt_dir.glob(".*.tmp*"):
            p.unlink(missing_ok=True)


def save(ckpt_dir: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write ``step_XXXXXXXX.{safetensors,json}`` and point ``latest`` at it; returns the JSON path."""
    from safetensors.torch import save as st_save

    ckpt_dir.mkdir(parents=True, exist_ok=True)
    clean_temp(ckpt_dir)
    stem = f"step_{step:08d}"
    blob = st_save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    _atomic_write(ckpt_dir / f"{stem}.safetensors", blob)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        **meta,
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    _atomic_write(ckpt_dir / f"{stem}.json", json.dumps(meta, indent=1, default=_json_default).encode())
    _atomic_write(ckpt_dir / "latest", stem.encode())
    return ckpt_dir / f"{stem}.json"


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, tuple | set):
        return list(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def resolve(path_or_run: str | Path) -> Path:
    """A run dir, a checkpoints dir, or one checkpoint (``.json``/``.safetensors``/stem) -> its ``.json`` path."""
    p = Path(path_or_run)
    if p.is_dir():
        ck = p / "checkpoints" if (p / "checkpoints").is_dir() else p
        latest = ck / "latest"
        if latest.is_file():
            p = ck / f"{latest.read_text().strip()}.json"
        else:
            found = sorted(ck.glob("step_*.json"))
            if not found:
                raise CheckpointError(
                    f"{path_or_run}: no checkpoint found (expected checkpoints/step_*.json)"
                )
            p = found[-1]
    elif p.suffix == ".safetensors":
        p = p.with_suffix(".json")
    elif p.suffix != ".json":
        p = p.with_name(p.name + ".json")
    if not p.is_file():
        raise CheckpointError(f"{path_or_run}: no such checkpoint ({p} does not exist)")
    return p


def list_checkpoints(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "checkpoints").glob("step_*.json"))


def load(
    path_or_run: str | Path, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read and verify a checkpoint: (tensors, meta). Raises :class:`CheckpointError` naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    jpath = resolve(path_or_run)
    try:
        meta = json.loads(jpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{jpath}: not valid JSON ({e}); the checkpoint is corrupted") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f'{jpath}: not an mm-rl checkpoint (no "format": "{FORMAT}"); give a checkpoint written by mm train'
        )
    if int(meta.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{jpath}: checkpoint version {meta['version']} is newer than this mm-rl ({VERSION})"
        )
    wpath = jpath.with_suffix(".safetensors")
    if not wpath.is_file():
        raise CheckpointError(f"{jpath}: its weights file {wpath.name} is missing")
    blob = wpath.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise CheckpointError(
            f"{wpath}: SHA-256 does not match {jpath.name}; the checkpoint is corrupted or was modified "
            "(resume from an earlier checkpoint in the same directory)"
        )
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"{wpath}: not a readable safetensors file ({e})") from e
    return {k: v.to(device) for k, v in tensors.items()}, meta


def build_policy(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], device: str | torch.device = "cpu"
) -> ActorCritic:
    from mm_rl.config import PolicyConfig, from_dict
    from mm_rl.policy import ActorCritic

    pcfg = from_dict(PolicyConfig, meta["config"]["policy"], "checkpoint policy config")
    policy = ActorCritic(meta["num_obs"], meta["num_actions"], pcfg, init_std=1.0).to(device)
    weights = {k[7:]: v for k, v in tensors.items() if k.startswith("policy.")}
    try:
        policy.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not match its config: {e}") from e
    return policy


def load_policy(
    path_or_run: str | Path, device: str | torch.device = "cpu"
) -> tuple[ActorCritic, dict[str, Any]]:
    """The policy of a run or checkpoint (eval mode) and its meta.

    ``policy.act(obs, deterministic=True) -> actions``; ``meta``: ``embodiment``, ``task`` (TaskConfig overrides),
    ``motions`` (clip sources), ``config`` (the resolved train config), ``step``, ``samples``, ``path``.
    """
    tensors, meta = load(path_or_run, device)
    policy = build_policy(tensors, meta, device)
    policy.eval()
    meta["path"] = str(resolve(path_or_run))
    return policy, meta

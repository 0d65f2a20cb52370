"""The two entry points of validation: a ``MotionClip`` (kinematics) or a policy checkpoint (physics rollout).

Both end in :func:`validate_recording`, which writes ``report.json`` (a ``ValidationReport``), ``report.html``,
``curves.npz`` and one PNG per quantity group into the output directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mm_validate.quantities import Recording


@dataclass(frozen=True, kw_only=True)
class RolloutOptions:
    """How a checkpoint is rolled out for validation."""

    backend: str | None = None
    """Simulation backend (``warp``, ``mujoco``); None = mm-sim's default (warp on CUDA, else mujoco)."""
    num_worlds: int = 1
    """Parallel worlds; every world's episodes are recorded."""
    steps: int = 500
    """Control steps per world (100 Hz control: 500 = 5 s)."""
    device: str = "cpu"
    """Torch device of the policy and the simulation state."""
    seed: int = 0
    """Seed of the environment (start frames of the episodes)."""
    progress: bool = True
    """Show a progress bar."""
    terminate: bool = True
    """End an episode on a tracking failure, as in training; False keeps the world running to the motion's end
    (the policy then drives on its own), so a weak policy still yields whole gait cycles."""


def load_motion(
    path: str | Path, embodiment: str = "myofullbody-nofingers", retargeter: str = "gmr-fit"
) -> Any:
    """A ``MotionClip`` from ``.npz``, or a motion-capture file read and retargeted through the registry."""
    from mm_core import MotionClip, get_embodiment, get_retargeter, motion_reader_for

    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such motion file")
    if p.suffix.lower() == ".npz":
        return MotionClip.load(p)
    source = motion_reader_for(p).read(p)
    return get_retargeter(retargeter).retarget(source, get_embodiment(embodiment))


def validate_recording(
    rec: Recording,
    embodiment: str,
    reference: Any,
    out: str | Path,
    subject: str,
    notes: tuple[str, ...] = (),
    events: str = "auto",
) -> Any:
    """Analyse ``rec`` on ``embodiment``, compare with ``reference`` and write the outputs; returns the report."""
    from mm_core import ValidationReport, get_embodiment
    from mm_validate.analysis import analyse, compare
    from mm_validate.report import curves_npz, plot_figures, write_html

    spec = get_embodiment(embodiment)
    model = spec.compile()
    if rec.qpos.shape[1] != model.nq:
        raise ValueError(
            f"{subject}: qpos has {rec.qpos.shape[1]} columns but embodiment {embodiment!r} has nq={model.nq}; "
            "validate the motion on the embodiment it was made for"
        )
    analysis = analyse(model, rec, dict(spec.feet) or None, events)
    comp = compare(analysis, reference)
    gait_summary = _gait_summary(analysis, reference)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = (
        plot_figures(analysis, reference, out, comp.spm_regions, comp.not_compared) if analysis.curves else []
    )
    report = ValidationReport(
        subject=subject,
        reference=f"{reference.name} ({reference.source})",
        metrics={**comp.metrics, "gait": gait_summary},
        figures=tuple(str(f) for f in figures),
        notes=_report_notes(rec, analysis, reference, comp, notes),
    )
    report.save_json(out / "report.json")
    curves_npz(analysis, out / "curves.npz")
    write_html(report, analysis, out / "report.html", gait_summary, reference)
    return report


def _gait_summary(analysis: Any, reference: Any) -> dict[str, float]:
    """The recording's gait summary beside the reference's stance phase and cycle counts."""
    summary = analysis.summary()
    if reference.stance_pct is not None:
        summary["reference_stance_pct"], summary["reference_stance_sd"] = reference.stance_pct
    if reference.cycles_per_side is not None:
        summary["reference_cycles_left"] = float(reference.cycles_per_side["left"])
        summary["reference_cycles_right"] = float(reference.cycles_per_side["right"])
    return summary


def _report_notes(
    rec: Recording, analysis: Any, reference: Any, comp: Any, notes: tuple[str, ...]
) -> tuple[str, ...]:
    """The report's notes: what was checked, the caller's ``notes``, then the caveats of the analysis, the
    reference and the comparison, and what was not compared and why."""
    applied = "joint angles" + (
        ", GRF, joint moments and powers, muscle activations vs EMG" if rec.dynamic else ""
    )
    out = [
        f"checks applied: {applied} over gait cycles against {reference.name}"
        + ("" if analysis.curves else " (none: no gait cycle found)"),
        *notes,
        *analysis.notes,
        f"gait: {analysis.gait_type}, events from {analysis.event_source}",
    ]
    if reference.cycles_per_side is not None:
        out.append(
            f"reference trial ({reference.gait_type}): events from {reference.event_method}, cycles left "
            f"{reference.cycles_per_side['left']}, right {reference.cycles_per_side['right']}"
        )
    out += reference.notes
    if reference.gait_type and analysis.gait_type not in (reference.gait_type, "unknown"):
        out.append(f"the motion is {analysis.gait_type} but the reference trial is {reference.gait_type}")
    out += comp.notes
    out += (
        f"not compared ({why}): {', '.join(q for q, w in comp.not_compared.items() if w == why)}"
        for why in dict.fromkeys(comp.not_compared.values())
    )
    return tuple(out)


def series_applies(clip: Any, reference: str) -> bool:
    """Whether ``reference`` is compared as a coordinate time series rather than over gait cycles: an OpenSim
    ``.mot``/``.sto`` with no leg coordinates (an arm reach, ...), or a clip whose embodiment has no legs."""
    from mm_core import get_embodiment
    from mm_validate.quantities import build_joint_map

    if Path(reference).suffix.lower() not in (".mot", ".sto"):
        return False
    from mm_validate.trial import read_sto

    cols = read_sto(reference).columns
    legs_in_reference = any(f"{c}_{s}" in cols for c in ("hip_flexion", "knee_angle") for s in "rl")
    jm = build_joint_map(get_embodiment(clip.embodiment).compile())
    legs_in_model = {"hip_flexion", "knee_flexion"} <= set(jm.angle_dofs) and len(jm.points) >= 5
    return not (legs_in_reference and legs_in_model)


def validate_clip(clip: Any, reference: Any, out: str | Path, events: str = "auto") -> Any:
    """Kinematic validation of a ``MotionClip`` (joint and segment angles; no GRF, moments or muscles).

    ``events``: gait event method, see :func:`mm_validate.analysis.analyse`.
    """
    from mm_validate.analysis import clip_recording

    if not clip.embodiment:
        raise ValueError(f"clip {clip.name!r} does not say its embodiment (MotionClip.embodiment is empty)")
    subject = f"motion {clip.name or clip.source}"
    return validate_recording(clip_recording(clip), clip.embodiment, reference, out, subject, events=events)


def rollout(
    checkpoint: str | Path, motions: list[str] | None, opts: RolloutOptions
) -> tuple[Recording, str, dict]:
    """Roll the checkpoint's policy out deterministically with mm-sim, recording the state of every world.

    Returns the recording (episodes as segments), the embodiment name and the checkpoint meta.
    """
    from mm_core import get_embodiment

    policy, env, meta = _rollout_env(checkpoint, motions, opts)
    label = f"rollout {Path(str(checkpoint)).name}"
    buf, done = _record_steps(policy, env, opts.steps, label if opts.progress else None)
    # Flatten worlds one after another (world-major), as the segments count frames.
    T, N = done.shape
    flat = {key: v.transpose(1, 0, 2).reshape(N * T, -1) for key, v in buf.items()}
    rec = Recording(
        fps=1.0 / get_embodiment(meta["embodiment"]).physics.control_dt,
        qpos=flat["qpos"],
        qvel=flat["qvel"],
        act=flat.get("act"),
        ctrl=flat["ctrl"],
        segments=episode_segments(done),
        dynamic=True,
    )
    return rec, meta["embodiment"], meta


def _rollout_env(
    checkpoint: str | Path, motions: list[str] | None, opts: RolloutOptions
) -> tuple[Any, Any, dict]:
    """The checkpoint's policy, an mm-sim env of its task and motions for the rollout, and the checkpoint meta."""
    import dataclasses

    import mm_sim
    from mm_rl import load_policy, task_config

    policy, meta = load_policy(checkpoint, opts.device)
    sources = list(motions or meta.get("motions") or [])
    if not sources:
        raise ValueError(f"{checkpoint}: the checkpoint names no motions; pass --motions CLIP.npz ...")
    # The run's training task, without a time limit: episodes end at the end of the motion or on a tracking failure.
    task = dataclasses.replace(task_config(meta), horizon=10**9)
    if not opts.terminate:
        task = dataclasses.replace(task, terminations={})
    env = mm_sim.make_env(
        meta["embodiment"],
        sources,
        backend=opts.backend,
        num_worlds=opts.num_worlds,
        config=task,
        device=opts.device,
        seed=opts.seed,
    )
    return policy, env, meta


def _record_steps(
    policy: Any, env: Any, steps: int, progress: str | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Step every world ``steps`` times with the deterministic policy (auto-reset after each episode).

    Returns per step and world the state before the step and the excitation applied during it: ``qpos (T, N, nq)``,
    ``qvel (T, N, nv)``, ``ctrl (T, N, nu)`` and, with muscle states, ``act (T, N, na)``; and ``done (T, N)``: the
    episode ended at that step. mm-rl's ``rollout_first_episodes`` records only each world's first episode and no
    qvel or ctrl (inverse dynamics and the excitation curves need both), so this loop stays here; it uses only
    mm-sim's env and the policy's ``act``.
    """
    import torch
    from rich.progress import Progress

    N, sim = env.num_envs, env.sim
    has_act = getattr(sim, "act", None) is not None and sim.act.shape[-1] > 0
    buf = {
        "qpos": np.zeros((steps, N, sim.qpos.shape[1])),
        "qvel": np.zeros((steps, N, sim.qvel.shape[1])),
        "ctrl": np.zeros((steps, N, env.num_actions)),
    }
    if has_act:
        buf["act"] = np.zeros((steps, N, sim.act.shape[1]))
    done = np.zeros((steps, N), dtype=bool)
    # Like `mm eval`: world i starts (and restarts) at the first frame of clip i % num_clips.
    obs = env.reset(clips=torch.arange(N) % env.motions.num_clips)
    with torch.no_grad(), Progress(disable=progress is None, transient=True) as bar:
        task = bar.add_task(progress or "", total=steps)
        for k in range(steps):
            buf["qpos"][k] = sim.qpos.detach().cpu().numpy()
            buf["qvel"][k] = sim.qvel.detach().cpu().numpy()
            if has_act:
                buf["act"][k] = sim.act.detach().cpu().numpy()
            actions = policy.act(obs, deterministic=True)
            buf["ctrl"][k] = ((actions.clamp(-1, 1) + 1) / 2).detach().cpu().numpy()
            obs, _, term, trunc, _ = env.step(actions)
            done[k] = (term | trunc).detach().cpu().numpy()
            bar.advance(task)
    return buf, done


def episode_segments(done: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Episodes ``[start, stop)`` of a ``done (T, N)`` record, worlds flattened one after another (frame
    ``w * T + k`` is step k of world w): an episode ends at a done step, the next starts from the reset state;
    episodes of fewer than two frames are dropped."""
    T, N = done.shape
    segments, start = [], 0
    for w in range(N):
        a = 0
        for k in np.flatnonzero(done[:, w]).tolist() + [T - 1]:
            if k + 1 - a >= 2:
                segments.append((start + a, start + k + 1))
            a = k + 1
        start += T
    return tuple(segments)


def validate_checkpoint(
    checkpoint: str | Path,
    motions: list[str] | None,
    reference: Any,
    out: str | Path,
    opts: RolloutOptions,
    events: str = "auto",
) -> Any:
    """Roll out ``checkpoint`` and validate kinematics, GRF, joint moments and muscle activations."""
    rec, name, meta = rollout(checkpoint, motions, opts)
    notes = (
        f"rollout: {opts.num_worlds} world(s) x {opts.steps} steps, backend {opts.backend or 'default'}, "
        f"{len(rec.spans())} episode(s)" + ("" if opts.terminate else ", tracking-failure termination off"),
    )
    subject = f"checkpoint {meta.get('path', checkpoint)}"
    return validate_recording(rec, name, reference, out, subject, notes, events)

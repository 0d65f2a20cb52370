"""Motion inputs for training and evaluation: files, directories, retarget output dirs, the built-in demo walk."""

from __future__ import annotations

from pathlib import Path


class MotionInputError(ValueError):
    """A motion argument names nothing usable; the message says which and what to give."""


def resolve_motion_paths(items: list[str]) -> list[Path]:
    """Clip files (.npz), directories of clips (searched recursively, e.g. an ``mm retarget`` output dir)."""
    out: list[Path] = []
    for item in items:
        p = Path(item).expanduser()
        if (p / "report.json").is_file():  # an mm retarget output: its clips, never the sources beside them
            out += _report_clips(p)
        elif p.is_dir():
            found = sorted(q for q in p.rglob("*.npz") if not q.name.startswith("."))
            if not found:
                raise MotionInputError(
                    f"{p}: directory holds no .npz motion clips (give clip files or a retarget output dir)"
                )
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise MotionInputError(f"{p}: no such motion file or directory")
    return out


def _report_clips(run: Path) -> list[Path]:
    import json

    try:
        clips = json.loads((run / "report.json").read_text())["clips"]
        found = [Path(c["output"]) for c in clips if c["status"] != "failed" and c.get("output")]
    except (ValueError, KeyError, TypeError) as e:
        raise MotionInputError(f"{run / 'report.json'}: not a readable mm retarget report ({e})") from e
    missing = [str(q) for q in found if not q.is_file()]
    if missing or not found:
        raise MotionInputError(
            f"{run}: its report.json lists {len(found)} clip(s) and {len(missing)} are missing "
            f"({', '.join(missing[:3]) or 'none retargeted'}); re-run the `mm retarget` command that made it"
        )
    return found


def demo_clip_path(embodiment: str, cache_dir: Path) -> Path:
    """The built-in generated walk on ``embodiment``, saved under ``cache_dir`` (made once).

    Uses mm-retarget's generated, retargeted demo walk when mm-retarget provides it; otherwise (an install
    without mm-retarget) a kinematic walk from the same normative gait curves (:func:`kinematic_walk`). Both are
    real MuJoCo kinematics of the embodiment, no downloads.
    """
    path = cache_dir / f"demo_walk_{embodiment}.npz"
    if path.is_file():
        return path
    try:
        from mm_retarget.demo import demo_clip  # type: ignore[import-not-found]

        clip = demo_clip(embodiment)
    except Exception as e:  # noqa: BLE001 - the demo must run without (or despite) the optional retargeter
        import warnings

        if not isinstance(e, ImportError):
            warnings.warn(
                f"mm-retarget's demo walk failed ({e}); using a kinematic walk instead", stacklevel=2
            )
        clip = kinematic_walk(embodiment)
    clip.save(path)
    return path


def kinematic_walk(embodiment: str, seconds: float = 4.0, fps: float | None = None, stride_s: float = 1.1):
    """A walking MotionClip on ``embodiment`` from mm's gait curves (:func:`mm_models.walk.walk_qpos`: normative
    hip/knee/ankle angles, couplings applied, a free root moving forward), site poses by forward kinematics."""
    from mm_core import get_embodiment
    from mm_models.walk import walk_qpos
    from mm_sim.motion import clip_from_qpos

    spec = get_embodiment(embodiment)
    model = spec.compile()
    fps = float(fps) if fps is not None else 1.0 / spec.physics.control_dt
    qpos = walk_qpos(model, spec, seconds=seconds, fps=fps, stride_s=stride_s)
    return clip_from_qpos(
        model,
        spec,
        qpos,
        fps,
        name="demo_walk",
        source="mm_models.walk.walk_qpos",
        metadata={"generator": "normative gait curves (mm_models.walk)", "stride_s": stride_s},
    )

"""Data contracts shared by every mm package.

Frozen dataclasses with their array shapes written as ``name: meaning (shape)``. Nothing here imports MuJoCo,
torch or Warp at import time; :meth:`EmbodimentSpec.compile` imports MuJoCo when it is called.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

MOTION_FORMAT_VERSION = 1

# The 24 joints of the SMPL kinematic tree, in SMPL order. Embodiments map a subset to their tracked sites.
SMPL_JOINTS: tuple[str, ...] = (
    "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
    "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
    "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand",
)  # fmt: skip


class ContractError(ValueError):
    """A data contract was violated; the message names the file or object and the field."""


@dataclass(frozen=True, kw_only=True)
class PhysicsOptions:
    """Physics settings shared by training and evaluation on every backend."""

    timestep: float = 0.002
    """Physics step (s)."""
    substeps: int = 5
    """Physics steps per control step; control rate = 1 / (timestep * substeps)."""
    iterations: int = 4
    """Constraint-solver iterations."""
    ls_iterations: int = 8
    """Line-search iterations."""
    integrator: Literal["euler", "implicitfast", "rk4"] = "euler"
    """MuJoCo integrator."""
    euler_damping: bool = False
    """Implicit joint damping in the Euler integrator (off in training: mjDSBL_EULERDAMP)."""
    nconmax: int = 96
    """Contact budget per world on batched backends (overflow is detected and reported)."""
    njmax: int = 768
    """Constraint-row budget per world on batched backends."""

    @property
    def control_dt(self) -> float:
        return self.timestep * self.substeps


@dataclass(frozen=True, kw_only=True)
class TaskDefaults:
    """Per-embodiment defaults of the imitation task (mm-sim's ``TaskConfig.for_embodiment``) and of PPO.

    A None field takes mm-sim's default for the embodiment's root type: for a ``free`` root the reference's
    MyoFullBody terms, for a ``fixed`` root its bimanual terms (README, "Task"). Term names are registry names
    (``mm plugins list``); a term's parameters default to those it was registered with.
    """

    reward_weights: Mapping[str, float] | None = None
    """Tracking term -> weight, replacing the root type's default set (a weight of 0 leaves the term out)."""
    terminations: Mapping[str, float | Mapping[str, Any]] | None = None
    """Termination term -> threshold (or a params mapping), replacing the root type's default set."""
    eval_terminations: Mapping[str, float | Mapping[str, Any]] | None = None
    """Entries that replace those of ``terminations`` when evaluating (``mm eval``, ``mm validate``)."""
    initial_std: float = 1.0
    """Initial action std of the policy (actions in [-1, 1] map to ctrl (a + 1) / 2)."""


@dataclass(frozen=True, kw_only=True)
class EmbodimentSpec:
    """A musculoskeletal model that mm can simulate, retarget onto and train.

    Either ``mjcf_path`` or ``spec_builder`` gives the model; :meth:`compile` applies ``physics`` so every backend and
    every tool runs the same physics.
    """

    name: str
    """Registry name, e.g. ``myofullbody-nofingers``."""
    root: Literal["free", "fixed"]
    """Root joint type: ``free`` (locomotion) or ``fixed`` (e.g. bimanual)."""
    tracked_sites: tuple[str, ...]
    """Sites tracked by retargeting and the imitation reward; the first is the main (root) site."""
    smpl_joint_map: Mapping[str, str]
    """SMPL joint name (see ``SMPL_JOINTS``) -> tracked site name."""
    mjcf_path: str | None = None
    """MJCF file of the model (used when ``spec_builder`` is None)."""
    spec_builder: Callable[[], mujoco.MjSpec] | None = None
    """Returns a fresh ``mujoco.MjSpec`` of the model (edits such as finger removal live here)."""
    muscle_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Group name -> actuator names (e.g. ``hip_flexors``), for reports and validation."""
    touch_sensors: tuple[str, ...] = ()
    """Touch sensor names used as contact observations (feet, hands)."""
    feet: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Side (``left``/``right``) -> body names of the foot, for ground contact and gait events."""
    default_keyframe: str | None = None
    """Keyframe holding the reference (T-like) pose used to fit retargeting scale; None = qpos0."""
    physics: PhysicsOptions = field(default_factory=PhysicsOptions)
    """Training physics options, applied by :meth:`compile`."""
    source: str = ""
    """Distribution that provides the model files."""
    description: str = ""
    """One line for ``mm models list``."""
    task: TaskDefaults = field(default_factory=TaskDefaults)
    """This embodiment's defaults of the imitation task and of PPO (typed; None fields = mm's default for the
    root type, so a plugin embodiment gets what a built-in with the same properties gets)."""
    forward: str = "+x"
    """Model axis the body faces (``+x``, ``-x``, ``+y``, ``-y``), for retargeting models without a left/right
    pair of tracked sites."""
    extras: Mapping[str, Any] = field(default_factory=dict)
    """Free-form metadata for the plugin's own use; no mm package reads it."""

    def __post_init__(self) -> None:
        if (self.mjcf_path is None) == (self.spec_builder is None):
            raise ContractError(f"embodiment {self.name!r}: give exactly one of mjcf_path or spec_builder")
        if self.root not in ("free", "fixed"):
            raise ContractError(
                f"embodiment {self.name!r}: root must be 'free' or 'fixed', got {self.root!r}"
            )
        if not self.tracked_sites:
            raise ContractError(f"embodiment {self.name!r}: tracked_sites is empty")
        if self.forward not in ("+x", "-x", "+y", "-y"):
            raise ContractError(
                f"embodiment {self.name!r}: forward must be one of '+x', '-x', '+y', '-y', got {self.forward!r}"
            )
        if not isinstance(self.task, TaskDefaults):
            raise ContractError(
                f"embodiment {self.name!r}: task must be a mm_core.contracts.TaskDefaults, got {type(self.task).__name__}"
            )
        unknown = sorted(set(self.smpl_joint_map) - set(SMPL_JOINTS))
        if unknown:
            raise ContractError(f"embodiment {self.name!r}: smpl_joint_map has unknown SMPL joints {unknown}")

    @property
    def main_site(self) -> str:
        return self.tracked_sites[0]

    def spec(self) -> mujoco.MjSpec:
        """A fresh MjSpec of the model (physics options applied)."""
        import mujoco

        spec = self.spec_builder() if self.spec_builder else mujoco.MjSpec.from_file(str(self.mjcf_path))
        o, p = spec.option, self.physics
        o.timestep = p.timestep
        o.iterations = p.iterations
        o.ls_iterations = p.ls_iterations
        o.integrator = {
            "euler": mujoco.mjtIntegrator.mjINT_EULER,
            "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
            "rk4": mujoco.mjtIntegrator.mjINT_RK4,
        }[p.integrator]
        flag = int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)
        o.disableflags = (o.disableflags | flag) if not p.euler_damping else (o.disableflags & ~flag)
        return spec

    def compile(self) -> mujoco.MjModel:
        """Compile the model with the training physics options."""
        return self.spec().compile()


def _names(x: Any) -> tuple[str, ...]:
    return tuple(str(s) for s in x)


@dataclass(frozen=True, kw_only=True)
class MotionClip:
    """A reference motion on one embodiment, at a fixed frame rate.

    Saved as ``.npz`` (see :meth:`save`) with ``format_version``; :meth:`load` validates every field.
    """

    fps: float
    """Frames per second (> 0); mm trains at 100."""
    qpos: np.ndarray
    """Joint positions: generalized coordinates per frame (T, nq)."""
    qvel: np.ndarray
    """Joint velocities: generalized velocities per frame (T, nv), by THE convention of mm: central differences of
    ``qpos`` on the joint manifold (``mj_differentiatePos`` of frames i-1 -> i+1 over 2/fps: second order, no
    half-frame lag), one-sided (first order) at the first and last frame. Free joints: world-frame linear and
    body-frame angular velocity, as MuJoCo's qvel. Computed by ``mm_models.kinematics.finite_difference_qvel``
    (``mm_sim.motion.clip_from_qpos`` and the retargeters use it)."""
    site_pos: np.ndarray
    """Tracked-site positions in world frame (T, S, 3)."""
    site_quat: np.ndarray
    """Tracked-site orientations in world frame, quaternion w-x-y-z (T, S, 4)."""
    site_names: tuple[str, ...]
    """Tracked-site names (S,)."""
    joint_names: tuple[str, ...] = ()
    """Model joint names, in qpos order (J,)."""
    embodiment: str = ""
    """Registry name of the embodiment the clip was made for."""
    name: str = ""
    """Clip name (file stem by default)."""
    source: str = ""
    """Where it came from (input file, generator)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable extras (retarget metrics, method, ...)."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_frames(self) -> int:
        return int(self.qpos.shape[0])

    @property
    def duration(self) -> float:
        return (self.num_frames - 1) / self.fps

    def validate(self, where: str = "MotionClip") -> None:
        """Raise :class:`ContractError` naming ``where`` and the field on any inconsistency."""

        def fail(fld: str, msg: str) -> None:
            raise ContractError(f"{where}: field {fld!r}: {msg}")

        if not isinstance(self.fps, int | float) or not math.isfinite(self.fps) or self.fps <= 0:
            fail("fps", f"must be a finite number > 0, got {self.fps!r}")
        arrays = {"qpos": 2, "qvel": 2, "site_pos": 3, "site_quat": 3}
        for fld, ndim in arrays.items():
            a = getattr(self, fld)
            if not isinstance(a, np.ndarray) or a.ndim != ndim:
                fail(fld, f"must be a {ndim}-D array, got shape {getattr(a, 'shape', type(a).__name__)}")
            if not np.issubdtype(a.dtype, np.floating):
                fail(fld, f"must be floating point, got {a.dtype}")
            if not np.all(np.isfinite(a)):
                bad = np.argwhere(~np.isfinite(a))[0]
                fail(fld, f"has non-finite values (first at index {tuple(int(i) for i in bad)})")
        t = self.qpos.shape[0]
        if t < 2:
            fail("qpos", f"needs at least 2 frames, got {t}")
        s = len(self.site_names)
        expected = {"qvel": (t, None), "site_pos": (t, s, 3), "site_quat": (t, s, 4)}
        for fld, shape in expected.items():
            got = getattr(self, fld).shape
            if any(e is not None and e != g for e, g in zip(shape, got, strict=True)):
                want = tuple("*" if e is None else e for e in shape)
                fail(fld, f"expected shape {want} (T={t} frames, S={s} sites), got {got}")
        if len(set(self.site_names)) != s:
            fail("site_names", "names are not unique")
        if self.joint_names and len(set(self.joint_names)) != len(self.joint_names):
            fail("joint_names", "names are not unique")

    def save(self, path: str | Path) -> Path:
        """Write the clip to ``path`` (``.npz``), with the format version."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from mm_core.outputs import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: numpy adds no suffix
            np.savez_compressed(
                f,
                format_version=np.array(MOTION_FORMAT_VERSION),
                fps=np.array(float(self.fps)),
                qpos=self.qpos,
                qvel=self.qvel,
                site_pos=self.site_pos,
                site_quat=self.site_quat,
                site_names=np.array(self.site_names, dtype=str),
                joint_names=np.array(self.joint_names, dtype=str),
                embodiment=np.array(self.embodiment),
                name=np.array(self.name),
                source=np.array(self.source),
                metadata=np.array(json.dumps(dict(self.metadata))),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> MotionClip:
        """Read and validate a clip written by :meth:`save`; errors name the file and the field."""
        path = Path(path)
        where = str(path)
        data = _read_npz(path)
        _check_clip_fields(data, where)
        try:
            metadata = json.loads(str(data.get("metadata", "{}")))
        except json.JSONDecodeError as e:
            raise ContractError(f"{where}: field 'metadata' is not valid JSON ({e})") from e
        fps = data["fps"]
        if fps.shape != ():
            raise ContractError(f"{where}: field 'fps' must be a scalar, got shape {fps.shape}")
        clip = object.__new__(cls)
        fields = dict(
            fps=float(fps),
            qpos=data["qpos"],
            qvel=data["qvel"],
            site_pos=data["site_pos"],
            site_quat=data["site_quat"],
            site_names=_names(data["site_names"]),
            joint_names=_names(data.get("joint_names", ())),
            embodiment=str(data.get("embodiment", "")),
            name=str(data.get("name", "")) or path.stem,
            source=str(data.get("source", "")),
            metadata=metadata,
        )
        for k, v in fields.items():
            object.__setattr__(clip, k, v)
        clip.validate(where)
        return clip


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of the .npz file ``path``; ContractError saying what the file is when it is not one."""
    where = str(path)
    if not path.is_file():
        raise ContractError(f"{where}: no such motion file")
    if not zipfile.is_zipfile(path):  # numpy would talk about pickles; say what the file is instead
        with open(path, "rb") as f:
            head = f.read(64)
        bvh = head.lstrip().upper().startswith(b"HIERARCHY")
        what = (
            "a BVH motion-capture file"
            if bvh
            else "not a zip archive of arrays (truncated, or another format?)"
        )
        raise ContractError(
            f"{where}: not a readable .npz motion file: it is {what}; a MotionClip .npz (written by "
            "`mm retarget`) was expected; retarget motion capture first: mm retarget FILE... -e E -o DIR"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ContractError(f"{where}: not a readable .npz motion file ({e})") from e


def _check_clip_fields(data: dict[str, np.ndarray], where: str) -> None:
    """ContractError when the arrays of a .npz lack a MotionClip's fields or are of a newer format version."""
    required = ("format_version", "fps", "qpos", "qvel", "site_pos", "site_quat", "site_names")
    missing = [k for k in required if k not in data]
    if missing and "poses" in data:
        raise ContractError(
            f"{where}: an AMASS/SMPL source motion, but a MotionClip .npz (written by `mm retarget`) was "
            "expected; retarget it first: mm retarget FILE... --embodiment E --out DIR"
        )
    if missing:
        raise ContractError(
            f"{where}: missing field(s) {missing}; a MotionClip file has {list(required)} "
            "(write it with MotionClip.save)"
        )
    version = int(data["format_version"])
    if version > MOTION_FORMAT_VERSION:
        raise ContractError(
            f"{where}: field 'format_version' is {version}, newer than this mm reads "
            f"({MOTION_FORMAT_VERSION}); upgrade mm-core"
        )


@dataclass(frozen=True, kw_only=True)
class SourceMotion:
    """Human motion read from a capture file, before retargeting: global joint positions and orientations.

    Positions are in metres, z up, y forward is not assumed (retargeters fit heading).
    """

    fps: float
    """Frames per second of the capture."""
    joint_names: tuple[str, ...]
    """Source joint names (J,); SMPL names (``SMPL_JOINTS``) where the reader maps them."""
    positions: np.ndarray
    """Global joint positions, metres, z up (T, J, 3)."""
    rotations: np.ndarray
    """Global joint orientations, quaternion w-x-y-z (T, J, 4)."""
    source: str = ""
    """Path of the input file."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Reader notes (e.g. ``betas_ignored``), JSON-serialisable."""

    def __post_init__(self) -> None:
        where = self.source or "SourceMotion"
        t, j = self.positions.shape[:2] if self.positions.ndim == 3 else (0, 0)
        if self.positions.ndim != 3 or self.positions.shape[2] != 3 or j != len(self.joint_names):
            raise ContractError(
                f"{where}: positions must be (T, {len(self.joint_names)}, 3), got {self.positions.shape}"
            )
        if self.rotations.shape != (t, j, 4):
            raise ContractError(f"{where}: rotations must be {(t, j, 4)}, got {self.rotations.shape}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ContractError(f"{where}: fps must be > 0, got {self.fps}")
        for fld in ("positions", "rotations"):
            if not np.all(np.isfinite(getattr(self, fld))):
                raise ContractError(f"{where}: {fld} has non-finite values")


class _JsonReport:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from mm_core.outputs import atomic_path

        with atomic_path(path) as tmp:  # a reader never sees half a report
            tmp.write_text(json.dumps(self.to_dict(), indent=2, default=_json_default))
        return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


@dataclass(frozen=True, kw_only=True)
class RetargetReport(_JsonReport):
    """Quality of one retargeted clip (metrics as defined in the facts sheet)."""

    input: str
    """Input motion file."""
    output: str | None
    """Written clip, or None when retargeting raised."""
    embodiment: str
    method: str
    status: Literal["ok", "flagged", "failed"]
    """``flagged``: written but over a failure threshold; ``failed``: no clip (see ``error``)."""
    metrics: Mapping[str, float] = field(default_factory=dict)
    """e.g. ``joint_limit_violation_pct``, ``penetration_pct``, ``site_rmse_m``, ``seconds_per_frame``."""
    flags: tuple[str, ...] = ()
    """Human-readable reasons for ``flagged``."""
    error: str | None = None
    """Error message for ``failed``."""


@dataclass(frozen=True, kw_only=True)
class EvalReport(_JsonReport):
    """Tracking quality of a policy on a set of motions."""

    checkpoint: str
    embodiment: str
    overall: Mapping[str, float]
    """Aggregate metrics (early_termination_rate, frame_coverage, site errors, joint and root errors)."""
    per_motion: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Motion name -> metrics."""


@dataclass(frozen=True, kw_only=True)
class ValidationReport(_JsonReport):
    """Biomechanical validation of a motion or a policy against experimental reference data."""

    subject: str
    """Checkpoint or clip validated."""
    reference: str
    """Reference dataset name or path."""
    metrics: Mapping[str, Mapping[str, float]]
    """Quantity (e.g. ``hip_flexion``) -> {r, rmse, in_band, lag_pct, ...}."""
    figures: tuple[str, ...] = ()
    """Paths of written figures."""
    notes: tuple[str, ...] = ()
    """Caveats (e.g. kinematics only)."""

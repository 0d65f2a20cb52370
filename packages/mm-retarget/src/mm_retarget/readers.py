"""Motion readers: AMASS-style SMPL ``.npz`` and BVH, to :class:`~mm_core.contracts.SourceMotion`.

Every reader returns global joint positions (metres, z up) and orientations (w-x-y-z) with SMPL joint names where it
maps them, and rejects bad files with a ``ValueError`` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import tomllib
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mm_core.contracts import SMPL_JOINTS, SourceMotion
from mm_core.outputs import atomic_path

#: CMU mocap skeleton (cgspeed BVH conversion) joint -> SMPL joint. ``LeftUpLeg`` is the hip joint centre,
#: ``LeftLeg`` the knee, ``LeftFoot`` the ankle, ``LeftArm`` the shoulder, ``LeftForeArm`` the elbow,
#: ``LeftHand`` the wrist; ``Spine1`` sits at the upper thoracic spine where SMPL's Spine3 is.
CMU_JOINT_MAP: dict[str, str] = {
    "Hips": "Pelvis", "LeftUpLeg": "L_Hip", "RightUpLeg": "R_Hip", "LowerBack": "Spine1",
    "LeftLeg": "L_Knee", "RightLeg": "R_Knee", "Spine": "Spine2", "LeftFoot": "L_Ankle",
    "RightFoot": "R_Ankle", "Spine1": "Spine3", "LeftToeBase": "L_Foot", "RightToeBase": "R_Foot",
    "Neck1": "Neck", "LeftShoulder": "L_Collar", "RightShoulder": "R_Collar", "Head": "Head",
    "LeftArm": "L_Shoulder", "RightArm": "R_Shoulder", "LeftForeArm": "L_Elbow", "RightForeArm": "R_Elbow",
    "LeftHand": "L_Wrist", "RightHand": "R_Wrist", "LeftFingerBase": "L_Hand", "RightFingerBase": "R_Hand",
}  # fmt: skip

#: Candidate BVH length units, metres per unit. CMU's are inches / 0.45 (the database's own scale: a ~0.42 m
#: femur is ~7.4 units), the others are the common ones.
BVH_UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
#: Adult hip-to-ankle length used to detect the unit (m); any adult is within a factor 1.3 of it.
_ADULT_LEG_M = 0.85


#: Plausible capture rates (Hz): motion capture runs at 24-480 Hz (optical up to ~1 kHz); a rate outside this
#: range is a unit mistake (seconds per frame in a rate field, or the other way round), not a real capture.
FPS_RANGE = (10.0, 1000.0)
#: Positions farther than this from the origin (m) are not a capture of a human (a capture volume is metres).
MAX_POSITION_M = 1.0e4


def _fail(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: {what}")


def _finite(path: Path, name: str, a: np.ndarray) -> np.ndarray:
    if not np.issubdtype(a.dtype, np.number):
        raise _fail(path, f"key {name!r} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise _fail(path, f"key {name!r} has non-finite values (first at index {bad}); re-export the motion")
    return a


def _check_rate(path: Path, field: str, fps: float, given: float, per_frame: bool) -> None:
    """Refuse an implausible frame rate, naming the field and what was probably meant.

    fps: the rate it implies (Hz); given: the value in the file; per_frame: the field holds seconds per frame.
    """
    lo, hi = FPS_RANGE
    if lo <= fps <= hi:
        return
    what = f"{field} is {given:g}, i.e. {fps:.4g} frames per second, outside the plausible {lo:g}-{hi:g} Hz"
    if lo <= given <= hi and per_frame:
        what += f"; it looks like a frame rate in Hz: {field} is seconds per frame, probably {1 / given:.6g}"
    elif lo <= 1 / given <= hi and not per_frame:
        what += (
            f"; it looks like a frame time in seconds: {field} is frames per second, probably {1 / given:.6g}"
        )
    raise _fail(path, what + "; fix the file's header")


def _check_positions(path: Path, pos: np.ndarray, names: tuple[str, ...] | list[str], first: int = 0) -> None:
    """Refuse joint positions no human capture has (e.g. a root that jumps to 1e30), naming frame and joint.

    first: the file's number of frame 0 of ``pos`` (frames counted from 0 as in the file)."""
    far = np.abs(pos) > MAX_POSITION_M
    if far.any():
        f, j, _ = (int(i) for i in np.argwhere(far)[0])
        raise _fail(
            path,
            f"joint {names[j]!r} is at {pos[f, j].tolist()} m in frame {f + first}, more than {MAX_POSITION_M:g} m from "
            "the origin: the motion data is corrupt there (fix or cut those frames)",
        )


# ---------------------------------------------------------------------------------------------------------------
# AMASS / SMPL .npz
# ---------------------------------------------------------------------------------------------------------------


def read_amass(path: str | Path, *, smpl_model_dir: str | Path | None = None, **_: Any) -> SourceMotion:
    """Read an AMASS-style ``.npz`` (SMPL 72, SMPL-H 156 or SMPL-X 165 pose values per frame, or SMPL-X's split
    keys ``root_orient``/``pose_body``, whose model AMASS's ``surface_model_type`` names) into global SMPL joints.

    AMASS stores its world z-up (the y-up -> z-up rotation is inside ``global_orient``, the first 3 pose values),
    in metres; positions come out in that frame. With ``smpl_model_dir`` (or ``$MM_SMPL_MODEL_DIR``) and ``smplx``
    installed, joint positions follow ``betas``; otherwise the neutral SMPL skeleton is used and
    ``metadata["betas_ignored"]`` says so.
    """
    path = Path(path)
    data = _load_npz(path)
    poses = _amass_poses(path, data)
    trans = _finite(path, "trans", data["trans"])
    if trans.shape != (poses.shape[0], 3):
        raise _fail(path, f"'trans' must be ({poses.shape[0]}, 3) to match 'poses', got {trans.shape}")
    fps = _amass_fps(path, data)
    betas = _finite(path, "betas", data["betas"]).reshape(-1) if "betas" in data else np.zeros(0)
    g = data["gender"].item() if "gender" in data else "neutral"
    gender = g.decode() if isinstance(g, bytes) else str(g)
    gender = gender if gender in ("male", "female", "neutral") else "neutral"
    model_type = _amass_body_model(path, data, poses.shape[1])
    pos, quat, meta = _smpl_joints(path, poses, trans, betas, model_type, gender, smpl_model_dir)
    return SourceMotion(
        fps=fps, joint_names=SMPL_JOINTS, positions=pos, rotations=quat, source=str(path), metadata=meta
    )


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, refusing what is not one (missing, not a zip, truncated)."""
    if not path.is_file():
        raise _fail(path, "no such file")
    if not zipfile.is_zipfile(path):  # numpy would talk about pickles; say what is wrong instead
        raise _fail(
            path,
            "not a readable .npz file: it is not a zip archive of arrays (truncated, or another format?)",
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise _fail(path, f"not a readable .npz file ({e}); is it truncated?") from e


def _amass_poses(path: Path, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """The axis-angle poses (T, 66|72|156|165) of an AMASS file, at least 2 frames, with a 'trans' key beside."""
    from mm_retarget import smpl

    if "poses" in data:
        poses = _finite(path, "poses", data["poses"])
    elif "root_orient" in data and "pose_body" in data:
        poses = np.concatenate([_finite(path, k, data[k]) for k in ("root_orient", "pose_body")], axis=-1)
    elif "qpos" in data and "site_names" in data:  # .npz is also the MotionClip format
        raise _fail(
            path,
            "a MotionClip (already retargeted onto an embodiment), not an AMASS source motion; use it as it is "
            "(mm train --motions, mm validate --motion) instead of retargeting it",
        )
    else:
        raise _fail(
            path,
            f"no pose keys: expected 'poses' (AMASS) or 'root_orient' + 'pose_body' (SMPL-X); has {sorted(data)}",
        )
    if poses.ndim != 2 or poses.shape[1] not in smpl.POSE_WIDTHS:
        raise _fail(
            path,
            f"'poses' must be (T, 66|72|156|165) axis-angle values (SMPL body, SMPL, SMPL-H, SMPL-X), "
            f"got shape {poses.shape}",
        )
    t = poses.shape[0]
    if t < 2:
        raise _fail(path, f"needs at least 2 frames, got {t}")
    if "trans" not in data:
        raise _fail(path, f"missing key 'trans' (root translation (T, 3)); has {sorted(data)}")
    return poses


def _amass_fps(path: Path, data: Mapping[str, np.ndarray]) -> float:
    """The frame rate of an AMASS file, from whichever rate key it has, checked for plausibility."""
    fps_key = next((k for k in ("mocap_framerate", "mocap_frame_rate", "fps") if k in data), None)
    if fps_key is None:
        raise _fail(
            path, f"missing frame rate: expected 'mocap_framerate' or 'mocap_frame_rate'; has {sorted(data)}"
        )
    rate = _finite(path, fps_key, np.asarray(data[fps_key]))
    if rate.size != 1:
        raise _fail(path, f"'{fps_key}' must be one number (frames per second), got shape {rate.shape}")
    fps = float(rate.reshape(-1)[0])
    if fps <= 0:
        raise _fail(path, f"'{fps_key}' must be > 0 frames per second, got {fps}")
    _check_rate(path, f"'{fps_key}'", fps, fps, per_frame=False)
    return fps


def _amass_body_model(path: Path, data: Mapping[str, np.ndarray], width: int) -> str:
    """The body model (``smpl-body``, ``smpl``, ``smplh``, ``smplx``) of poses ``width`` values wide, as AMASS's
    ``surface_model_type`` names it where the width does not tell."""
    from mm_retarget import smpl

    model_type = smpl.POSE_WIDTHS[width]
    if "surface_model_type" in data:  # AMASS names the body model; split keys (66 wide) do not show it
        v = data["surface_model_type"]
        s = v.reshape(-1)[0] if v.size == 1 else v
        declared = (s.decode() if isinstance(s, bytes) else str(s)).lower().replace("-", "").replace("+", "")
        if declared not in ("smpl", "smplh", "smplx"):
            raise _fail(path, f"'surface_model_type' is {declared!r}: expected smpl, smplh or smplx")
        if model_type == "smpl-body" and declared != "smpl":
            model_type = declared
        elif model_type not in ("smpl-body", declared):
            raise _fail(
                path,
                f"'surface_model_type' is {declared!r} but the poses are {width} values wide "
                f"({model_type}); fix the key or the poses",
            )
    return model_type


def _smpl_joints(
    path: Path,
    poses: np.ndarray,
    trans: np.ndarray,
    betas: np.ndarray,
    model_type: str,
    gender: str,
    smpl_model_dir: str | Path | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Global SMPL joint positions (T, 24, 3) and orientations (T, 24, 4) of the poses, with the reader's
    metadata: the neutral skeleton's, the body joints from the user's model files when there are some."""
    from mm_retarget import smpl

    pos, quat = smpl.forward_kinematics(poses, trans)
    _check_positions(path, pos, SMPL_JOINTS)
    meta: dict[str, Any] = {
        "reader": "amass",
        "body_model": model_type,
        "gender": gender,
        "up": "+z",
        "units": "m",
    }
    model_dir = smpl.smpl_model_dir(smpl_model_dir)
    if model_dir is not None:
        # Shape-aware joints from the user's model; orientations do not depend on shape.
        pos[:, :22] = smpl.smplx_joints(model_dir, model_type, gender, poses, trans, betas)
        meta["joints"] = f"smplx ({model_dir})"
    else:
        meta["joints"] = "neutral SMPL skeleton"
        meta["betas_ignored"] = bool(np.any(betas != 0))
        if model_type == "smplx":
            meta["note"] = (
                "SMPL-X body joints approximated by the SMPL skeleton (give SMPL-X model files for exact)"
            )
    return pos, quat, meta


def write_amass(
    path: str | Path, poses: np.ndarray, trans: np.ndarray, fps: float, betas: np.ndarray | None = None
) -> Path:
    """Write an AMASS-style ``.npz`` (the format :func:`read_amass` reads).

    poses: axis-angle per joint (T, 72 or 156); trans: root translation, metres, z up (T, 3)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # hidden, per process: no reader or writer mixes in
        np.savez(
            f,
            poses=poses.astype(np.float64),
            trans=trans.astype(np.float64),
            betas=np.zeros(16) if betas is None else betas,
            mocap_framerate=np.array(float(fps)),
            gender=np.array("neutral"),
        )
    return path


# ---------------------------------------------------------------------------------------------------------------
# BVH
# ---------------------------------------------------------------------------------------------------------------


def load_joint_map(path: str | Path) -> dict[str, str]:
    """A joint map file (JSON or TOML): ``{"<source joint>": "<SMPL joint>", ...}``, checked against SMPL names."""
    path = Path(path)
    try:
        text = path.read_text()
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as e:
        raise _fail(
            path, f"not a readable joint map (JSON or TOML object source joint -> SMPL joint): {e}"
        ) from e
    if isinstance(raw, dict) and isinstance(raw.get("joints"), dict):
        raw = raw["joints"]  # TOML files may keep the map under a [joints] table
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise _fail(path, "joint map must be an object of strings: source joint -> SMPL joint")
    bad = sorted(v for v in raw.values() if v not in SMPL_JOINTS)
    if bad:
        raise _fail(path, f"unknown SMPL joints {bad}; valid: {', '.join(SMPL_JOINTS)}")
    return dict(raw)


def _detect_scale(
    path: Path, rest: np.ndarray, index: Mapping[str, int], jmap: Mapping[str, str]
) -> tuple[str, float]:
    """Pick the unit from BVH_UNITS that makes the rest-pose hip -> knee -> ankle length adult-sized."""
    inv = {v: k for k, v in jmap.items()}
    chain = [inv.get(n) for n in ("L_Hip", "L_Knee", "L_Ankle")]
    if any(c is None or c not in index for c in chain):
        raise _fail(
            path,
            "cannot detect length units without L_Hip, L_Knee, L_Ankle in the joint map; give units explicitly "
            f"(one of {sorted(BVH_UNITS)} or metres per unit)",
        )
    p = [rest[index[c]] for c in chain]  # type: ignore[index]
    leg = float(np.linalg.norm(p[1] - p[0]) + np.linalg.norm(p[2] - p[1]))
    if leg <= 0:
        raise _fail(path, "the rest pose has a zero-length leg; give units explicitly")
    name = min(BVH_UNITS, key=lambda u: abs(np.log(leg * BVH_UNITS[u] / _ADULT_LEG_M)))
    if abs(np.log(leg * BVH_UNITS[name] / _ADULT_LEG_M)) > np.log(1.6):
        raise _fail(path, f"leg length {leg:.4g} units matches no known unit {sorted(BVH_UNITS)}; give units")
    return name, BVH_UNITS[name]


def check_bvh_hierarchy(path: Path) -> None:
    """Refuse a HIERARCHY whose braces do not balance (pybvh would build a wrong skeleton), naming the line.

    A ``}`` indented unlike the ``{`` it closes names the likely spot (BVH writers indent blocks); otherwise the
    unclosed block or the stray ``}`` is named.
    """
    stack: list[tuple[int, str, str]] = []  # (line, indentation, block owner) per open brace
    owner, mismatch = "HIERARCHY", None
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            indent = raw[: len(raw) - len(raw.lstrip())]
            if line.upper().startswith("MOTION"):
                break
            if line.startswith(("ROOT", "JOINT", "End Site", "End site")):
                owner = line
            for ch in line:
                if ch == "{":
                    stack.append((n, indent, owner))
                elif ch == "}":
                    if not stack:
                        raise _fail(
                            path, f"line {n}: '}}' closes no open block: the hierarchy has an extra '}}'"
                        )
                    opened, ind, who = stack.pop()
                    if mismatch is None and ind != indent:
                        mismatch = (n, opened, who)
    if not stack:
        return
    if mismatch is not None:
        n, opened, who = mismatch
        raise _fail(
            path,
            f"hierarchy braces do not balance: '}}' on line {n} closes the block of {who!r} (line {opened}) "
            f"but is indented for another: a '}}' is missing near line {n}",
        )
    opened, _, who = stack[-1]
    raise _fail(
        path, f"hierarchy braces do not balance: the block of {who!r} opened on line {opened} is never closed"
    )


def read_bvh(
    path: str | Path,
    *,
    joint_map: str | Path | Mapping[str, str] | None = None,
    units: str | float = "auto",
    up: str = "auto",
    skip_rest_frame: bool = True,
    **_: Any,
) -> SourceMotion:
    """Read a BVH file with ``pybvh`` into global joints, metres, z up.

    joint_map: source joint -> SMPL joint (a mapping, or a JSON/TOML file); default the CMU skeleton's map.
    units: ``auto`` (detect from the rest-pose leg length), a name in ``BVH_UNITS`` or metres per unit.
    up: ``auto`` (pybvh infers it; CMU is +y), or ``+y`` / ``+z``.
    skip_rest_frame: drop a leading rest-pose frame (zero root rotation, whole-degree joint angles: the CMU
        conversion writes its rest pose there, not captured motion).
    """
    from scipy.spatial.transform import Rotation

    path = Path(path)
    bvh, angles = _parse_bvh(path, up)
    names = list(bvh.joint_names)
    jmap, map_name = _bvh_joint_map(path, names, joint_map)
    start = 1 if skip_rest_frame and _is_rest_pose(angles[0]) and bvh.frame_count > 2 else 0
    unit_name, scale = _bvh_units(path, units, bvh, jmap)
    pos = np.asarray(bvh.joint_positions(), dtype=np.float64)[start:] * scale
    _check_positions(path, pos, names, first=start)
    parent_joint = _parent_joints(bvh)
    rot = _global_rotations(bvh, angles[start:], parent_joint)
    world_up = bvh.world_up if up == "auto" else up
    pos, rot = _to_z_up(path, world_up, pos, rot)
    quat = np.roll(Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat(), 1, axis=-1).reshape(
        rot.shape[0], len(names), 4
    )
    # Unmapped joints keep their names, prefixed where one would clash with an SMPL name (CMU has its own "Neck").
    out_names = tuple(jmap.get(n, f"bvh:{n}" if n in SMPL_JOINTS else n) for n in names)
    meta = {
        "reader": "bvh",
        "units": unit_name,
        "metres_per_unit": scale,
        "up": f"{world_up} (converted to +z)",
        "joint_map": map_name,
        "skipped_rest_frame": bool(start),
        "source_parents": [int(p) for p in parent_joint],
    }
    return SourceMotion(
        fps=1.0 / bvh.frame_time,
        joint_names=out_names,
        positions=pos,
        rotations=quat,
        source=str(path),
        metadata=meta,
    )


def _parse_bvh(path: Path, up: str) -> tuple[Any, np.ndarray]:
    """The file parsed by ``pybvh`` and its joint angles (T, J, 3) rad, refusing a file that is missing,
    malformed, shorter than 2 frames, non-finite or at an implausible rate."""
    import pybvh

    if not path.is_file():
        raise _fail(path, "no such file")
    if up not in ("auto", "+y", "+z"):
        raise ValueError(f"{path}: up must be 'auto', '+y' or '+z', got {up!r}")
    check_bvh_hierarchy(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bvh = pybvh.read_bvh_file(path, world_up=up if up != "auto" else "auto")
    except Exception as e:  # pybvh raises ValueError/IndexError/KeyError on malformed files
        raise _fail(path, f"not a readable BVH file ({type(e).__name__}: {e}); is it truncated?") from e
    if bvh.frame_count < 2:
        raise _fail(path, f"needs at least 2 frames of motion, got {bvh.frame_count}")
    angles = np.asarray(bvh.joint_angles, dtype=np.float64)
    root = np.asarray(bvh.root_pos, dtype=np.float64)
    if not (np.all(np.isfinite(angles)) and np.all(np.isfinite(root))):
        raise _fail(path, "motion data has non-finite values")
    if not (np.isfinite(bvh.frame_time) and bvh.frame_time > 0):
        raise _fail(path, f"Frame Time must be > 0 seconds per frame, got {bvh.frame_time}")
    _check_rate(path, "Frame Time", 1.0 / bvh.frame_time, bvh.frame_time, per_frame=True)
    return bvh, angles


def _bvh_joint_map(
    path: Path, names: list[str], joint_map: str | Path | Mapping[str, str] | None
) -> tuple[dict[str, str], str]:
    """(file joint -> SMPL joint for the joints the file has, the map's name); a given map must name only
    joints of the file, and at least 2 joints must map."""
    if joint_map is None:
        jmap, map_name = CMU_JOINT_MAP, "cmu"
    elif isinstance(joint_map, Mapping):
        jmap, map_name = dict(joint_map), "given"
    else:
        jmap, map_name = load_joint_map(joint_map), str(joint_map)
    index = set(names)
    missing = sorted(k for k in jmap if k not in index)
    if map_name != "cmu" and missing:
        raise _fail(path, f"joint map {map_name} names joints not in the file: {missing}; file has {names}")
    jmap = {k: v for k, v in jmap.items() if k in index}
    if len(jmap) < 2:
        raise _fail(
            path,
            f"unknown skeleton: only {sorted(jmap)} of its joints are mapped to SMPL; give a joint map "
            f"(--joint-map FILE.json, source joint -> SMPL joint). Joints: {names}",
        )
    return jmap, map_name


def _is_rest_pose(angles: np.ndarray) -> bool:
    """Whether one frame's joint angles (J, 3) rad are a rest pose: zero root rotation, whole-degree angles."""
    deg = np.degrees(angles)
    return bool(np.allclose(angles[0], 0.0) and np.allclose(deg, np.round(deg), atol=1e-4))


def _bvh_units(path: Path, units: str | float, bvh: Any, jmap: Mapping[str, str]) -> tuple[str, float]:
    """(unit name, metres per unit) from ``units``: detected, a name in ``BVH_UNITS`` or metres per unit."""
    if units == "auto":
        rest = np.asarray(bvh.rest_pose_positions())  # every node, joints and end sites (N, 3)
        return _detect_scale(path, rest, bvh.node_index, jmap)
    if isinstance(units, str) and units in BVH_UNITS:
        return units, BVH_UNITS[units]
    try:
        scale, unit_name = float(units), f"{float(units)} m/unit"
    except ValueError:
        raise _fail(
            path, f"units must be 'auto', one of {sorted(BVH_UNITS)} or metres per unit, got {units!r}"
        ) from None
    if not scale > 0:
        raise _fail(path, f"units must be > 0 metres per unit, got {scale}")
    return unit_name, scale


def _parent_joints(bvh: Any) -> np.ndarray:
    """Each joint's nearest ancestor joint (end sites skipped), -1 for the root (J,)."""
    topo = bvh.fk_topology
    joint_of_node = topo.joint_idx
    parent_joint = np.full(len(bvh.joint_names), -1)
    for node, j in enumerate(joint_of_node):
        if j < 0:
            continue
        pn = topo.parent_idx[node]
        while pn >= 0 and joint_of_node[pn] < 0:
            pn = topo.parent_idx[pn]
        parent_joint[j] = joint_of_node[pn] if pn >= 0 else -1
    return parent_joint


def _global_rotations(bvh: Any, angles: np.ndarray, parent_joint: np.ndarray) -> np.ndarray:
    """Global joint orientations (T, J, 3, 3): each joint's local Euler rotation (BVH channel order, intrinsic)
    composed down the tree from angles (T, J, 3) rad."""
    from scipy.spatial.transform import Rotation

    rot = np.empty((angles.shape[0], len(parent_joint), 3, 3))
    for j, order in enumerate(bvh.euler_orders):
        local = Rotation.from_euler(order.upper(), angles[:, j], degrees=False).as_matrix()
        rot[:, j] = local if parent_joint[j] < 0 else rot[:, parent_joint[j]] @ local
    return rot


def _to_z_up(path: Path, world_up: str, pos: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (T, J, 3) and orientations (T, J, 3, 3) in a ``world_up`` (+y or +z) world -> z up."""
    if world_up not in ("+y", "+z"):
        raise _fail(path, f"up axis {world_up!r} is not supported; pass up='+y' or '+z'")
    if world_up == "+y":
        # y up -> z up: +90 degrees about x, (x, y, z) -> (x, -z, y).
        to_z = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
        return pos @ to_z.T, to_z @ rot
    return pos, rot

"""The embodiment in a viser scene: one mesh per body (its visible geoms, meshes and primitives, in the body frame),
posed per frame from forward kinematics; tendon paths as line segments."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Colour of the reference ghost (RGB 0-255) and its opacity.
GHOST_RGB = (60, 200, 90)
GHOST_OPACITY = 0.45


def _uv_sphere(n: int = 12, stretch: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere as a latitude-longitude grid ((V, 3), (F, 3)), faces wound outwards, the equator ring doubled:
    ``stretch`` moves the upper half up and the lower half down by that much (a capsule of half-length ``stretch``)."""
    half = np.linspace(0.0, np.pi / 2, n // 2 + 1)
    lat = np.concatenate([half, np.pi - half[::-1]])
    lon = np.linspace(0.0, 2 * np.pi, 2 * n, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    v = np.stack([np.sin(la) * np.cos(lo), np.sin(la) * np.sin(lo), np.cos(la)], -1)
    v[: len(half), :, 2] += stretch
    v[len(half) :, :, 2] -= stretch
    i, j = np.meshgrid(np.arange(len(lat) - 1), np.arange(2 * n), indexing="ij")
    a, b = i * 2 * n + j, i * 2 * n + (j + 1) % (2 * n)
    c, d = a + 2 * n, b + 2 * n
    return v.reshape(-1, 3), np.concatenate([np.stack([a, c, b], -1), np.stack([b, c, d], -1)]).reshape(-1, 3)


def _cylinder(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Cylinder of radius 1 from z = -1 to 1, capped ((V, 3), (F, 3)), faces wound outwards."""
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    ring = np.stack([np.cos(a), np.sin(a)], -1)
    v = np.concatenate(
        [np.c_[ring, -np.ones(n)], np.c_[ring, np.ones(n)], [[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]]
    )
    i = np.arange(n)
    j = (i + 1) % n
    bottom, top = np.full(n, 2 * n), np.full(n, 2 * n + 1)
    faces = [np.stack(x, -1) for x in ((i, j, n + j), (i, n + j, n + i), (bottom, j, i), (top, n + i, n + j))]
    return v, np.concatenate(faces)


def _primitive(m: Any, g: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices (V, 3) and faces (F, 3) of geom ``g`` in its own frame; None for geoms that are not part of a
    body's look (planes, height fields, SDFs)."""
    import mujoco

    t, s = int(m.geom_type[g]), m.geom_size[g]
    G = mujoco.mjtGeom
    if t == int(G.mjGEOM_MESH):
        mid = int(m.geom_dataid[g])
        va, vn = m.mesh_vertadr[mid], m.mesh_vertnum[mid]
        fa, fn = m.mesh_faceadr[mid], m.mesh_facenum[mid]
        return m.mesh_vert[va : va + vn].astype(np.float64), m.mesh_face[fa : fa + fn]
    if t == int(G.mjGEOM_SPHERE):
        v, f = _uv_sphere()
        return v * s[0], f
    if t == int(G.mjGEOM_ELLIPSOID):
        v, f = _uv_sphere()
        return v * s[:3], f
    if t == int(G.mjGEOM_CAPSULE):
        v, f = _uv_sphere(stretch=s[1] / s[0])
        return v * s[0], f
    if t == int(G.mjGEOM_CYLINDER):
        v, f = _cylinder()
        return v * np.array([s[0], s[0], s[1]]), f
    if t == int(G.mjGEOM_BOX):
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
        faces = np.array(
            [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
             [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
        )  # fmt: skip
        return corners * s, faces
    return None


def visible_geoms(m: Any) -> list[int]:
    """Geoms MuJoCo's viewer shows by default (its default geom groups), not transparent, not on the world body."""
    import mujoco

    groups = np.asarray(mujoco.MjvOption().geomgroup, dtype=bool)
    return [
        g
        for g in range(m.ngeom)
        if m.geom_bodyid[g] != 0 and groups[min(int(m.geom_group[g]), len(groups) - 1)] and _rgba(m, g)[3] > 0
    ]


def _rgba(m: Any, g: int) -> np.ndarray:
    mat = int(m.geom_matid[g])
    return m.mat_rgba[mat] if mat >= 0 else m.geom_rgba[g]


def body_meshes(m: Any) -> dict[int, tuple[np.ndarray, np.ndarray, tuple[int, int, int]]]:
    """Body id -> (vertices (V, 3) in the body frame, faces (F, 3), RGB of its first geom) for bodies with geoms."""
    import mujoco

    parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    colour: dict[int, tuple[int, int, int]] = {}
    rot = np.empty(9)
    for g in visible_geoms(m):
        prim = _primitive(m, g)
        if prim is None:
            continue
        mujoco.mju_quat2Mat(rot, m.geom_quat[g])
        b = int(m.geom_bodyid[g])
        parts.setdefault(b, []).append((prim[0] @ rot.reshape(3, 3).T + m.geom_pos[g], prim[1]))
        colour.setdefault(b, tuple(int(255 * c) for c in _rgba(m, g)[:3]))  # type: ignore[arg-type]
    out = {}
    for b, pieces in parts.items():
        starts = np.cumsum([0] + [len(v) for v, _ in pieces[:-1]])
        verts = np.concatenate([v for v, _ in pieces])
        faces = np.concatenate([f + s for (_, f), s in zip(pieces, starts, strict=True)])
        out[b] = (verts, faces, colour[b])
    return out


def tendon_segments(m: Any, d: Any, tendons: list[int]) -> np.ndarray:
    """Line segments along the current paths of ``tendons`` (N, 2, 3) and, per segment, its tendon (N,).

    Needs ``mj_kinematics`` and ``mj_tendon`` (or ``mj_forward``) on ``d``. A path's pulley breaks it (wrap id -2).
    """
    obj, xpos = np.asarray(d.wrap_obj).reshape(-1), np.asarray(d.wrap_xpos).reshape(-1, 3)  # path points
    segs, owner = [], []
    for t in tendons:
        a, n = int(d.ten_wrapadr[t]), int(d.ten_wrapnum[t])
        for k in range(a, a + n - 1):
            if obj[k] != -2 and obj[k + 1] != -2:
                segs.append((xpos[k], xpos[k + 1]))
                owner.append(t)
    return np.asarray(segs, dtype=np.float64).reshape(-1, 2, 3), np.asarray(owner, dtype=int)


class Body:
    """The body's meshes in a viser scene under ``name``, posed by :meth:`pose`."""

    def __init__(
        self,
        server: Any,
        m: Any,
        name: str,
        *,
        offset: np.ndarray | None = None,
        color: tuple[int, int, int] | None = None,
        opacity: float | None = None,
    ) -> None:
        import mujoco

        self.m, self.d = m, mujoco.MjData(m)
        self.offset = np.zeros(3) if offset is None else np.asarray(offset, dtype=np.float64)
        self.handles: dict[int, Any] = {}
        for b, (verts, faces, rgb) in body_meshes(m).items():
            body_name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) or f"body{b}"
            self.handles[b] = server.scene.add_mesh_simple(
                f"{name}/{body_name}", verts, faces, color=color or rgb, opacity=opacity, cast_shadow=False
            )

    def pose(self, qpos: np.ndarray) -> None:
        """Set the body to ``qpos`` (nq,): forward kinematics, then each body mesh to its body's world pose."""
        import mujoco

        self.d.qpos[:] = qpos
        mujoco.mj_kinematics(self.m, self.d)
        for b, h in self.handles.items():
            h.position = self.d.xpos[b] + self.offset
            h.wxyz = self.d.xquat[b]

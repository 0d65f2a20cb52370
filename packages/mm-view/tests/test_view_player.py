"""The viewer without a browser: poses per frame, per-frame checks, what a path is, what a retarget directory
serves (the browser tests in tests/test_browser_view.py drive the same through chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mm_core import MotionClip


def _clip(name: str = "tiny", frames: int = 20) -> tuple[MotionClip, object]:
    """A clip on the embodiment whose joints sweep through a quarter of their ranges, sites from FK."""
    import mujoco

    from mm_core import get_embodiment

    spec = get_embodiment(name)
    m = spec.compile()
    d = mujoco.MjData(m)
    qpos = np.repeat(m.qpos0[None], frames, axis=0)
    for j in np.flatnonzero(m.jnt_limited):
        lo, hi = m.jnt_range[j]
        qpos[:, m.jnt_qposadr[j]] = np.linspace(lo, lo + 0.25 * (hi - lo), frames)
    sid = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, s) for s in spec.tracked_sites]
    site_pos = []
    for q in qpos:
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        site_pos.append(d.site_xpos[sid].copy())
    quat = np.zeros((frames, len(sid), 4))
    quat[..., 0] = 1
    clip = MotionClip(
        fps=50.0, qpos=qpos, qvel=np.zeros((frames, m.nv)), site_pos=np.array(site_pos), site_quat=quat,
        site_names=spec.tracked_sites, embodiment=name, name="sweep",
    )  # fmt: skip
    return clip, m


def test_player_poses_every_body_by_forward_kinematics() -> None:
    import mujoco
    import viser

    from mm_view.clips import clip_playback
    from mm_view.viewer import Player

    clip, m = _clip()
    # A retargeted clip's fitted source joints, one per tracked site (here 2 cm above it).
    source = clip.site_pos + np.array([0.0, 0.0, 0.02])
    meta = {"source_positions": source.tolist(), "source_sites": list(clip.site_names)}
    clip = MotionClip(**{**clip.__dict__, "metadata": meta})
    server = viser.ViserServer(host="127.0.0.1", port=0, verbose=False)
    try:
        player = Player(server, m, clip_playback(clip, m))
        d = mujoco.MjData(m)
        for k in (7, 19, 0):
            player.set_frame(k)
            d.qpos[:] = clip.qpos[k]
            mujoco.mj_kinematics(m, d)
            assert player.frame == k and int(player.slider.value) == k
            for b, h in player.body.handles.items():
                np.testing.assert_allclose(h.position, d.xpos[b], atol=1e-9)
                np.testing.assert_allclose(h.wxyz, d.xquat[b], atol=1e-9)
            assert f"frame **{k}**" in player.status.content
            markers = {h.name: h for h in player._markers}
            np.testing.assert_allclose(markers["/sites"].points, clip.site_pos[k], atol=1e-6)
            np.testing.assert_allclose(markers["/source"].points, source[k], atol=1e-6)
            seg = markers["/source_error"].points  # a line from each source joint to the site tracking it
            np.testing.assert_allclose(np.linalg.norm(seg[:, 0] - seg[:, 1], axis=1), 0.02, atol=1e-6)
        player.set_frame(10_000)  # clamped to the clip
        assert player.frame == clip.num_frames - 1
        player.slider.value = 3  # the timeline drives the pose
        assert player.frame == 3
        player.close()
    finally:
        server.stop()


def test_frames_over_joint_limits_are_flagged() -> None:
    pytest.importorskip("mm_retarget", reason="the quality checks are mm-retarget's")
    from mm_view.clips import frame_failures

    clip, m = _clip()
    qpos = clip.qpos.copy()
    j = int(np.flatnonzero(m.jnt_limited)[-1])
    qpos[[4, 11], m.jnt_qposadr[j]] = m.jnt_range[j, 1] + 0.1
    bad = MotionClip(**{**clip.__dict__, "qpos": qpos})
    flags = frame_failures(bad, m)
    assert [k for k, f in enumerate(flags) if "joint limits" in f] == [4, 11]
    import mujoco

    assert mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) in flags[4]


def test_what_a_path_is(tmp_path: Path) -> None:
    from mm_view.app import is_loopback, kind_of
    from mm_view.clips import ViewError

    clip, _ = _clip()
    assert kind_of(clip.save(tmp_path / "c.npz")) == "clip"
    (tmp_path / "report.json").write_text("{}")
    assert kind_of(tmp_path) == "retarget"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    assert kind_of(run) == "run"
    with pytest.raises(ViewError, match="no such file"):
        kind_of(tmp_path / "nothing.npz")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ViewError, match="give a clip"):
        kind_of(tmp_path / "notes.txt")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_retarget_directory_serves_only_its_own_clips_best_first(tmp_path: Path) -> None:
    from mm_view.clips import ViewError, retarget_entries

    clip, _ = _clip()
    outside = clip.save(tmp_path / "secret.npz")
    d = tmp_path / "out"
    for n in ("a", "b", "c"):
        clip.save(d / f"{n}.npz")
    rows = [
        {"input": "a.bvh", "output": str(d / "a.npz"), "status": "flagged", "flags": ["x"], "metrics": {"site_rmse_m": 0.01}},
        {"input": "b.bvh", "output": str(d / "b.npz"), "status": "ok", "metrics": {"site_rmse_m": 0.05}},
        {"input": "c.bvh", "output": str(d / "c.npz"), "status": "ok", "metrics": {"site_rmse_m": 0.02}},
        {"input": "d.bvh", "output": None, "status": "failed", "error": "boom"},
        {"input": "e.bvh", "output": str(outside), "status": "ok", "metrics": {"site_rmse_m": 0.0}},
        {"input": "f.bvh", "output": "../secret.npz", "status": "ok", "metrics": {"site_rmse_m": 0.0}},
    ]  # fmt: skip
    (d / "report.json").write_text(json.dumps({"clips": rows}))
    entries = retarget_entries(d)
    # ok before flagged, then by RMSE; failed inputs and anything outside the directory are not served.
    assert [e["name"] for e in entries] == ["c", "b", "a"]
    assert all(e["path"].parent == d.resolve() for e in entries)
    (d / "report.json").write_text("not json")
    with pytest.raises(ViewError, match="report.json"):
        retarget_entries(d)

"""The player: a motion (and optionally its reference ghost, muscles, source skeleton, per-frame numbers) in a viser
scene with a timeline. The server sends one frame's poses at a time, so clips of any length start at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mm_view.scene import GHOST_OPACITY, GHOST_RGB, Body, tendon_segments

SITE_RGB = (255, 200, 0)
SOURCE_RGB = (230, 40, 40)
MUSCLE_WIDTH = 0.006
#: Opacity of the body while muscles are drawn, so that the muscles inside it show.
BODY_OPACITY_WITH_MUSCLES = 0.55
#: Frames drawn per second during playback (the clip's own rate sets how far each one moves).
DISPLAY_FPS = 30.0


@dataclass(kw_only=True)
class Playback:
    """What the player shows; every per-frame array has the motion's T frames first."""

    title: str
    """Shown at the top of the panel (clip or run name)."""
    qpos: np.ndarray
    """Poses of the body (T, nq)."""
    fps: float
    """Frames per second of ``qpos``."""
    ghost_qpos: np.ndarray | None = None
    """Reference poses drawn as a translucent ghost (T, nq)."""
    ghost_offset: Sequence[float] = (0.0, 0.0, 0.0)
    """Where the ghost stands relative to the body (m)."""
    sites: np.ndarray | None = None
    """Tracked-site positions to mark (T, S, 3)."""
    source: np.ndarray | None = None
    """Fitted source-skeleton joints (T, J, 3), each drawn with a line to its tracked site."""
    source_sites: Sequence[int] = ()
    """Column of ``sites`` that each source joint is tracked by (J,)."""
    muscle_rgb: np.ndarray | None = None
    """Per-frame colour of each muscle tendon (T, K, 3) in [0, 1]; the tendons are ``muscle_tendons``."""
    muscle_tendons: Sequence[int] = ()
    """Tendon ids drawn as muscles (K,)."""
    per_frame: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Name -> value per frame (T,), shown for the current frame (e.g. tracking error)."""
    frame_flags: Sequence[str] = ()
    """Per frame: why it fails a quality check ('' when it does not) (T,)."""
    summary: str = ""
    """Markdown shown under the timeline (metrics, flags)."""

    @property
    def num_frames(self) -> int:
        return int(self.qpos.shape[0])


class Player:
    """A timeline over a :class:`Playback` on a viser server (one model; :meth:`show` swaps the playback)."""

    def __init__(self, server: Any, model: Any, playback: Playback) -> None:
        self.server, self.model = server, model
        self.lock = threading.RLock()
        self.frame = 0
        self.playing = False
        self._stop = threading.Event()
        gui = server.gui
        self.title = gui.add_markdown("")
        self.slider = gui.add_slider("Frame", min=0, max=1, step=1, initial_value=0)
        self.play = gui.add_button("Play / pause")
        self.speed = gui.add_slider("Speed", min=0.1, max=4.0, step=0.1, initial_value=1.0)
        self.follow = gui.add_checkbox("Camera follows the body", initial_value=True)
        self.status = gui.add_markdown("")
        self.summary = gui.add_markdown("")
        self.slider.on_update(lambda _: self.set_frame(int(self.slider.value)))
        self.play.on_click(lambda _: self.toggle())
        server.scene.add_grid("/ground", width=40.0, height=40.0, cell_size=0.5)
        self.body = Body(server, model, "/body")
        self.ghost: Body | None = None
        self._markers: list[Any] = []
        self.show(playback)
        look = self.body.d.xpos[1].copy()
        server.initial_camera.look_at = look
        server.initial_camera.position = look + np.array([1.6, -1.2, 0.3]) * max(
            1.0, float(model.stat.extent) / 2
        )
        self._thread = threading.Thread(target=self._run, name="mm-view-playback", daemon=True)
        self._thread.start()

    def show(self, playback: Playback) -> None:
        """Show ``playback`` from its first frame."""
        with self.lock:
            self.pb = playback
            self.playing = False
            for h in self._markers:
                h.remove()
            self._markers = []
            if playback.ghost_qpos is not None and self.ghost is None:
                self.ghost = Body(self.server, self.model, "/ghost", color=GHOST_RGB, opacity=GHOST_OPACITY)
            opacity = BODY_OPACITY_WITH_MUSCLES if playback.muscle_rgb is not None else None
            for h in self.body.handles.values():
                h.opacity = opacity
            if self.ghost is not None:
                self.ghost.offset = np.asarray(playback.ghost_offset, dtype=np.float64)
                for h in self.ghost.handles.values():
                    h.visible = playback.ghost_qpos is not None
            self.title.content = f"**{playback.title}**: {playback.num_frames} frames at {playback.fps:g} fps"
            self.summary.content = playback.summary
            self.frame, self.frame_was_shown = -1, False
            if int(self.slider.value) > playback.num_frames - 1:  # the new clip is shorter
                self.slider.value = 0
            self.slider.max = playback.num_frames - 1
            self.set_frame(0)

    def set_frame(self, k: int) -> None:
        """Pose everything at frame ``k`` (clamped to the clip)."""
        with self.lock:
            pb = self.pb
            k = int(np.clip(k, 0, pb.num_frames - 1))
            if k == self.frame:
                return
            self.frame = k
            with self.server.atomic():
                root = self.body.d.xpos[1].copy()
                self.body.pose(pb.qpos[k])
                if self.follow.value and self.frame_was_shown:
                    self._move_cameras(self.body.d.xpos[1] - root)
                if self.ghost is not None and pb.ghost_qpos is not None:
                    self.ghost.pose(pb.ghost_qpos[k])
                self._draw_markers(k)
            self.frame_was_shown = True
            if int(self.slider.value) != k:
                self.slider.value = k
            self.status.content = self._status(k)

    def _move_cameras(self, delta: np.ndarray) -> None:
        """Shift every browser's camera with the body, keeping each one's own view direction and distance."""
        for client in self.server.get_clients().values():
            client.camera.position = client.camera.position + delta  # viser moves look_at along

    def _draw_markers(self, k: int) -> None:
        import mujoco

        pb, scene = self.pb, self.server.scene
        for h in self._markers:
            h.remove()
        self._markers = []

        def dots(name: str, points: np.ndarray, rgb: Any, size: float) -> None:
            cloud = scene.add_point_cloud(
                name, points, colors=rgb, point_size=size, point_shape="circle", precision="float32"
            )
            self._markers.append(cloud)

        if pb.sites is not None:
            dots("/sites", pb.sites[k], SITE_RGB, 0.03)
        if pb.source is not None:
            dots("/source", pb.source[k], SOURCE_RGB, 0.04)
            if pb.sites is not None and len(pb.source_sites):
                seg = np.stack([pb.source[k], pb.sites[k][list(pb.source_sites)]], axis=1)
                self._markers.append(
                    scene.add_line_segments("/source_error", seg, colors=SOURCE_RGB, thickness=0.005)
                )
        if pb.muscle_rgb is not None and len(pb.muscle_tendons):
            d = self.body.d
            mujoco.mj_tendon(self.model, d)  # the body was just posed: its kinematics are current
            seg, owner = tendon_segments(self.model, d, list(pb.muscle_tendons))
            if len(seg):
                col = {t: c for t, c in zip(pb.muscle_tendons, pb.muscle_rgb[k], strict=True)}
                rgb = (255 * np.stack([col[t] for t in owner])).astype(np.uint8)
                self._markers.append(
                    scene.add_line_segments(
                        "/muscles", seg, colors=np.repeat(rgb[:, None], 2, axis=1), thickness=MUSCLE_WIDTH
                    )
                )

    def _status(self, k: int) -> str:
        pb = self.pb
        lines = [f"frame **{k}** / {pb.num_frames - 1}, t = {k / pb.fps:.2f} s"]
        lines += [f"{name}: {float(v[k]):.4g}" for name, v in pb.per_frame.items()]
        if pb.frame_flags and pb.frame_flags[k]:
            lines.append(f"**fails**: {pb.frame_flags[k]}")
        return "  \n".join(lines)

    def toggle(self) -> None:
        with self.lock:
            self.playing = not self.playing

    def _run(self) -> None:
        last, pos = time.perf_counter(), 0.0
        while not self._stop.wait(1.0 / DISPLAY_FPS):
            now = time.perf_counter()
            with self.lock:
                if self.playing:
                    pos = (pos if int(pos) == self.frame else float(self.frame)) + (now - last) * float(
                        self.speed.value
                    ) * self.pb.fps
                    if pos >= self.pb.num_frames:
                        pos = 0.0  # loop
                    self.set_frame(int(pos))
            last = now

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

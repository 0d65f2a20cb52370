"""`mm view` in a real browser: Debian's chromium driven by playwright against a viewer on a free local port.

Skipped (with the reason) where chromium or playwright is absent; `.ci/run` installs chromium where it can.
The page must load without console errors, the scene must hold the body, moving the timeline in the page must
pose the body at that frame (checked against MuJoCo's forward kinematics, and in the rendered picture), and the
server must stop cleanly. The README's screenshot (docs/img/mm-view.png) is made here: MM_UPDATE_SCREENSHOTS=1 writes it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("MM_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "img" / "mm-view.png"

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).is_file(),
        reason=f"no chromium at {CHROMIUM} (apt-get install chromium, or set MM_CHROMIUM)",
    ),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--enable-unsafe-swiftshader"])
        yield b
        b.close()


class Page:
    """A browser page that records console errors, page errors and requests to other hosts."""

    def __init__(self, browser, url: str) -> None:  # noqa: ANN001 (playwright Browser)
        self.page = browser.new_page(viewport={"width": 880, "height": 560})
        self.errors: list[str] = []
        self.external: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        host = url.split("/")[2] if url.startswith("http") else None
        self.page.on(
            "request",
            lambda r: (
                r.url.split("/")[2] != host and not r.url.startswith("data:") and self.external.append(r.url)
            ),
        )
        self.page.set_default_timeout(
            120_000
        )  # software WebGL on a busy 2-core machine: the first load is slow
        self.page.goto(url)

    def settle(self) -> None:
        """Wait until the page has drawn two more frames (the scene as it is now is on screen)."""
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def close(self) -> None:
        self.page.close()


def _wait(cond, timeout: float = 30.0, what: str = "condition") -> None:  # noqa: ANN001
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _fk(model, qpos: np.ndarray):  # noqa: ANN001, ANN202
    import mujoco

    d = mujoco.MjData(model)
    d.qpos[:] = qpos
    mujoco.mj_kinematics(model, d)
    return d


MOCAP = REPO / ".." / "shared" / "data" / "mocap" / "35_01.bvh"


@pytest.fixture(scope="module")
def fullbody_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CMU 35_01 (a walk) retargeted onto free-root MyoFullBody (no fingers) by `mm retarget`'s batch."""
    from mm_retarget.batch import run_batch

    if not MOCAP.is_file():
        pytest.skip(f"mocap data absent: {MOCAP}")
    out = tmp_path_factory.mktemp("cmu")
    report = run_batch([MOCAP], embodiment="myofullbody-nofingers", method="gmr-fit", out_dir=out)
    assert report["clips"][0]["status"] != "failed", report
    return Path(report["clips"][0]["output"])


def test_clip_plays_in_the_browser(browser, fullbody_clip: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from mm_core import MotionClip
    from mm_view.app import start
    from mm_view.scene import body_meshes

    clip = MotionClip.load(fullbody_clip)
    view = start(fullbody_clip, port=0)
    model, player = view.player.model, view.player
    page = Page(browser, view.url)
    try:
        _wait(lambda: len(view.server.get_clients()) == 1, what="the page to connect")
        # The scene holds the body: one mesh per body with visible geoms, skull and feet among them.
        bodies = body_meshes(model)
        assert set(player.body.handles) == set(bodies) and len(bodies) > 50
        page.page.get_by_text("frame 0 /").wait_for()
        page.settle()
        before = page.page.screenshot()
        # Move the timeline in the page: focus the frame slider's thumb, jump to the last frame.
        thumb = page.page.get_by_role("slider").first
        thumb.focus()
        thumb.press("End")
        last = clip.num_frames - 1
        _wait(lambda: player.frame == last, what="the slider to reach the server")
        page.page.get_by_text(f"frame {last} /").wait_for()
        d = _fk(model, clip.qpos[last])
        for b, h in player.body.handles.items():
            np.testing.assert_allclose(h.position, d.xpos[b], atol=1e-6)
            np.testing.assert_allclose(np.abs(np.dot(h.wxyz, d.xquat[b])), 1.0, atol=1e-6)
        assert np.linalg.norm(d.xpos[1] - _fk(model, clip.qpos[0]).xpos[1]) > 0.2  # the root did move
        # The fitted source skeleton of the retargeted clip, at this frame.
        source = np.asarray(clip.metadata["source_positions"])[last]
        markers = {h.name: h for h in player._markers}
        np.testing.assert_allclose(markers["/source"].points, source, atol=1e-5)
        page.page.get_by_text("site_rmse_m").wait_for()  # the quality metrics are in the page
        # Viser's "software WebGL" notice is about this test machine, not for the README.
        page.page.add_style_tag(content=".mantine-Notifications-root { display: none; }")
        page.settle()
        after = page.page.screenshot(
            path=str(SCREENSHOT if os.environ.get("MM_UPDATE_SCREENSHOTS") else tmp_path / "view.png")
        )
        assert before != after, "the rendered picture did not change with the frame"
        assert not page.errors, f"console errors: {page.errors}"
        assert not page.external, f"requests to other hosts: {page.external}"
    finally:
        page.close()
        t0 = time.time()
        view.stop()
        assert time.time() - t0 < 10
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(view.url, timeout=2)


@pytest.fixture(scope="module")
def retarget_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mm-retarget's demo motions (generated from gait curves) retargeted onto `tiny`: a real `mm retarget` dir."""
    from mm_retarget.batch import run_batch
    from mm_retarget.demo import MOTIONS, demo_motion_path

    out = tmp_path_factory.mktemp("retarget") / "tiny"
    run_batch([Path(demo_motion_path(n)) for n in MOTIONS], embodiment="tiny", method="gmr-fit", out_dir=out)
    return out


def test_retarget_directory_lists_clips_best_first_and_loads_on_click(browser, retarget_dir: Path) -> None:  # noqa: ANN001
    from mm_view.app import start

    out = retarget_dir
    report = json.loads((out / "report.json").read_text())
    rmse = {Path(r["output"]).stem: r["metrics"]["site_rmse_m"] for r in report["clips"]}
    best, worst = sorted(rmse, key=rmse.get)
    view = start(out, port=0)
    page = Page(browser, view.url)
    try:
        assert view.player.pb.title == best  # the best clip is shown first
        buttons = page.page.get_by_role("button").filter(has_text="rmse")
        buttons.first.wait_for()
        labels = buttons.all_inner_texts()
        assert [s.split(" (")[0] for s in labels] == [best, worst]
        buttons.nth(1).focus()
        buttons.nth(1).press("Enter")
        _wait(lambda: view.player.pb.title == worst, what="the clicked clip to load")
        page.page.get_by_text(f"{worst}:").first.wait_for()
        assert not page.errors, f"console errors: {page.errors}"
    finally:
        page.close()
        view.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mm_view_command_serves_only_the_viewer_and_stops_cleanly(retarget_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mm_core.cli",
            "view",
            str(retarget_dir),
            "--port",
            str(port),
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        end = time.time() + 120
        while not line.startswith("mm view:") and time.time() < end and proc.poll() is None:
            line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line, (line, proc.poll())
        url = f"http://127.0.0.1:{port}"
        assert b"<html" in urllib.request.urlopen(url, timeout=10).read().lower()
        # Nothing else is served: not the clip, not files next to the viewer's client, no traversal.
        clip = next(retarget_dir.glob("*.npz"))
        for path in (f"/{clip}", f"/{clip.name}", "/../../pyproject.toml", "/%2e%2e/%2e%2e/pyproject.toml"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(url + path, timeout=10)
            assert e.value.code == 404, path
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (barely trained) run: `mm train` on the CPU demo for one PPO update."""
    pytest.importorskip("mm_rl", reason="viewing a policy needs mm-rl")
    run = tmp_path_factory.mktemp("run") / "tiny"
    cmd = [
        sys.executable,
        "-m",
        "mm_core.cli",
        "train",
        "--updates",
        "1",
        "--seed",
        "0",
        "-o",
        str(run),
        "--json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return run


def test_policy_rollout_beside_its_ghost_with_coloured_muscles(browser, tiny_run: Path) -> None:  # noqa: ANN001
    import mujoco

    from mm_core import MotionClip
    from mm_rl.render import GHOST_OFFSET, activation_rgba
    from mm_view.app import start

    view = start(tiny_run, port=0)
    player, model = view.player, view.player.model
    pb = player.pb
    page = Page(browser, view.url)
    try:
        page.page.get_by_text("frame 0 /").wait_for()
        thumb = page.page.get_by_role("slider").first
        thumb.focus()
        thumb.press("End")
        k = pb.num_frames - 1
        _wait(lambda: player.frame == k, what="the slider to reach the server")
        page.page.get_by_text("site error (m)").wait_for()
        assert not page.errors, f"console errors: {page.errors}"
    finally:
        page.close()
        view.stop()
    # The body is the rollout's pose, the ghost the reference frame it was scored on, moved sideways.
    d = _fk(model, pb.qpos[k])
    for b, h in player.body.handles.items():
        np.testing.assert_allclose(h.position, d.xpos[b], atol=1e-6)
    g = _fk(model, pb.ghost_qpos[k])
    for b, h in player.ghost.handles.items():
        np.testing.assert_allclose(h.position, g.xpos[b] + GHOST_OFFSET, atol=1e-6)
    # The per-frame error is the env's for the state shown: the tracked sites against the reference frame
    # (moved by the reset's root offset, which the ghost carries), recomputed here by forward kinematics.
    clip = MotionClip.load(next((tiny_run / "motions").glob("*.npz")))
    frames = pb.per_frame["reference frame"].astype(int)
    offset = clip.qpos[frames[0], :3] - pb.ghost_qpos[0, :3]
    sid = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, s) for s in clip.site_names]
    err = pb.per_frame["site error (m)"]
    for j in (1, k):
        # The state shown at j is the one after step j - 1, scored against the reference frame of step j.
        ref = clip.site_pos[frames[j]] - offset
        got = np.linalg.norm(_fk(model, pb.qpos[j]).site_xpos[sid] - ref, axis=1).mean()
        assert err[j] == pytest.approx(got, rel=1e-3, abs=1e-5), j
    # Muscles: one colour per muscle tendon, mm render's activation colouring of the activations shown.
    assert pb.muscle_rgb is not None and len(pb.muscle_tendons) == 16
    assert np.all((pb.muscle_rgb >= 0) & (pb.muscle_rgb <= 1))
    np.testing.assert_allclose(pb.muscle_rgb[0], activation_rgba(np.zeros(16))[:, :3])  # start: all relaxed
    assert not np.allclose(pb.muscle_rgb[k], pb.muscle_rgb[0])  # the policy activated some
    assert [h for h in player._markers if h.name == "/muscles"], "no muscle paths in the scene"

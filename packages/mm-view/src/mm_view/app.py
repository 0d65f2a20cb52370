"""Serving: a viser server showing one clip, one retarget directory or one policy rollout.

The HTTP side serves only viser's bundled web client (it rejects ``..`` in paths); motion data goes over the
websocket, and only what was named on the command line (a retarget directory's clips are the ones its report lists
inside it). Loading never executes code: clips are ``.npz`` read with ``allow_pickle=False``, checkpoints are
safetensors + JSON.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mm_view.clips import ViewError, clip_playback, load_clip, retarget_entries

LOOPBACK = ("localhost",)


@dataclass
class View:
    """A running viewer: the server, its player and the URL to open."""

    server: Any
    player: Any
    url: str
    what: str

    def stop(self) -> None:
        self.player.close()
        self.server.stop()


def kind_of(target: Path) -> str:
    """``clip``, ``retarget`` or ``run`` for a path; :class:`ViewError` saying what is accepted otherwise."""
    if not target.exists():
        raise ViewError(f"{target}: no such file or directory")
    if target.is_file() and target.suffix == ".npz":
        return "clip"
    if target.is_dir() and (target / "report.json").is_file():
        return "retarget"
    if (target.is_dir() and ((target / "checkpoints").is_dir() or any(target.glob("step_*.json")))) or (
        target.is_file() and target.suffix in (".json", ".safetensors")
    ):
        return "run"
    raise ViewError(
        f"{target}: not something mm view shows; give a clip (.npz), an `mm retarget` output directory "
        "(with report.json) or a training run / checkpoint"
    )


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start(
    target: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    motions: list[str] | None = None,
    device: str = "cpu",
) -> View:
    """Load ``target`` and serve it; returns once the server listens (``port`` 0: any free port)."""
    import viser

    from mm_view.viewer import Player

    kind = kind_of(target)
    if kind == "clip":
        clip, model = load_clip(target)
        playback, extra = clip_playback(clip, model), None
    elif kind == "retarget":
        entries = retarget_entries(target)
        clip, model = load_clip(entries[0]["path"])
        playback, extra = clip_playback(clip, model), entries
    else:
        from mm_view.policy import policy_playback

        model, playback = policy_playback(target, motions, device)
        extra = None
    server = viser.ViserServer(host=host, port=port, label="mm view", verbose=False)
    # viser's share button asks its public relay for a tunnel to this server: never from mm view, whoever asks.
    server.gui.configure_theme(show_share_button=False)
    server.request_share_url = lambda *_, **__: None
    try:
        player = Player(server, model, playback)
        if extra is not None:
            _clip_browser(server, player, model, extra)
    except Exception:
        server.stop()
        raise
    shown = "localhost" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
    return View(
        server=server, player=player, url=f"http://{shown}:{server.get_port()}", what=f"{kind} {target}"
    )


def _clip_browser(server: Any, player: Any, model: Any, entries: list[dict[str, Any]]) -> None:
    """A list of the directory's clips, best first, flagged ones marked; clicking one loads it."""
    folder = server.gui.add_folder("Clips (best first)")
    for e in entries:
        mark = "flagged: " if e["status"] != "ok" else ""
        label = f"{mark}{e['name']} (rmse {e['site_rmse_m'] * 100:.1f} cm)"
        with folder:
            button = server.gui.add_button(
                label, color="red" if e["status"] != "ok" else None, hint="; ".join(e["flags"]) or None
            )

        def load(event: Any, path: Path = e["path"]) -> None:
            try:
                clip, m = load_clip(path)
                if m.nq != model.nq or m.nbody != model.nbody:
                    raise ViewError(f"{path}: another embodiment than the first clip's; view it on its own")
            except ViewError as err:  # the file changed since the viewer started: say so in the page
                if event.client is not None:
                    event.client.add_notification("cannot show this clip", str(err), color="red")
                return
            player.show(clip_playback(clip, model))

        button.on_click(load)


def can_open_browser() -> bool:
    """True where a graphical browser can open (a desktop session); never on a headless server."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )

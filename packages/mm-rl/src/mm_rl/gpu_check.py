"""GPU first light: every GPU check in one command, its figures in one folder.

    python -m mm_rl.gpu_check --out DIR              # on the GPU machine: ~8 minutes in all
    python -m mm_rl.gpu_check --out DIR --dry-run    # tiny sizes on the CPU (Warp's CPU device): ~75 s of CPU
    python -m mm_rl.gpu_check --prepare-motion       # on the CPU machine: retarget the CMU walk to bring along

Checks, in order (``--only`` picks some):

- ``parity``: MuJoCo Warp (CUDA when there is one) vs C MuJoCo on every registered embodiment (conformance kit);
- ``gpu_tests``: ``pytest -m gpu`` over the test files that carry the ``gpu`` marker (CUDA-graph replay included);
- ``sim_bench``: ``mm sim bench`` (task vs raw mujoco_warp steps/s, contact-overflow steps, GPU memory) per size;
- ``train_throughput``: ``python -m mm_rl.bench`` with the embodiment's preset, with Muon and with Adam only;
- ``train``: ``mm train`` on the retargeted walk for what is left of the budget: reward, episode length and
  early-termination curves.

Each check runs in subprocesses with its own time budget (the total ``--budget-s`` is shared out by weight, and
what a check leaves unused goes to the ones after it); a check that fails or runs out of time is recorded with
its error and the others still run. ``DIR/summary.json`` is rewritten after every step, so a killed run still
leaves what finished; ``DIR`` also gets one log per check (6 files in all: the device tool brings back 8). Run
directories and other bulky files go to ``--work`` (default: a temporary folder), never to ``DIR``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Where ``--prepare-motion`` writes the retargeted walk, relative to the repository root (``/runs/`` is
#: git-ignored; name this folder in the device tool's ``carry``).
MOTION_DIR = Path("runs/gpu-check-motion")
MOTION_SOURCE = Path("../shared/data/mocap/35_01.bvh")
MOTION_EMBODIMENT = "myofullbody-nofingers"
ITEM = "GPU_CHECK_ITEM "  # prefix of the JSON lines a worker prints, one per finished item
GIB = 2**30


@dataclass(frozen=True, kw_only=True)
class Sizes:
    """What each check runs: the GPU sizes, or tiny ones for ``--dry-run``."""

    parity_embodiments: tuple[str, ...] | None
    """Embodiments for the parity check; None = every registered one."""
    bench_embodiment: str
    bench_worlds: tuple[int, ...]
    bench_steps: int
    throughput_embodiment: str
    throughput_worlds: int
    throughput_updates: int
    train_embodiment: str
    train_worlds: int | None
    """None = the preset's (8192 for the full body)."""
    train_updates: int | None
    """None = train for the minutes the budget leaves (less ``train_setup_s``)."""
    train_setup_s: float
    """Time kept back from the train budget for start-up, the first update and the last checkpoint."""
    overrides: tuple[str, ...]
    """``--set`` overrides for the throughput and train runs."""
    budget_s: float


FULL = Sizes(
    parity_embodiments=None,
    bench_embodiment="myofullbody-nofingers",
    bench_worlds=(1024, 4096, 8192),
    bench_steps=60,
    throughput_embodiment="myofullbody-nofingers",
    throughput_worlds=8192,
    throughput_updates=2,
    train_embodiment=MOTION_EMBODIMENT,
    train_worlds=None,
    train_updates=None,
    train_setup_s=60.0,
    overrides=(),
    budget_s=480.0,
)
_SMALL = (
    "policy.actor_width=32",
    "policy.actor_depth=1",
    "policy.critic_width=32",
    "policy.critic_depth=1",
    "ppo.num_steps=4",
    "ppo.num_minibatches=2",
    "task.horizon=3",  # episodes end within the dry run, so the episode curves have values
)
DRY = Sizes(
    parity_embodiments=("tiny",),
    bench_embodiment="tiny",
    bench_worlds=(4,),
    bench_steps=3,
    throughput_embodiment="tiny",
    throughput_worlds=4,
    throughput_updates=1,
    train_embodiment=MOTION_EMBODIMENT,
    train_worlds=2,
    train_updates=2,
    train_setup_s=0.0,
    overrides=_SMALL,
    budget_s=900.0,  # a ceiling for slow CI machines: the dry run takes ~1-2 minutes
)
#: Share of the total budget per check (what one leaves unused goes to the next ones).
#: parity goes first and weighs more than its work: on a fresh GPU machine it pays Warp's kernel compilation
#: (tens of seconds per model), which the later checks then load from Warp's kernel cache.
WEIGHTS = {"parity": 90, "gpu_tests": 80, "sim_bench": 90, "train_throughput": 90, "train": 130}


class CheckFailed(Exception):
    """A check ran but its result is wrong or missing; the message says what."""


@dataclass
class Context:
    work: Path
    repo: Path
    sizes: Sizes
    motion: Path | None
    log: Path
    deadline: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def python(self, args: list[str]) -> tuple[int | None, str]:
        """Run ``python ARGS`` (output appended to this check's log) within what is left of the check's budget;
        returns (exit code, or None when it ran out of time; its output)."""
        return run_logged([sys.executable, *args], self.log, self.remaining(), self.repo)

    def worker(self, name: str, **kwargs: Any) -> tuple[int | None, list[dict]]:
        """Run worker ``name`` in a subprocess; returns its exit code and the items it printed."""
        rc, text = self.python(["-m", "mm_rl.gpu_check", "_worker", name, json.dumps(kwargs)])
        return rc, _items(text)


def run_logged(cmd: list[str], log: Path, timeout: float, cwd: Path) -> tuple[int | None, str]:
    """Run ``cmd`` with its output appended to ``log``; past ``timeout`` s its whole process group is ended."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # a killed process's log keeps all it printed
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}   # time limit {max(timeout, 0):.0f} s\n")
        f.flush()
        start = f.tell()
        if timeout <= 0:
            f.write("(not started: no time left in this check's budget)\n")
            return None, ""
        # Its own process group (to end it with its children), in our session (so whoever ends the session ends it).
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, env=env, process_group=0)
        try:
            rc: int | None = p.wait(timeout)
        except subprocess.TimeoutExpired:
            _end_group(p)
            rc = None
        except BaseException:  # SIGTERM or Ctrl-C of the whole run: take the running check down with it
            _end_group(p)
            raise
    with open(log) as f:
        f.seek(start)
        text = f.read()
    with open(log, "a") as f:
        f.write(
            f"# exit code {rc}\n" if rc is not None else f"# ended after its {timeout:.0f} s time limit\n"
        )
    return rc, text


def _end_group(p: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _items(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[len(ITEM) :]) for line in text.splitlines() if line.startswith(ITEM)]


def _tail(text: str, n: int = 1500) -> str:
    return text[-n:].strip()


# --- the checks (run in this process; the heavy work is in subprocesses) ---


def check_gpu_tests(ctx: Context) -> dict[str, Any]:
    files = sorted(
        str(p.relative_to(ctx.repo))
        for pattern in ("packages/*/tests/test_*.py", "plugins/*/tests/test_*.py", "tests/test_*.py")
        for p in ctx.repo.glob(pattern)
        if "mark.gpu" in p.read_text()
    )
    if not files:
        raise CheckFailed(f"no test file under {ctx.repo} uses the gpu marker: run from the repository root")
    xml = ctx.work / "gpu_tests.xml"
    xml.unlink(missing_ok=True)  # never read an earlier run's report
    rc, text = ctx.python(
        ["-m", "pytest", "-m", "gpu", "-q", "-rA", "-p", "no:cacheprovider", f"--junitxml={xml}", *files]
    )
    if rc is None:
        raise TimeoutError("pytest ran out of its time budget (see the log)")
    if not xml.is_file():
        raise CheckFailed(f"pytest wrote no report (exit code {rc}): {_tail(text, 600)}")
    tests = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or "")[:300]
        tests.append(
            {"test": f"{case.get('classname')}::{case.get('name')}", "outcome": outcome, "message": message}
        )
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "error", "skipped")}
    result = {"files": files, "counts": counts, "tests": tests, "exit_code": rc}
    if not tests:
        raise CheckFailed(f"pytest -m gpu selected no test in {files} (exit code {rc})")
    if counts["failed"] or counts["error"]:
        bad = [t["test"] for t in tests if t["outcome"] in ("failed", "error")]
        raise CheckFailed(f"{len(bad)} GPU test(s) failed: {bad}", result)
    return result


def check_parity(ctx: Context) -> dict[str, Any]:
    rc, items = ctx.worker("parity", names=ctx.sizes.parity_embodiments)
    result = {"embodiments": {i["embodiment"]: i for i in items}, "exit_code": rc}
    bad = [i["embodiment"] for i in items if not i["ok"]]
    if rc != 0 or not items:
        raise CheckFailed(f"parity worker ended with exit code {rc} after {len(items)} embodiment(s)", result)
    if bad:
        raise CheckFailed(f"MuJoCo Warp differs from C MuJoCo on {bad}", result)
    return result


def check_sim_bench(ctx: Context) -> dict[str, Any]:
    s = ctx.sizes
    # One process for all sizes (imports and kernel loading once), smallest first: each size's item is printed
    # as soon as it is done, so a crash or the time limit at 8192 worlds keeps the smaller ones.
    rc, items = ctx.worker(
        "sim_bench", embodiment=s.bench_embodiment, worlds=s.bench_worlds, steps=s.bench_steps
    )
    done = {i["worlds"]: i for i in items}
    runs = [done.get(w, {"worlds": w, "ok": False, "error": _exit(rc)}) for w in s.bench_worlds]
    result = {"runs": runs}
    if not all(r.get("ok") for r in runs):
        raise CheckFailed(
            f"sim bench failed at worlds {[r['worlds'] for r in runs if not r.get('ok')]}", result
        )
    return result


def check_train_throughput(ctx: Context) -> dict[str, Any]:
    s = ctx.sizes
    optimisers = {"muon": True, "adam": False}
    rc, items = ctx.worker(
        "throughput",
        embodiment=s.throughput_embodiment,
        num_worlds=s.throughput_worlds,
        updates=s.throughput_updates,
        runs={label: [*s.overrides, f"ppo.muon={str(muon).lower()}"] for label, muon in optimisers.items()},
    )
    done = {i["label"]: i for i in items}
    runs = {k: done.get(k, {"label": k, "ok": False, "error": _exit(rc)}) for k in optimisers}
    result = {"runs": runs}
    if not all(r.get("ok") for r in runs.values()):
        raise CheckFailed(f"throughput failed with {[k for k, r in runs.items() if not r.get('ok')]}", result)
    return result


def check_train(ctx: Context) -> dict[str, Any]:
    from mm_core.contracts import MotionClip

    s = ctx.sizes
    motion = ctx.motion or find_motion(ctx.repo, ctx.work, ctx.log)
    clip = MotionClip.load(motion)  # a broken file fails here at once, not after the trainer's start-up
    if clip.embodiment != s.train_embodiment:
        raise CheckFailed(f"{motion} is a motion of {clip.embodiment!r}, not of {s.train_embodiment!r}")
    run_dir = ctx.work / "train"
    shutil.rmtree(run_dir, ignore_errors=True)  # mm train would resume an earlier run found there
    args = ["-m", "mm_core.cli", "train", "-e", s.train_embodiment, "-m", str(motion), "--backend", "warp"]
    args += ["--run-dir", str(run_dir), "--json"]
    if s.train_worlds:
        args += ["--num-worlds", str(s.train_worlds)]
    if s.train_updates:
        args += ["--updates", str(s.train_updates)]
    else:
        minutes = (ctx.remaining() - s.train_setup_s) / 60
        if minutes < 0.5:
            raise CheckFailed(f"only {ctx.remaining():.0f} s left for training: give a larger --budget-s")
        args += ["--minutes", f"{minutes:.2f}"]
    for o in s.overrides:
        args += ["--set", o]
    rc, text = ctx.python(args)
    rows = _read_metrics(run_dir / "metrics.csv")
    result = {
        "motion": str(motion),
        "motion_frames": len(clip.qpos),
        "exit_code": rc,
        **summarise_training(rows),
    }
    if not rows:
        raise CheckFailed(f"mm train logged no update ({_exit(rc)}): {_tail(text, 800)}", result)
    if rc not in (0, None):  # None: stopped at the time budget, which still leaves the curves
        raise CheckFailed(f"mm train ended with exit code {rc}: {_tail(text, 800)}", result)
    return result


def _exit(rc: int | None) -> str:
    return "ran out of its time budget" if rc is None else f"worker exited with code {rc} (see the log)"


CHECKS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "parity": check_parity,
    "gpu_tests": check_gpu_tests,
    "sim_bench": check_sim_bench,
    "train_throughput": check_train_throughput,
    "train": check_train,
}


def _read_metrics(path: Path) -> list[dict[str, float | None]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: _num(v) for k, v in r.items()} for r in csv.DictReader(f)]


def _num(v: str | None) -> float | None:
    """A metrics.csv cell as a number; None for empty or NaN cells (summary.json stays strict JSON)."""
    try:
        x = float(v) if v not in (None, "") else math.nan
    except ValueError:
        return None
    return None if math.isnan(x) else x


def summarise_training(rows: list[dict[str, float | None]], points: int = 40) -> dict[str, Any]:
    """The curves of a metrics.csv (at most ``points`` rows, evenly spread, the last one always in)."""
    keys = ("update", "samples", "elapsed_s", "reward", "episode_length", "early_termination_rate")
    keys += ("samples_per_s", "frac_env", "frac_act", "frac_learn")
    pick = sorted({round(i * (len(rows) - 1) / max(points - 1, 1)) for i in range(points)}) if rows else []
    curve = [{k: rows[i].get(k) for k in keys} for i in pick]
    return {
        "updates": len(rows),
        "samples": rows[-1].get("samples") if rows else 0,
        "first": curve[0] if curve else None,
        "last": curve[-1] if curve else None,
        "curve": curve,
    }


def find_motion(repo: Path, work: Path, log: Path) -> Path:
    """The walk brought along by ``--prepare-motion``; where the BVH is at hand (the CPU machine), retarget it."""
    prepared = repo / MOTION_DIR / f"{MOTION_SOURCE.stem}.npz"
    if prepared.is_file():
        return prepared
    if (repo / MOTION_SOURCE).is_file():
        return retarget_walk(repo, work / "motion", log)
    raise CheckFailed(
        f"no retargeted walk at {prepared} and no {MOTION_SOURCE} to make one: run "
        f"`python -m mm_rl.gpu_check --prepare-motion` on the CPU machine and carry {MOTION_DIR}"
    )


def retarget_walk(repo: Path, out_dir: Path, log: Path) -> Path:
    src = (repo / MOTION_SOURCE).resolve()
    cmd = [sys.executable, "-m", "mm_core.cli", "retarget", str(src), "-e", MOTION_EMBODIMENT]
    rc, text = run_logged([*cmd, "-o", str(out_dir), "--json"], log, 600, repo)
    path = out_dir / f"{MOTION_SOURCE.stem}.npz"
    if rc != 0 or not path.is_file():
        raise CheckFailed(
            f"retargeting {src} onto {MOTION_EMBODIMENT} failed ({_exit(rc)}): {_tail(text, 800)}"
        )
    return path


# --- the orchestrator ---


def run_checks(
    out: Path,
    *,
    dry_run: bool = False,
    only: list[str] | None = None,
    budget_s: float | None = None,
    budgets: dict[str, float] | None = None,
    work: Path | None = None,
    motion: Path | None = None,
    repo: Path | None = None,
) -> dict[str, Any]:
    """Run the checks, writing ``out/summary.json`` after each step; returns the summary."""
    sizes = DRY if dry_run else FULL
    names = only or list(CHECKS)
    repo = _check_arguments(names, budgets or {}, repo, motion)
    out.mkdir(parents=True, exist_ok=True)
    work = work or Path(tempfile.mkdtemp(prefix="mm-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    total = budget_s or sizes.budget_s
    started = time.monotonic()
    summary: dict[str, Any] = {
        "schema": 1,
        "dry_run": dry_run,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "finished": None,
        "budget_s": total,
        "sizes": dataclasses.asdict(sizes),
        "work": str(work),
        "environment": None,
        "checks": {n: {"status": "pending"} for n in names},
    }
    write_summary(out, summary)
    summary["environment"] = _environment(repo, work)
    write_summary(out, summary)
    for i, name in enumerate(names):
        left = total - (time.monotonic() - started)
        fixed = (budgets or {}).get(name)
        budget = fixed if fixed is not None else left * WEIGHTS[name] / sum(WEIGHTS[n] for n in names[i:])
        log = out / f"{i + 1}-{name}.log"
        log.write_text(f"# {name}: budget {budget:.0f} s\n")
        entry: dict[str, Any] = {"status": "running", "budget_s": round(budget, 1), "log": log.name}
        summary["checks"][name] = entry
        write_summary(out, summary)
        _run_check(name, Context(work, repo, sizes, motion, log, time.monotonic() + budget), entry)
        write_summary(out, summary)
    summary["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    summary["seconds"] = round(time.monotonic() - started, 1)
    write_summary(out, summary)
    return summary


def _check_arguments(
    names: list[str], budgets: dict[str, float], repo: Path | None, motion: Path | None
) -> Path:
    """Raise ValueError naming what is wrong with the check names, budgets, repository or motion; the repo root."""
    if unknown := [n for n in names if n not in CHECKS]:
        raise ValueError(f"unknown check(s) {unknown}; valid: {list(CHECKS)}")
    if unknown := [n for n in budgets if n not in CHECKS]:
        raise ValueError(f"--budget names unknown check(s) {unknown}; valid: {list(CHECKS)}")
    repo = (repo or Path.cwd()).resolve()
    if not (repo / "packages").is_dir():
        raise ValueError(f"{repo} is not the mm repository root (no packages/ folder): run from the root")
    if motion is not None and not motion.is_file():
        raise ValueError(f"--motion {motion}: no such file (a MotionClip .npz, e.g. from --prepare-motion)")
    return repo


def _run_check(name: str, ctx: Context, entry: dict[str, Any]) -> None:
    """Run check ``name``, recording in ``entry`` its status (ok / failed / timeout), result, error and seconds."""
    t0 = time.monotonic()
    try:
        entry["result"] = CHECKS[name](ctx)
        entry["status"] = "ok"
    except Exception as e:  # noqa: BLE001 - every failure is recorded and the next check runs
        entry["status"] = "timeout" if isinstance(e, TimeoutError) or ctx.remaining() <= 0 else "failed"
        entry["error"] = f"{type(e).__name__}: {e.args[0] if e.args else e}"
        if len(e.args) > 1 and isinstance(e.args[1], dict):
            entry["result"] = e.args[1]
    entry["seconds"] = round(time.monotonic() - t0, 1)


def _environment(repo: Path, work: Path) -> dict[str, Any]:
    log = work / "environment.log"
    log.write_text("")
    rc, text = run_logged(
        [sys.executable, "-m", "mm_rl.gpu_check", "_worker", "environment", "{}"], log, 120, repo
    )
    items = _items(text)
    return items[-1] if items else {"error": f"{_exit(rc)}: {_tail(text, 800)}"}


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1, default=str))
    os.replace(tmp, out / "summary.json")


def report(summary: dict[str, Any]) -> str:
    """A few lines per check with the figures (what the device tool's output tail shows)."""
    env = summary.get("environment") or {}
    lines = [f"gpu_check ({'dry run' if summary['dry_run'] else 'full'}) on {env.get('device_name', '?')}"]
    for name, c in summary["checks"].items():
        lines.append(
            f"{name}: {c['status']} in {c.get('seconds', '-')} s (budget {c.get('budget_s', '-')} s)"
        )
        if c.get("error"):
            lines.append(f"  error: {c['error'][:400]}")
        r = c.get("result") or {}
        if name == "gpu_tests" and "counts" in r:
            lines.append(f"  {r['counts']}")
        for e in (r.get("embodiments") or {}).values():
            lines.append(f"  {e['embodiment']}: {e.get('detail') or e.get('error')}")
        for run in r.get("runs", []) if isinstance(r.get("runs"), list) else []:
            lines.append(
                f"  {run.get('worlds')} worlds: task {run.get('task_steps_per_s')} / physics "
                f"{run.get('physics_steps_per_s')} steps/s (ratio {run.get('ratio')}), overflow steps "
                f"{run.get('overflow_steps')}, GPU peak {(run.get('gpu_memory') or {}).get('device_peak_gib')} GiB"
                + (f"  error: {run['error'][:300]}" if run.get("error") else "")
            )
        if isinstance(r.get("runs"), dict):
            for label, run in r["runs"].items():
                frac = {k: round(v, 3) for k, v in (run.get("fraction") or {}).items()}
                lines.append(
                    f"  {label}: {run.get('samples_per_s', 0):.0f} samples/s {frac}"
                    + (f"  error: {run['error'][:300]}" if run.get("error") else "")
                )
        if name == "train" and r.get("last"):
            f, la = r["first"], r["last"]
            lines.append(f"  {r['updates']} updates, {_fmt(r['samples'])} samples; first -> last update:")
            for k in ("reward", "episode_length", "early_termination_rate", "samples_per_s"):
                lines.append(f"    {k}: {_fmt(f[k])} -> {_fmt(la[k])}")
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


# --- workers (run in subprocesses: heavy imports, CUDA) ---


def _emit(item: dict[str, Any]) -> None:
    print(ITEM + json.dumps(item, default=str), flush=True)


class GpuMemory:
    """Peak device memory in use (all allocators: torch, Warp, CUDA graphs), sampled every 0.2 s; plus the
    torch and Warp allocators' own peaks. Empty on the CPU."""

    def __enter__(self) -> GpuMemory:
        import threading

        import torch

        self.cuda = torch.cuda.is_available()
        self.peak = self.total = 0
        self._stop = threading.Event()
        if self.cuda:
            self._sample()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        import torch

        free, self.total = torch.cuda.mem_get_info()
        self.peak = max(self.peak, self.total - free)

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self.cuda:
            self._thread.join()
            self._sample()

    def figures(self) -> dict[str, float] | None:
        if not self.cuda:
            return None
        import torch
        import warp as wp

        out = {
            "device_peak_gib": self.peak / GIB,
            "device_total_gib": self.total / GIB,
            "torch_peak_reserved_gib": torch.cuda.max_memory_reserved() / GIB,
        }
        if wp.is_mempool_enabled("cuda:0"):
            out["warp_peak_gib"] = wp.get_mempool_used_mem_high("cuda:0") / GIB
        return {k: round(v, 3) for k, v in out.items()}


def worker_environment() -> None:
    import platform

    import mujoco
    import mujoco_warp
    import torch
    import warp as wp

    wp.config.quiet = True
    wp.init()
    cuda = torch.cuda.is_available()
    cache = Path(wp.config.kernel_cache_dir or "")
    _emit(
        {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cuda_available": cuda,
            "device_name": torch.cuda.get_device_name(0)
            if cuda
            else f"CPU ({platform.processor() or 'cpu'})",
            "device_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / GIB, 1)
            if cuda
            else None,
            "warp": wp.__version__,
            "warp_cuda": wp.is_cuda_available(),
            "mujoco": mujoco.__version__,
            "mujoco_warp": getattr(mujoco_warp, "__version__", "?"),
            "warp_kernel_cache": str(cache),
            "warp_cached_modules": len(list(cache.iterdir())) if cache.is_dir() else 0,
            "cpu_count": os.cpu_count(),
        }
    )


def worker_parity(names: list[str] | None) -> None:
    import warp as wp

    from mm_core import testing
    from mm_core.registry import embodiments, get_embodiment

    device = "cuda" if wp.is_cuda_available() else "cpu"
    # The full body first: the later checks run it, and its kernels are then compiled and cached.
    for name in names or sorted(embodiments.names(), key=lambda n: n != MOTION_EMBODIMENT):
        t0 = time.perf_counter()
        item: dict[str, Any] = {"embodiment": name, "warp_device": device}
        try:
            item["detail"] = testing.check_warp_agrees(get_embodiment(name))
            item["ok"] = True
            m = re.search(r"max \|dqpos\| = ([0-9.eE+-]+)", item["detail"])
            item["max_dqpos"] = float(m.group(1)) if m else None
        except Exception as e:  # noqa: BLE001 - one embodiment's failure is its item, the next one runs
            item.update(ok=False, error=f"{type(e).__name__}: {e}")
        item["seconds"] = round(time.perf_counter() - t0, 2)
        _emit(item)


def worker_sim_bench(embodiment: str, worlds: list[int], steps: int) -> None:
    from mm_sim.bench import run_bench

    for n in worlds:
        item: dict[str, Any] = {"worlds": n, "ok": False}
        try:
            # Eager task maths: what training runs (mm-sim's TaskConfig.compile is off in training).
            with GpuMemory() as mem:
                item.update(run_bench(embodiment, "warp", n, steps, compile=False, torch_threads=None))
            item.update(ok=True, gpu_memory=mem.figures())
        except Exception as e:  # noqa: BLE001 - reported as this size's error; the next size runs
            item["error"] = f"{type(e).__name__}: {e}"
        _emit(item)
        _free_gpu()


def worker_throughput(embodiment: str, num_worlds: int, updates: int, runs: dict[str, list[str]]) -> None:
    from mm_rl.bench import bench

    for label, overrides in runs.items():
        item: dict[str, Any] = {"label": label, "ok": False, "overrides": overrides}
        try:
            with GpuMemory() as mem:
                item.update(bench(embodiment, num_worlds, updates, backend="warp", overrides=overrides))
            item.update(ok=True, gpu_memory=mem.figures())
        except Exception as e:  # noqa: BLE001 - reported as this run's error; the next one runs
            item["error"] = f"{type(e).__name__}: {e}"
        _emit(item)
        _free_gpu()


def _free_gpu() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


WORKERS: dict[str, Callable[..., None]] = {
    "environment": worker_environment,
    "parity": worker_parity,
    "sim_bench": worker_sim_bench,
    "throughput": worker_throughput,
}


# --- command line ---


def _budget_item(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--budget {text!r}: expected CHECK=SECONDS, e.g. train=200"
        ) from None


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        WORKERS[argv[1]](**json.loads(argv[2]))
        sys.stdout.flush()
        os._exit(0)  # skip the interpreter's teardown (seconds with torch and Warp loaded): the items are out
    p = argparse.ArgumentParser(
        prog="python -m mm_rl.gpu_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, help="Folder for summary.json and the logs (on the device: $OUT).")
    p.add_argument(
        "--dry-run", action="store_true", help="Tiny sizes that run on the CPU (~75 s of CPU time)."
    )
    p.add_argument(
        "--only", help=f"Comma-separated checks to run, in order (default: all of {list(CHECKS)})."
    )
    p.add_argument("--budget-s", type=float, help="Total time budget in seconds (default 480; dry run 900).")
    p.add_argument(
        "--budget", type=_budget_item, action="append", default=[], help="One check's budget: CHECK=SECONDS."
    )
    p.add_argument("--work", type=Path, help="Folder for run dirs and reports (default: a temporary one).")
    p.add_argument(
        "--motion", type=Path, help=f"Motion for the train check (default: {MOTION_DIR}/35_01.npz)."
    )
    p.add_argument(
        "--prepare-motion", action="store_true", help=f"Retarget {MOTION_SOURCE} into {MOTION_DIR} and exit."
    )
    a = p.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if a.prepare_motion:
        repo = Path.cwd()
        if not (repo / MOTION_SOURCE).is_file():
            p.error(f"no {MOTION_SOURCE} here: run from the repository root on the CPU machine")
        try:
            path = retarget_walk(repo, repo / MOTION_DIR, Path(tempfile.mkdtemp()) / "retarget.log")
        except CheckFailed as e:
            p.error(str(e))
        print(f"{path} ({path.stat().st_size / 1024:.0f} KiB): name {MOTION_DIR} in the device tool's carry")
        return 0
    if a.out is None:
        p.error("--out DIR is required (on the device machine: --out $OUT)")
    try:
        summary = run_checks(
            a.out,
            dry_run=a.dry_run,
            only=a.only.split(",") if a.only else None,
            budget_s=a.budget_s,
            budgets=dict(a.budget),
            work=a.work,
            motion=a.motion,
        )
    except ValueError as e:
        p.error(str(e))
    print(report(summary))
    return 0 if all(c["status"] == "ok" for c in summary["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

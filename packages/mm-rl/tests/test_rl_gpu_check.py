"""The GPU check script (``python -m mm_rl.gpu_check``), run for real with its ``--dry-run`` sizes on the CPU."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mm_sim")
pytest.importorskip("mujoco_warp")

from mm_rl import gpu_check  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def _gpu_check(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mm_rl.gpu_check", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_dry_run_runs_every_check_and_records_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    p = _gpu_check("--out", str(out), "--dry-run", "--work", str(tmp_path / "work"))
    text, _ = p.communicate(timeout=900)
    assert p.returncode == 0, text
    check_dry_run_summary(out)


def check_dry_run_summary(out: Path) -> None:
    s = _summary(out)
    checks = s["checks"]
    assert list(checks) == list(gpu_check.CHECKS)
    assert {n: c["status"] for n, c in checks.items()} == dict.fromkeys(gpu_check.CHECKS, "ok"), checks
    # Only the summary and one log per check come back through the device tool (at most 8 files); the bulky
    # run directories stay in --work.
    assert sorted(f.name for f in out.iterdir()) == sorted(
        ["summary.json"] + [f"{i + 1}-{n}.log" for i, n in enumerate(gpu_check.CHECKS)]
    )
    assert s["dry_run"] is True and s["finished"] and s["environment"]["torch"]
    # Each check gets its weight's share of the time left (what an earlier one left unused included), and ends
    # within it.
    w = list(gpu_check.WEIGHTS.values())
    left = [c["budget_s"] * sum(w[i:]) / w[i] for i, c in enumerate(checks.values())]
    assert 0.8 * 900 < left[0] <= 900.5  # the environment probe runs first (budgets are rounded to 0.1 s)
    for i, c in enumerate(list(checks.values())[:-1]):
        assert left[i + 1] == pytest.approx(left[i] - c["seconds"], abs=1.0)
    assert all(c["seconds"] <= c["budget_s"] for c in checks.values())

    tests = {t["test"].rsplit("::", 1)[-1]: t for t in checks["gpu_tests"]["result"]["tests"]}
    # -m gpu picks the CUDA-marked tests, the graph-replay one included, and not its CPU variant.
    assert "test_warp_graph_replay_matches_uncaptured_steps[myofullbody-nofingers-cuda:0]" in tests
    assert "test_warp_cuda_graph_matches_c_mujoco" in tests
    assert "test_warp_graph_replay_matches_uncaptured_steps[tiny-cpu]" not in tests
    if not s["environment"]["cuda_available"]:
        assert all(t["outcome"] == "skipped" and "CUDA" in t["message"] for t in tests.values())

    tiny = checks["parity"]["result"]["embodiments"]["tiny"]
    assert tiny["ok"] and 0 < tiny["max_dqpos"] < 1e-3  # float32 vs float64: close, never bit-equal

    (bench,) = checks["sim_bench"]["result"]["runs"]
    assert (bench["worlds"], bench["steps"], bench["backend"], bench["overflow_steps"]) == (4, 3, "warp", 0)
    assert math.isclose(
        bench["ratio"], bench["task_steps_per_s"] / bench["physics_steps_per_s"], rel_tol=1e-3
    )

    runs = checks["train_throughput"]["result"]["runs"]
    assert set(runs) == {"muon", "adam"} and "ppo.muon=false" in runs["adam"]["overrides"]
    for r in runs.values():
        assert r["samples"] == 4 * 4 * 1  # worlds x ppo.num_steps x updates
        assert math.isclose(sum(r["fraction"].values()), 1.0, rel_tol=1e-6)
        assert r["samples_per_s"] == pytest.approx(r["samples"] / r["seconds"]["total"])

    train = checks["train"]["result"]
    assert Path(train["motion"]).name == "35_01.npz" and train["exit_code"] == 0
    assert (train["updates"], train["samples"], len(train["curve"])) == (2, 2 * 4 * 2, 2)
    last = train["last"]
    assert last["reward"] > 0 and 0 <= last["early_termination_rate"] <= 1
    assert 1 <= last["episode_length"] <= 3  # task.horizon=3 in the dry run


def test_failing_and_overtime_checks_are_recorded_and_a_killed_run_keeps_what_finished(
    tmp_path: Path,
) -> None:
    """A broken motion fails the train check, a 1 s budget times pytest out, the next check still starts, and
    killing the whole run then leaves a summary with all of that in it."""
    bad = tmp_path / "bad.npz"
    bad.write_text("not a motion clip")
    out = tmp_path / "out"
    p = _gpu_check(
        "--out", str(out), "--dry-run", "--only", "train,gpu_tests,parity",
        "--motion", str(bad), "--budget", "gpu_tests=1", "--work", str(tmp_path / "work"),
    )  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and p.poll() is None:
            s = _summary(out) if (out / "summary.json").is_file() else {"checks": {}}
            if s["checks"].get("parity", {}).get("status") == "running":
                break
            time.sleep(0.5)
    finally:
        p.terminate()  # SIGTERM: the run ends the check in flight (its subprocesses too) and exits
        p.wait(60)
    assert p.returncode == 128 + signal.SIGTERM
    s = _summary(out)["checks"]
    assert s["train"]["status"] == "failed" and str(bad) in s["train"]["error"]
    assert s["gpu_tests"]["status"] == "timeout"
    assert "ended after its 1 s time limit" in (out / "2-gpu_tests.log").read_text()
    assert s["parity"]["status"] == "running" and "budget_s" in s["parity"]


def test_wrong_arguments_say_what_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, expected in (
        (["--only", "parity,bogus"], "unknown check(s) ['bogus']; valid: ['parity', 'gpu_tests'"),
        (["--budget", "train=soon"], "expected CHECK=SECONDS"),
        (["--motion", str(tmp_path / "none.npz")], "no such file"),
        ([], None),
    ):
        out = [] if args == [] else ["--out", str(tmp_path / "o")]
        with pytest.raises(SystemExit):
            gpu_check.main([*out, *args])
        assert (expected or "--out DIR is required") in capsys.readouterr().err


def test_training_curve_summary_keeps_first_and_last_rows() -> None:
    rows = [{"update": float(i), "reward": i / 100, "episode_length": None} for i in range(1, 101)]
    s = gpu_check.summarise_training(rows, points=10)
    assert (s["updates"], len(s["curve"])) == (100, 10)
    assert [c["update"] for c in s["curve"]] == [1, 12, 23, 34, 45, 56, 67, 78, 89, 100]
    assert s["first"]["reward"] == 0.01 and s["last"]["reward"] == 1.0 and s["last"]["episode_length"] is None

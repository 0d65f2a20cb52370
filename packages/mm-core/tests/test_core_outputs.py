"""Output directories never take over the user's files; temporary files are hidden and cleaned; the CLI root
turns expected errors into one paragraph and exit code 2, and bugs into a traceback and exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mm_core.outputs import (
    MARKER,
    OutputError,
    atomic_path,
    clean_temp_files,
    output_kind,
    prepare_output_dir,
)


def test_new_empty_and_same_kind_directories_are_used(tmp_path: Path) -> None:
    d = prepare_output_dir(tmp_path / "new" / "run", "train")
    assert output_kind(d) == "train" and (d / MARKER).is_file()
    (d / "metrics.csv").write_text("update\n1\n")
    assert prepare_output_dir(d, "train") == d  # a run of the same kind is resumed, not refused
    empty = tmp_path / "empty"
    empty.mkdir()
    assert output_kind(prepare_output_dir(empty, "retarget")) == "retarget"


def test_user_directories_files_and_other_kinds_are_refused(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text("{}")
    with pytest.raises(OutputError, match=r"mine: directory is not empty \(config\.json\).*--overwrite"):
        prepare_output_dir(mine, "train")
    assert sorted(p.name for p in mine.iterdir()) == ["config.json"]  # nothing written
    prepare_output_dir(mine, "train", overwrite=True)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(OutputError, match=r"file\.txt: is an existing file"):
        prepare_output_dir(f, "retarget")
    with pytest.raises(OutputError, match="holds an mm train output, not a retarget output"):
        prepare_output_dir(mine, "retarget")


def test_outputs_made_before_the_marker_are_recognised(tmp_path: Path) -> None:
    old = tmp_path / "old_clips"
    old.mkdir()
    (old / "report.json").write_text("{}")
    (old / "a.npz").write_bytes(b"")
    assert output_kind(old) == "retarget"
    prepare_output_dir(old, "retarget")


def test_atomic_path_hides_partial_files_and_removes_them_on_error(tmp_path: Path) -> None:
    target = tmp_path / "clip.npz"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.name.startswith(".") and tmp.parent == tmp_path
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and [p.name for p in tmp_path.iterdir()] == ["clip.npz"]
    (tmp_path / "sub").mkdir()
    left = tmp_path / "sub" / ".x.npz.123.mmtmp"
    left.write_bytes(b"half")
    assert clean_temp_files(tmp_path) == [left] and not left.exists() and target.exists()


def _app(exc: BaseException) -> typer.Typer:
    from mm_core.cli import _ErrorBoundary

    app = typer.Typer(cls=_ErrorBoundary)

    @app.command()
    def boom() -> None:
        raise exc

    @app.command()
    def other() -> None:
        pass

    return app


@pytest.mark.parametrize(
    ("exc", "code", "traceback"),
    [
        (ValueError("clip.npz: field 'fps' must be > 0"), 2, False),
        (PermissionError(13, "Permission denied", "/out"), 2, False),
        (OSError(28, "No space left on device"), 2, False),
        (MemoryError("cannot allocate 3 TiB"), 2, False),
        (KeyError("qpos"), 1, True),  # a bug: traceback and a request to report it
        (TypeError("unsupported operand"), 1, True),
    ],
)
def test_error_boundary(
    exc: BaseException, code: int, traceback: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MM_DEBUG", raising=False)
    res = CliRunner().invoke(_app(exc), ["boom"])
    assert res.exit_code == code, res.output
    assert ("Traceback" in res.output) == traceback
    assert str(exc).strip("'") in res.output
    if not traceback:
        assert res.output.startswith("error: ") and "MM_DEBUG=1" in res.output
    else:
        assert "bug" in res.output
    monkeypatch.setenv("MM_DEBUG", "1")
    res = CliRunner().invoke(_app(exc), ["boom"])
    assert res.exit_code == code and "Traceback" in res.output


def test_echo_json_is_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    """NaN / inf (a float or a numpy scalar) print as null, named on stderr; the output parses as strict JSON."""
    import json

    import numpy as np

    from mm_core.cli import echo_json

    echo_json(
        {"ok": 1.5, "m": {"r": float("nan"), "v": [1, np.float32("inf")]}, "n": np.float64(2.0), "s": "x"}
    )
    out, err = capsys.readouterr()

    def strict(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    assert json.loads(out, parse_constant=strict) == {
        "ok": 1.5,
        "m": {"r": None, "v": [1, None]},
        "n": 2.0,
        "s": "x",
    }
    assert "m.r" in err and "m.v[1]" in err and "null" in err

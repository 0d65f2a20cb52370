"""Output directories and files that never lose the user's work.

``prepare_output_dir(path, kind)`` is the one check every command that writes a directory goes through: a path
that is an existing file, a directory that cannot be written, or a non-empty directory that is not an mm output of
the same kind is refused (``OutputError``) before anything is written; otherwise the directory is created and
marked with ``.mm-output`` (its kind), so later runs recognise it.

Files are written to a hidden temporary name in the same directory and renamed (``atomic_path``): a reader that
skips hidden files never sees a partial file, and ``clean_temp_files`` removes what a killed writer left.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

MARKER = ".mm-output"
#: Files that identify an output of each kind written before the marker existed.
#: Checked in order: a validation output also has a report.json.
LEGACY_SIGNS = {
    "validate": ("report.json", "report.html"),
    "retarget": ("report.json",),
    "train": ("config.json", "checkpoints"),
}
TEMP_SUFFIX = ".mmtmp"


class OutputError(ValueError):
    """An output path cannot be used; the message names it and says what to do."""


def output_kind(path: Path) -> str | None:
    """The kind of mm output ``path`` holds (``retarget``, ``train``...), or None."""
    marker = path / MARKER
    if marker.is_file():
        try:
            return str(json.loads(marker.read_text())["kind"])
        except (ValueError, KeyError, TypeError, OSError):
            return None
    for kind, signs in LEGACY_SIGNS.items():
        if all((path / s).exists() for s in signs):
            return kind
    return None


def prepare_output_dir(
    path: str | Path, kind: str, *, overwrite: bool = False, flag: str = "--overwrite"
) -> Path:
    """Create (or reuse) ``path`` as an output directory of ``kind``; raise ``OutputError`` if it must not be.

    overwrite: also accept a non-empty directory that is not an mm ``kind`` output (the user's explicit ``flag``).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: is an existing file, not a directory; give a directory for the output")
    if path.is_dir() and not overwrite:
        found = output_kind(path)
        # Another process of the same command (e.g. torchrun ranks) may be writing the marker right now.
        entries = [p.name for p in path.iterdir() if p.name != MARKER and not p.name.endswith(TEMP_SUFFIX)]
        if found is None and entries:
            shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
            raise OutputError(
                f"{path}: directory is not empty ({shown}) and is not an mm {kind} output; writing there could "
                f"replace your files. Give a new or empty directory, or pass {flag} to write there anyway"
            )
        if found is not None and found != kind:
            raise OutputError(
                f"{path}: holds an mm {found} output, not a {kind} output; give another directory"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with atomic_path(path / MARKER) as tmp:
            tmp.write_text(json.dumps({"kind": kind}))
    except OSError as e:
        raise OutputError(
            f"{path}: cannot write the output directory ({e.strerror or e}); choose a writable location"
        ) from e
    return path


def prepare_output_file(path: str | Path, *, overwrite: bool = False, flag: str = "--overwrite") -> Path:
    """Check that ``path`` can be written as one output file (e.g. an MP4); raise ``OutputError`` if it must not be.

    A directory, an existing file (unless ``overwrite``, the user's explicit ``flag``) or a location that cannot be
    written is refused before any work is done; the parent directory is created. Write it with ``atomic_path``.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(
            f"{path}: is a directory; give a file name for the output (e.g. {path / 'out.mp4'})"
        )
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: is an existing file; give a new file name, or pass {flag} to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")  # the name atomic_path writes
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputError(
            f"{path}: cannot write the output file ({e.strerror or e}); choose a writable location"
        ) from e
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a hidden temporary path next to ``path``; on success it is renamed to ``path``, on any error removed.

    The temporary name starts with ``.`` and ends with ``.mmtmp``, so no reader picks it up as a clip or report.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def clean_temp_files(directory: str | Path) -> list[Path]:
    """Remove the temporary files a killed writer left under ``directory`` (recursively); returns them."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    left = [p for p in directory.rglob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for p in left:
        p.unlink(missing_ok=True)
    return left

"""The one atomic writer: a temporary file in the target folder, then a rename, so a failed run
leaves the previous file whole and a reader never sees half a file.

Any OSError on the way (a full disk, a folder given as the file, a path under a file, a read-only
or virtual file system) becomes one `StorageError` naming the target and the cause. The file gets
the permissions the umask allows (as `open` would give), not mkstemp's private 0600.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from pipeline.errors import StorageError, storage_error


@dataclass(frozen=True)
class Inputs:
    """What a command reads and must never overwrite: its input files (leads, activities,
    outcomes, the config) and whole folders (the tracking store's, artifacts included).

    Paths are resolved (symlinks, `..`, the working folder) when added, so `./x.csv`, a link to
    it and its absolute path are one file."""

    files: tuple[tuple[Path, str], ...] = ()
    folders: tuple[tuple[Path, str], ...] = ()

    def add(self, path: str | Path | None, what: str, folder: bool = False) -> Inputs:
        """These inputs and `path` (None: unchanged), as a new value."""
        if path is None or str(path) == "":
            return self
        entry = ((_resolved(path), what),)
        if folder:
            return Inputs(self.files, self.folders + entry)
        return Inputs(self.files + entry, self.folders)

    def clash(self, target: str | Path) -> str | None:
        """What `target` would overwrite ("the leads file x.csv"), or None when it is free."""
        t = _resolved(target)
        for p, what in self.files:
            if t == p or _same_file(t, p):
                return f"{what} {p}"
        for p, what in self.folders:
            if t == p or t.is_relative_to(p):
                return f"{what} {p}"
        return None


def _resolved(path: str | Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def _same_file(a: Path, b: Path) -> bool:
    """Hard links and case-insensitive file systems: two names, one file."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_inputs(targets: Iterable[tuple[str | Path, str]], inputs: Inputs) -> None:
    """One line and no write when any (target, what) would overwrite an input of the command."""
    for target, what in targets:
        hit = inputs.clash(target)
        if hit is not None:
            raise StorageError(
                f"{target}: refusing to write the {what} there: it is the {hit} this command "
                "reads; choose another path"
            )


def check_output_path(path: str | Path, what: str = "output", inputs: Inputs | None = None) -> Path:
    """Refuse, before any work, a target that can never be written as a file, or that is one of
    the command's `inputs` (or the tracking store: its file, artifact root, a file store's folder)."""
    if inputs is not None:
        refuse_inputs([(path, what)], inputs)
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"{path}: cannot write the {what}: it is a folder; pass a file path")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise StorageError(f"{path}: cannot write the {what}: {parent} is a file, not a folder")
    return path


def umask_mode() -> int:
    """0o666 less the process umask: what a plain `open(path, "w")` would create."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def open_tmp(path: str | Path) -> tuple[int, str]:
    """A temporary file beside `path` (same file system, so the rename is atomic), with the
    umask's permissions: (fd, temporary path). An OSError becomes one line naming `path`."""
    path = Path(path)
    check_output_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise storage_error(path, e) from None
    try:
        os.fchmod(fd, umask_mode())
    except OSError:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


@contextlib.contextmanager
def atomic_tmp(path: str | Path) -> Iterator[tuple[int, str]]:
    """(fd, temporary path) beside `path`; the caller writes and renames, errors become one line.

    The temporary file is removed on any error, including KeyboardInterrupt.
    """
    fd, tmp = open_tmp(path)
    try:
        yield fd, tmp
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise storage_error(path, e) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[str]]:
    """A text file that appears at `path` only when the block ends without an error."""
    with atomic_tmp(path) as (fd, tmp):
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            yield f
        os.replace(tmp, path)


def write_atomic(df: pd.DataFrame, path: str | Path) -> None:
    """A data frame as CSV (floats to 6 decimals: pandas' `to_csv` bytes), atomically."""
    from pipeline.io.csvwrite import write_csv

    with atomic_open(path) as f:
        write_csv(f.buffer, df)  # UTF-8, newline="": the bytes go to the file as they are


def write_text_atomic(text: str, path: str | Path) -> None:
    with atomic_open(path) as f:
        f.write(text)

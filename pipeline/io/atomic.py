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
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd

from pipeline.errors import StorageError, storage_error


def check_output_path(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, a target that can never be written as a file."""
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
    """A data frame as CSV (floats to 6 decimals), atomically."""
    with atomic_open(path) as f:
        df.to_csv(f, index=False, float_format="%.6f")


def write_text_atomic(text: str, path: str | Path) -> None:
    with atomic_open(path) as f:
        f.write(text)

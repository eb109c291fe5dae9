"""The one atomic writer: a temporary file in the target folder, then a rename, so a failed run
leaves the previous file whole and a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[IO[str]]:
    """A text file that appears at `path` only when the block ends without an error.

    The temporary file sits beside the target (same file system, so the rename is atomic) and is
    removed on any error, including KeyboardInterrupt.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(df: pd.DataFrame, path: str | Path) -> None:
    """A data frame as CSV (floats to 6 decimals), atomically."""
    with atomic_open(path) as f:
        df.to_csv(f, index=False, float_format="%.6f")


def write_text_atomic(text: str, path: str | Path) -> None:
    with atomic_open(path) as f:
        f.write(text)

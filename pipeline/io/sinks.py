"""Where a table output goes: its name decides its format, and one run at a time writes it.

`.csv` is plain CSV, `.csv.gz` gzip-compressed CSV, `.parquet` a parquet file; any other name is
refused in one line before any work, so a file never holds a format its name does not say. The
table is written as CSV text (the same bytes on every path) and, for the other formats, encoded
on the way to the atomic rename, so a failed run still leaves the previous file whole.

A run holds a lock file beside the output (`.NAME.lock`, an advisory `flock`) from its check to
its rename, and removes it when done: a second run writing the same output is refused in one line
rather than silently replacing the first run's file. The kernel releases the lock when the process
ends, crash included, so a lock file a crash leaves behind never blocks the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd

from pipeline.errors import DataError, StorageError, storage_error
from pipeline.io.atomic import atomic_tmp

FORMATS = {".csv.gz": "csv.gz", ".csv": "csv", ".parquet": "parquet"}  # longest suffix first
TEXT_COLUMNS = ("lead_id", "stage", "model_version", "scored_at", "model_segment")


def output_format(path: str | Path, what: str = "scores file") -> str:
    """'csv', 'csv.gz' or 'parquet' from the output's name; anything else is one line."""
    name = Path(path).name.lower()
    for suffix, kind in FORMATS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    raise DataError(
        f"{path}: the {what}'s name decides its format: end it in .csv, .csv.gz or .parquet"
    )


def output_stem(path: str | Path) -> str:
    """The output's name without its format suffix: `scores.csv.gz` -> `scores`."""
    name = Path(path).name
    for suffix in FORMATS:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[IO[str]]:
    """A UTF-8 text file (newline="") for the table as CSV; `path` appears, in the format its
    name says, only when the block ends without an error. `f.buffer` takes CSV bytes."""
    kind = output_format(path)
    with atomic_tmp(path) as (fd, tmp):
        if kind == "csv.gz":
            raw = os.fdopen(fd, "wb")
            gz = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0)  # mtime 0: same bytes every run
            with raw, gz, io.TextIOWrapper(gz, encoding="utf-8", newline="") as f:
                yield f
        elif kind == "parquet":
            os.close(fd)
            with atomic_tmp(path) as (fd_csv, tmp_csv):
                with os.fdopen(fd_csv, "w", newline="", encoding="utf-8") as f:
                    yield f
                _csv_to_parquet(Path(tmp_csv), Path(tmp))
                Path(tmp_csv).unlink()
        else:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                yield f
        os.replace(tmp, path)


def _csv_to_parquet(src: Path, dst: Path) -> None:
    """The CSV table as parquet, streamed block by block: ids, stages and reasons stay text (an
    id `007` keeps its zeros), numbers get their types."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with open(src, encoding="utf-8", newline="") as f:
        header = next(iter(f), "").rstrip("\r\n").split(",")
    text = {c: pa.string() for c in header if c in TEXT_COLUMNS or c.startswith("reason_")}
    convert = pacsv.ConvertOptions(column_types=text, strings_can_be_null=True)
    reader = pacsv.open_csv(src, convert_options=convert)
    with pq.ParquetWriter(dst, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def lock_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(f".{p.name}.lock")


@contextlib.contextmanager
def output_lock(path: str | Path, what: str = "scores file") -> Iterator[None]:
    """Hold `path`'s lock for the block, or refuse in one line when another run holds it."""
    lock = lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise storage_error(path, e, f"cannot write (no lock file {lock.name} beside it)") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise StorageError(
                f"{path}: another run (pid {holder}) is writing this {what}; wait for it to "
                "finish or choose another output"
            ) from None
        if not _same_inode(fd, lock):  # a holder removed it as we opened it: still theirs
            raise StorageError(
                f"{path}: another run has just finished or started writing this {what}; try again"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)  # while still held: no lock file left beside the output
    finally:
        os.close(fd)  # closing releases the lock; the kernel does it on a crash too


def _same_inode(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def read_table_output(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A table output read back in the format its name says (ids as text)."""
    kind = output_format(path)
    if kind == "parquet":
        return pd.read_parquet(path, columns=columns)
    return pd.read_csv(path, usecols=columns, dtype={"lead_id": str})

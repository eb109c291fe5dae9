"""Compressed exports (`.gz`, `.bz2`, `.xz`, a `.zip` holding one file): one rule for every reader.

A compressed input is decompressed once per process into a private temporary file named as the
file inside it (`leads.csv.gz` -> `leads.csv`), and every reader (pandas, the pyarrow fast path,
`init`'s sniffing, `validate`'s re-counting) reads that plain file. So a compressed export is read
exactly as its plain twin on every path, and a broken archive is found whole before any row is
used: a truncated or corrupt archive, or a zip with several files, is one line naming the file.
"""

from __future__ import annotations

import atexit
import bz2
import contextlib
import gzip
import lzma
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import DataError

COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
SUFFIXES = (*COMPRESSED, ".zip")
_plain: dict[tuple[str, int, int], Path] = {}  # (path, size, mtime) -> its decompressed copy
_folder: list[Path] = []


def is_compressed(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def inner_name(path: str | Path) -> str:
    """The name of the file inside: `leads.csv.gz` -> `leads.csv` (a zip's member: its own)."""
    p = Path(path)
    return p.stem if is_compressed(p) else p.name


def plain_file(path: str | Path) -> Path:
    """`path` itself when it is not compressed (or does not exist: the reader says so), else its
    decompressed copy. Broken archives raise `DataError` naming `path`."""
    p = Path(path)
    if not is_compressed(p) or not p.is_file():
        return p
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _plain or not _plain[key].exists():
        _plain[key] = _decompress(p)
    return _plain[key]


def _workdir() -> Path:
    if not _folder:
        d = Path(tempfile.mkdtemp(prefix="leadscore-inputs-"))
        atexit.register(shutil.rmtree, d, True)
        _folder.append(d)
    return _folder[0]


def _decompress(p: Path) -> Path:
    """The whole archive into a fresh file; any fault of the archive is one line."""
    folder = Path(tempfile.mkdtemp(dir=_workdir()))
    try:
        if p.suffix.lower() == ".zip":
            return _unzip(p, folder)
        out = folder / inner_name(p)
        with COMPRESSED[p.suffix.lower()](p, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return out
    except (EOFError, OSError, lzma.LZMAError, zlib.error, zipfile.BadZipFile) as e:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, OSError) and e.errno is not None:  # the disk, not the archive
            raise DataError(f"{p}: cannot decompress: {e.strerror}") from None
        raise DataError(
            f"{p}: the {p.suffix.lower()[1:]} archive is truncated or corrupt "
            f"({_cause(e)}); copy or export the file again"
        ) from None


def _unzip(p: Path, folder: Path) -> Path:
    with zipfile.ZipFile(p) as z:
        members = [m for m in z.infolist() if not m.is_dir() and not _is_metadata(m.filename)]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members[:3]) or "none"
            raise DataError(
                f"{p}: a zip must hold exactly one file, this one holds {len(members)} "
                f"({names}{', ...' if len(members) > 3 else ''}); zip one export per file"
            )
        out = folder / Path(members[0].filename).name
        with z.open(members[0]) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return out


def _is_metadata(name: str) -> bool:
    """What macOS's Finder adds to a zip beside the file (`__MACOSX/`, `.DS_Store`)."""
    return name.startswith("__MACOSX/") or os.path.basename(name) == ".DS_Store"


def _cause(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:100]


@contextlib.contextmanager
def named_as(path: str | Path) -> Iterator[None]:
    """A reader's one-line error about the decompressed copy names the user's file instead."""
    try:
        yield
    except DataError as e:
        copy = _plain_of(path)
        if copy is None or str(copy) not in str(e):
            raise
        raise DataError(str(e).replace(str(copy), str(path))) from None


def _plain_of(path: str | Path) -> Path | None:
    p = Path(path)
    if not is_compressed(p) or not p.is_file():
        return None
    st = p.stat()
    return _plain.get((str(p.resolve()), st.st_size, st.st_mtime_ns))

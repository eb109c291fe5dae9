"""The activities file read block by block, each block on its own (by a Dask worker), by the
rules the whole-file reader applies.

A csv is cut into byte ranges that start and end on a line break (the way `dask.bytes.read_bytes`
and `dask.dataframe.read_csv` cut one, with `fsspec.utils.read_block`), each parsed by pandas with
the header line put in front; a parquet file is read one row group at a time. Each block's cells
go through the one rule of `pipeline.io.rules` (ids by `normalize_ids`, times by `to_datetimes`,
types by `canonical.normalise_types`) and the one error of `readers` (a missing column, a file
that does not parse). A bad date cannot be raised on the worker, which does not know how many
rows come before its block: the block says where it is (`BlockRead.bad_at`) and the caller
raises `readers.refuse_bad_dates` with the rows before it, so the line names the file's row.

A csv whose quoted cells hold line breaks cannot be cut by lines (the same limit as
`dask.dataframe.read_csv`); such a file is read by the local engine.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.canonical import normalise_types
from pipeline.io.compressed import inner_name, named_as, plain_file
from pipeline.io.readers import (
    SPREADSHEET_SUFFIXES,
    _check_file,
    _read_parquet,
    _sep_hint,
    file_encoding,
    file_kind,
    require_columns,
)
from pipeline.io.rules import normalize_ids, to_datetimes

BLOCK_BYTES = 64 << 20  # the default block (`training.dask.block_mb`): ~2M events


@dataclass(frozen=True)
class Block:
    """One block of a file: a byte range of a csv, or a row group of a parquet file."""

    path: str  # the plain file read (a compressed export's decompressed copy)
    shown: str  # the user's file, as errors name it
    kind: str  # 'csv' or 'parquet'
    start: int  # csv: first byte; parquet: row group
    stop: int  # csv: byte after the block (it ends at the first line break from there)
    encoding: str = "utf-8-sig"
    header: bytes = b""  # the csv's header line, put in front of every later block


@dataclass
class BlockRead:
    """A block's canonical events (`lead_id`, `ts`, `type`; rows of every lead, bad times as
    missing) and what the caller needs to know before using them."""

    events: pd.DataFrame
    rows: int  # data rows of the block, so the caller knows the rows before the next one
    bad_at: int | None = None  # position of the first bad time in the block
    bad_value: str | None = None
    undecodable: tuple[int, int] | None = None  # (byte, offset in the file) not in the encoding


def file_blocks(
    path: str | Path, cfg: Config, block_bytes: int = BLOCK_BYTES, encoding: str | None = None
) -> list[Block]:
    """The blocks of the activities file, after the checks `read_table` makes first (missing,
    empty, a folder, a spreadsheet). `encoding`: the one to decode with (default: the file's)."""
    p = Path(path)
    what = "activities file"
    _check_file(p, what)
    if Path(inner_name(p)).suffix.lower() in SPREADSHEET_SUFFIXES:
        raise DataError(
            f"{p}: a spreadsheet workbook, which is not read directly; save the sheet as "
            "'CSV UTF-8' (or parquet) and point the config at that file"
        )
    src = plain_file(p)
    if file_kind(p) == "parquet":
        import pyarrow.parquet as pq

        n = pq.ParquetFile(src).num_row_groups
        return [Block(str(src), str(p), "parquet", g, g + 1) for g in range(max(n, 1))]
    enc = encoding or file_encoding(src, cfg, what)
    size = src.stat().st_size
    if codecs.lookup(enc).name.startswith(("utf-16", "utf-32")):  # a line break is not b"\n"
        return [Block(str(src), str(p), "csv", 0, size, enc)]  # one worker reads it whole
    with open(src, "rb") as f:
        header = f.readline()
    starts = range(len(header), size, block_bytes)
    return [
        Block(str(src), str(p), "csv", s, min(s + block_bytes, size), enc, header) for s in starts
    ] or [Block(str(src), str(p), "csv", len(header), size, enc, header)]


def read_event_block(block: Block, cfg: Config) -> BlockRead:
    """A block's events by the rules of `canonical.load_events` (which reads the whole file)."""
    raw = _raw_block(block, cfg)
    if isinstance(raw, tuple):
        return BlockRead(pd.DataFrame(columns=["lead_id", "ts", "type"]), 0, undecodable=raw)
    ac = cfg.schema.activity
    require_columns(raw, [ac.lead_id, ac.timestamp, ac.type], block.shown, "schema.activity")
    ts, bad = to_datetimes(raw[ac.timestamp], cfg.schema.dayfirst, ac.timestamp_unit)
    out = BlockRead(
        pd.DataFrame(
            {
                "lead_id": normalize_ids(raw[ac.lead_id]).astype(object).to_numpy(),
                "ts": ts.to_numpy(),
                "type": normalise_types(raw[ac.type]),
            }
        ),
        len(raw),
    )
    if bad.any():
        out.bad_at = int(np.flatnonzero(bad.to_numpy(bool))[0])
        out.bad_value = raw[ac.timestamp].iloc[out.bad_at]
    return out


def _raw_block(block: Block, cfg: Config) -> pd.DataFrame | tuple[int, int]:
    """The block's cells as `readers.read_table` reads them (text, the missing-value markers as
    missing, trimmed column names), or (byte, offset) of a byte the encoding cannot decode."""
    if block.kind == "parquet":
        with named_as(block.shown):
            return _read_parquet(Path(block.path), cfg, block.start)
    data, first = _line_range(block)
    kw = dict(sep=cfg.data.sep, dtype=str, keep_default_na=False, na_values=cfg.data.missing_values)
    try:
        df = pd.read_csv(io.BytesIO(block.header + data), encoding=block.encoding, **kw)
    except UnicodeDecodeError as e:
        return e.object[e.start], first + e.start - len(block.header)
    except pd.errors.ParserError as e:
        hint = _sep_hint(Path(block.path), cfg.data.sep, block.encoding)
        raise DataError(
            f"{block.shown}: cannot parse as CSV ({str(e).splitlines()[0]}); "
            f"{hint or 'check data.sep'}"
        ) from None
    df.columns = [str(c).lstrip("\ufeff").strip() for c in df.columns]
    if len(df.columns) == 1 and (hint := _sep_hint(Path(block.path), cfg.data.sep, block.encoding)):
        raise DataError(
            f"{block.shown}: only one column '{df.columns[0][:60]}' with data.sep "
            f"'{cfg.data.sep}'; {hint}"
        )
    return df


def _line_range(block: Block) -> tuple[bytes, int]:
    """The block's bytes from the line starting at or after `start` to the end of the line that
    holds `stop - 1`: consecutive blocks share no line and miss none. Also its first byte."""
    with open(block.path, "rb") as f:
        first = _line_start(f, block.start, len(block.header))
        end = _line_start(f, block.stop, len(block.header))
        f.seek(first)
        return f.read(end - first), first


def _line_start(f: io.BufferedReader, at: int, data_start: int) -> int:
    """The offset of the first line starting at or after `at` (the data's first line: itself)."""
    if at <= data_start:
        return data_start
    f.seek(at - 1)
    f.readline()
    return f.tell()

"""A csv or parquet file read block by block, each block on its own (by a Dask worker), by the
rules the whole-file reader applies: the activities file (`read_event_block`) and the leads file
(`lead_votes`, then `read_lead_block`).

A csv is cut into byte ranges that start and end on a line break (the way `dask.bytes.read_bytes`
and `dask.dataframe.read_csv` cut one, with `fsspec.utils.read_block`), each parsed by pandas with
the header line put in front; a parquet file is read one row group at a time. One raw reader
(`read_raw_block`) gives a block's cells as `readers.read_table` gives the whole file's (text,
the missing-value markers as missing, trimmed column names) and fails in its one line (a file
that does not parse); each table's cells then go through the one rule of `pipeline.io.rules`
(ids by `normalize_ids`, times and dates by `to_datetimes`, numbers by `number_cells`, types by
`canonical.normalise_types`), the leads' by `canonical.canonical_leads` itself.

A worker does not know how many rows come before its block, and some leads rules need every
block: a bad event time is said by the block (`BlockRead.bad_at`) and raised by the caller
(`readers.refuse_bad_dates` with the rows before it); the leads file is read in two steps, so its
errors name the file's row: each block's row count and decimal-convention votes first
(`lead_votes`, summed by the caller as `rules.number_convention` counts a whole column), then
its canonical leads knowing the rows before it and the conventions (`read_lead_block`). A lead
block's first problem is returned, ranked in the order the whole-file reader checks (`Problem`),
so the caller raises the file's first one; repeated ids across blocks are the caller's to find
(`canonical.duplicate_ids`, where the ids meet).

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
from pipeline.io.canonical import LeadValues, canonical_leads, normalise_types, outcome_text
from pipeline.io.compressed import inner_name, named_as, plain_file
from pipeline.io.readers import (
    SPREADSHEET_SUFFIXES,
    _check_file,
    _read_parquet,
    _sep_hint,
    file_encoding,
    file_kind,
    refuse_bad_dates,
    require_columns,
)
from pipeline.io.rules import convention_votes, normalize_ids, to_datetimes

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
    path: str | Path,
    cfg: Config,
    block_bytes: int = BLOCK_BYTES,
    encoding: str | None = None,
    what: str = "activities file",
) -> list[Block]:
    """The blocks of a file (`what`: 'activities file' or 'leads file', whose configured
    encoding is used), after the checks `read_table` makes first (missing, empty, a folder, a
    spreadsheet). `encoding`: the one to decode with (default: the file's)."""
    p = Path(path)
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
    raw = read_raw_block(block, cfg)
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


def read_raw_block(block: Block, cfg: Config) -> pd.DataFrame | tuple[int, int]:
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


# ---- The leads file: each block's canonical leads, its first problem deferred to the caller ----
# A problem's rank is its check's place in the whole-file reader's order (`load_leads`), so the
# file's first problem is the smallest (rank, row) over its blocks. Repeated ids (DUPLICATE) are
# found where the ids meet; the label rules (`canonical.labels_from_text`) run between OUTCOME and
# CLOSED, over every lead.
EMPTY_ID, DUPLICATE, CREATED, VALUES, OUTCOME, CLOSED = 1, 2, 3, 4, 500, 1000


@dataclass(frozen=True, order=True)
class Problem:
    """The first bad cell or missing column of a block: raised by the caller if it is the file's
    first (`rank`: which check; `row`: the file's data row; `message`: the one line)."""

    rank: int
    row: int
    message: str


@dataclass
class LeadBlock:
    """A block's canonical leads (`_row`: data row in the file; `_outcome`: the outcome cells as
    text for the caller's label rules; `_id_written`: an id as the file writes it where that is
    not its canonical form, for the duplicate line). With a problem only the ids and rows, so
    repeats, which the whole-file reader finds first, are still found over every block."""

    leads: pd.DataFrame
    problem: Problem | None = None
    nonfinite: dict[str, int] | None = None  # non-finite numbers per column, read as missing


def lead_votes(raw: pd.DataFrame, cfg: Config) -> tuple[int, dict[str, tuple[int, int]]]:
    """A leads block's data rows and, per numeric column present, its decimal-convention votes
    (`rules.convention_votes`): the caller sums them over the blocks to decide each column's
    convention as the whole-file reader does over the column."""
    cols = [c for c in cfg.schema.numeric if c in raw.columns]
    return len(raw), {c: convention_votes(raw[c]) for c in cols}


def read_lead_block(
    raw: pd.DataFrame, shown: str, cfg: Config, first_row: int, decimals: dict[str, str]
) -> LeadBlock:
    """A leads block's canonical leads by `canonical.canonical_leads` (ids, dates, numbers and
    flags by the one rule; its errors naming the file's row, `first_row` rows before this
    block's), the outcome cells as text and the leads file's close dates (`data.outcomes`
    unset): what `load_leads` makes of these rows, its outcome rules left to the caller."""
    sc = cfg.schema
    require_columns(raw, [sc.lead_id], shown, "schema.lead_id")  # the header: same in every block
    require_columns(raw, sc.feature_columns(), shown, "schema.categorical/numeric/flags")
    ids = normalize_ids(raw[sc.lead_id])
    rows = np.arange(first_row, first_row + len(raw))
    written = raw[sc.lead_id].astype("string")
    ident = pd.DataFrame(
        {"_row": rows, "_id_written": written.where(written != ids).to_numpy()},
        index=pd.Index(ids.to_numpy(dtype=object), name="lead_id"),
    )
    counts: dict[str, int] = {}
    try:
        out = canonical_leads(raw, sc, shown, True, counts, decimals, first_row=first_row)
    except DataError as e:
        return LeadBlock(ident, _ranked(raw, ids, cfg, first_row, decimals, str(e)))
    out["_row"], out["_id_written"] = rows, ident["_id_written"].to_numpy()
    problem = _outcome_cells(raw, out, shown, cfg, first_row)
    return LeadBlock(out, problem, counts)


def _ranked(
    raw: pd.DataFrame, ids: pd.Series, cfg: Config, first_row: int, decimals: dict, msg: str
) -> Problem:
    """The rank and row of `canonical_leads`' error `msg`, found by its checks' order: an empty
    id, the creation-date column missing, then each date, number and flag column's first bad
    cell (`LeadValues`)."""
    sc = cfg.schema
    if ids.isna().any():
        return Problem(EMPTY_ID, first_row + int(np.flatnonzero(ids.isna().to_numpy())[0]), msg)
    if sc.created_at and sc.created_at not in raw.columns:
        return Problem(CREATED, 0, msg)
    v = LeadValues.parse(raw, sc, decimals)
    cols = [c for c in (sc.created_at,) if c in v.bad] + [*sc.numeric, *sc.flags]
    for rank, c in enumerate(cols):
        if v.bad[c].any():
            return Problem(VALUES + rank, first_row + int(np.flatnonzero(v.bad[c])[0]), msg)
    return Problem(VALUES + len(cols), 0, msg)  # not expected: raised in the checks' order


def _outcome_cells(
    raw: pd.DataFrame, out: pd.DataFrame, shown: str, cfg: Config, first_row: int
) -> Problem | None:
    """The leads file's outcome cells as text (`_outcome`) and close dates into `out`, as
    `canonical._attach_outcome` reads them (an outcomes table is the caller's to read)."""
    oc = cfg.schema.outcome
    if cfg.data.outcomes:
        return None
    if oc.column is not None:
        try:
            require_columns(raw, [oc.column], shown, "schema.outcome.column")
        except DataError as e:
            return Problem(OUTCOME, 0, str(e))
        out["_outcome"] = pd.Categorical(outcome_text(raw[oc.column]))  # a few values
    if not oc.closed_at:
        return None
    try:
        require_columns(raw, [oc.closed_at], shown, "schema.outcome.closed_at")
        closed, bad = to_datetimes(raw[oc.closed_at], cfg.schema.dayfirst)
        out["_closed_at"] = closed.to_numpy()
        refuse_bad_dates(
            raw[oc.closed_at], bad, shown, oc.closed_at, cfg.schema.dayfirst, first_row
        )
    except DataError as e:
        at = int(np.flatnonzero(np.asarray(bad))[0]) if oc.closed_at in raw.columns else 0
        return Problem(CLOSED, first_row + at, str(e))
    return None

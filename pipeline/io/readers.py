"""Read a CRM export and bring it to one canonical shape.

Everything downstream works on two frames: leads (index = lead id; columns `_created_at`,
`_closed_at`, `_label`, `_email` plus the configured feature columns as they are named in the
export) and events (`lead_id`, `ts`, `type`). Only this module knows the user's column names, so
the rest of the pipeline is the same for every export.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.compressed import inner_name, named_as, plain_file
from pipeline.io.rules import (
    DATE_RANGE,
    DECIMAL_WORDS,
    as_missing,
    clean_value,
    date_problem,
    nonfinite_warning,
    to_datetimes,
)

log = logging.getLogger(__name__)


SEPARATORS = {";": "semicolon", ",": "comma", "\t": "tab", "|": "pipe"}
PARQUET_SUFFIXES = frozenset([".parquet", ".pq"])
SPREADSHEET_SUFFIXES = frozenset([".xlsx", ".xlsm", ".xls", ".ods", ".numbers"])
TABLES = ("leads", "activities", "outcomes")
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def file_encoding(path: str | Path, cfg: Config, what: str = "leads file") -> str:
    """The encoding to read one file with: a byte-order mark at its start decides (it cannot
    lie), else the configured encoding of its table (`what` names it: 'activities file', ...)."""
    with open(plain_file(path), "rb") as f:
        head = f.read(3)
    for bom, enc in BOMS:
        if head.startswith(bom):
            return enc
    table = next((t for t in TABLES if t in what), "leads")
    enc = cfg.data.encoding_for(table)
    return "utf-8-sig" if enc.lower().replace("_", "-") in {"utf-8", "utf8"} else enc


TEXT_CHUNK_ROWS = 100_000


def text_chunks(
    path: Path,
    sep: str,
    encoding: str,
    columns: list[str] | None = None,
    rows: int = TEXT_CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """The whole file as text, `rows` rows at a time, '' for an empty cell in csv and parquet
    alike, never whole in memory. `init` drafts from these chunks and `validate` re-counts its
    claims over them, so the two read a file the same way. `columns`: only those the file has,
    matched and named by their trimmed header (none of them: no chunks); None: every column."""
    enc = "utf-8-sig" if encoding == "utf-8" else encoding  # a byte-order mark is no name
    path = plain_file(path)
    if file_kind(path) == "parquet":
        import pyarrow.parquet as pq

        f = pq.ParquetFile(path)
        cols = None if columns is None else [c for c in columns if c in f.schema_arrow.names]
        for batch in f.iter_batches(batch_size=rows, columns=cols) if cols != [] else ():
            yield batch.to_pandas().astype("string").fillna("")
        return
    usecols = None
    if columns is not None:
        header = pd.read_csv(path, sep=sep, nrows=0, encoding=enc, encoding_errors="replace")
        names = {str(c).lstrip("\ufeff").strip(): c for c in header.columns}
        usecols = [names[c] for c in columns if c in names]
        if not usecols:
            return
    read = {"dtype": str, "keep_default_na": False, "encoding_errors": "replace"}
    for part in pd.read_csv(path, sep=sep, usecols=usecols, chunksize=rows, encoding=enc, **read):
        yield part if columns is None else part.rename(columns=lambda c: str(c).strip())


def file_kind(path: str | Path) -> str:
    """'parquet' for a .parquet or .pq file (compressed or not: `leads.parquet.gz`), else 'csv':
    the one rule every reader follows."""
    return "parquet" if Path(inner_name(path)).suffix.lower() in PARQUET_SUFFIXES else "csv"


def read_table(path: str | Path, cfg: Config, what: str = "file") -> pd.DataFrame:
    """Read a csv or parquet file as strings, with the configured missing-value markers.

    Real exports come from Excel and European locales: a UTF-8 byte-order mark is dropped, a file
    that is not UTF-8 is read as cp1252 with a warning, and a file that parses into one column is
    reported as a delimiter mistake instead of training on nothing.
    """
    p = Path(path)
    _check_file(p, what)
    if Path(inner_name(p)).suffix.lower() in SPREADSHEET_SUFFIXES:
        raise DataError(
            f"{p}: a spreadsheet workbook, which is not read directly; save the sheet as "
            "'CSV UTF-8' (or parquet) and point the config at that file"
        )
    with named_as(p):  # a compressed file is read as its plain copy, named as the user's file
        src = plain_file(p)
        if file_kind(p) == "parquet":
            return _read_parquet(src, cfg)
        return _read_csv(src, cfg, what)


def _check_file(p: Path, what: str) -> None:
    """A missing, folder or empty path is a config mistake: say so before any parser does."""
    if not p.exists():
        raise DataError(f"{p}: {what} not found; check data.* paths in the config or the option")
    if p.is_dir():
        raise DataError(f"{p}: {what} is a folder, not a file; point the config at the file")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty; export it again with a header row and data")


def _read_parquet(p: Path, cfg: Config, row_group: int | None = None) -> pd.DataFrame:
    """Parquet keeps its types; only text cells get the missing-value markers, as in a csv.
    `row_group`: that row group alone (a block of `pipeline.io.blocks`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        df = pd.read_parquet(p) if row_group is None else _row_group(pq.ParquetFile(p), row_group)
    except (pa.ArrowException, OSError) as e:  # ArrowInvalid for a file that is not parquet
        raise DataError(
            f"{p}: cannot read as parquet ({str(e).splitlines()[0][:120]}); "
            "export it again or use csv"
        ) from None
    df = as_missing(df, frozenset(str(v) for v in cfg.data.missing_values))
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _row_group(f: object, group: int) -> pd.DataFrame:
    return (f.read_row_group(group) if f.num_row_groups else f.read()).to_pandas()


def _read_csv(p: Path, cfg: Config, what: str) -> pd.DataFrame:
    """Parser errors become one line naming the file and, when the header suggests it, the
    delimiter the file probably uses."""
    sep = cfg.data.sep
    enc = file_encoding(p, cfg, what)
    kw = dict(sep=sep, dtype=str, keep_default_na=False, na_values=cfg.data.missing_values)
    try:
        df = _read_csv_text(p, cfg, enc, kw)
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: file is empty; export it again with a header row and data") from None
    except pd.errors.ParserError as e:
        hint = _sep_hint(p, sep, enc)
        raise DataError(
            f"{p}: cannot parse as CSV ({str(e).splitlines()[0]}); {hint or 'check data.sep'}"
        ) from None
    df.columns = [str(c).lstrip("\ufeff").strip() for c in df.columns]
    if len(df.columns) == 1:
        hint = _sep_hint(p, sep, enc)
        if hint:
            raise DataError(
                f"{p}: only one column '{df.columns[0][:60]}' with data.sep '{sep}'; {hint}"
            )
    return df


def _read_csv_text(p: Path, cfg: Config, enc: str, kw: dict) -> pd.DataFrame:
    """Excel on Windows saves cp1252 whatever the user believes: read it so, with a warning,
    rather than refuse the file; anything else names the offending byte."""
    try:
        return pd.read_csv(p, encoding=enc, encoding_errors="strict", **kw)
    except UnicodeDecodeError as e:
        try:
            df = pd.read_csv(p, encoding="cp1252", encoding_errors="strict", **kw)
        except UnicodeDecodeError:
            raise DataError(
                f"{p}: byte 0x{e.object[e.start]:02x} at offset {e.start} is neither "
                f"{enc} nor cp1252; set data.encoding to the file's encoding"
            ) from None
        log.warning(
            "warning: %s: not valid %s (byte 0x%02x at offset %d); read it as cp1252 "
            "instead: check accented text, or set data.encoding",
            p,
            enc,
            e.object[e.start],
            e.start,
        )
        return df


def _sep_hint(p: Path, sep: str, enc: str) -> str | None:
    """'looks semicolon-delimited, set data.sep' when the header splits better on another sep."""
    with open(p, encoding=enc, errors="replace") as f:
        header = f.readline()
    counts = {c: header.count(c) for c in SEPARATORS if c != sep}
    best = max(counts, key=counts.get)
    if counts[best] > header.count(sep):
        return f"looks {SEPARATORS[best]}-delimited, set data.sep: {best!r} in the config"
    return None


def require_columns(df: pd.DataFrame, cols: list[str], path: str | Path, key: str) -> None:
    """Fail with the closest existing name when a configured column is absent."""
    have = list(df.columns)
    for c in cols:
        if c not in have:
            close = difflib.get_close_matches(c, have, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            shown = ", ".join(have[:15]) + (" ..." if len(have) > 15 else "")
            raise DataError(f"{path}: column '{c}' ({key}) not found; columns are: {shown}{hint}")


def parse_dates(
    s: pd.Series, path: str | Path, col: str, dayfirst: bool = False, unit: str | None = None
) -> pd.Series:
    """Dates for training (a bad one is a one-line error); scoring rejects the row instead
    (`pipeline.serving.rows`). Both use `rules.to_datetimes`: 1970-2200, one day/month order
    (`dayfirst`), epoch numbers only with their `unit`, else bad."""
    out, bad = to_datetimes(s, dayfirst, unit)
    refuse_bad_dates(s, bad, path, col, dayfirst)
    return out


def refuse_bad_dates(
    s: pd.Series,
    bad: pd.Series | np.ndarray,
    path: str | Path,
    col: str,
    dayfirst: bool = False,
    first_row: int = 0,
) -> None:
    """`parse_dates`' error at the first bad cell of `s`, for dates parsed already. `first_row`:
    how many data rows of the file come before `s` (a block read on its own)."""
    if bad.any():
        i = int(np.flatnonzero(np.asarray(bad))[0])
        raise DataError(
            f"{path}: column '{col}' row {first_row + i + 2}: {date_problem(s.iloc[i], dayfirst)} "
            f"'{clean_value(s.iloc[i])}'; use ISO dates such as 2026-01-31 or 2026-01-31 14:00:00 "
            f"within {DATE_RANGE} (or set schema.dayfirst for 31.01.2026)"
        )


def check_numbers(
    s: pd.Series,
    bad: pd.Series | np.ndarray,
    n_nonfinite: int,
    path: str | Path,
    col: str,
    counts: dict[str, int] | None,
    decimal: str,
    first_row: int = 0,
) -> None:
    """The error at the first bad cell of a numeric column and its count (or warning) of
    non-finite ones, for numbers parsed already (`rules.to_numbers`). `first_row`: as in
    `refuse_bad_dates`."""
    if bad.any():
        i = int(np.flatnonzero(np.asarray(bad))[0])
        raise DataError(
            f"{path}: column '{col}' row {first_row + i + 2}: '{clean_value(s.iloc[i])}' is not a number "
            f"with the column's {DECIMAL_WORDS[decimal]}; fix the value, set data.decimal, or "
            "move the column from schema.numeric to schema.categorical"
        )
    if n_nonfinite and counts is not None:
        counts[col] = counts.get(col, 0) + n_nonfinite
    elif n_nonfinite:
        log.warning(nonfinite_warning(path, {col: n_nonfinite}))


def refuse_bad_flags(
    s: pd.Series, bad: pd.Series | np.ndarray, path: str | Path, col: str, first_row: int = 0
) -> None:
    """The error at the first bad cell of a yes/no column, for flags parsed already
    (`rules.to_flags`). `first_row`: as in `refuse_bad_dates`."""
    if bad.any():
        i = int(np.flatnonzero(np.asarray(bad))[0])
        raise DataError(
            f"{path}: column '{col}' row {first_row + i + 2}: '{s.iloc[i]}' is not a yes/no value; use "
            "Yes/No, Y/N, true/false or 1/0, or move the column from schema.flags to "
            "schema.categorical"
        )

"""A sample of one export file, read for guessing: its delimiter, encoding and placeholders.

The whole file is read, in chunks (`pipeline.onboarding.wholefile`); the rows guessing works on
(its first rows and a seeded draw from the rest) are read as strings with placeholders as missing values: guessing must not depend
on the dtypes pandas would infer, and placeholders ('Select', 'N/A') would pass for category values.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.errors import DataError
from pipeline.io.compressed import plain_file
from pipeline.io.readers import SEPARATORS, file_kind, text_chunks
from pipeline.onboarding.wholefile import FileFacts, scan

SAMPLE_ROWS = 20_000
PLACEHOLDERS = [
    "Select",
    "-",
    "--",
    "N/A",
    "n/a",
    "NA",
    "#N/A",
    "null",
    "NULL",
    "None",
    "none",
    "?",
    "(not set)",
    "not provided",
    "unknown",
    "Unknown",
    "UNKNOWN",
]


@dataclass
class Table:
    path: Path
    sep: str
    encoding: str
    df: pd.DataFrame  # sample, strings, placeholders replaced by NA
    placeholders: dict[str, int]
    notes: list[str] = field(default_factory=list)
    facts: FileFacts = field(default_factory=FileFacts)  # the whole file (wholefile.py)


def _sniff(path: Path) -> tuple[str, str, list[str]]:
    """Delimiter and encoding from the first 64 KB: the header decides, quotes respected."""
    with open(plain_file(path), "rb") as f:  # a compressed file: its plain copy
        raw = f.read(65536)
    notes = []
    try:
        text = raw.decode("utf-8-sig")
        enc = "utf-8"
    except UnicodeDecodeError as e:
        if e.start < len(raw) - 4:  # not merely a multi-byte character cut at 64 KB
            text, enc = raw.decode("cp1252", errors="replace"), "cp1252"
            notes.append(f"{path}: not valid UTF-8; drafted data.encoding: cp1252")
        else:
            text, enc = raw[: e.start].decode("utf-8-sig"), "utf-8"
    lines = text.splitlines()[:20]
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        sep = max(SEPARATORS, key=header.count)
    return sep, enc, notes


def read_sample(path: str | Path) -> Table:
    """The first rows as strings with placeholders as NA: guessing must not depend on dtypes
    pandas would infer, and placeholders ('Select', 'N/A') would pass for category values."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found; check the path given to leadscore init")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty; export it again with a header row and data")
    parquet = file_kind(p) == "parquet"
    sep, enc, notes = (",", "utf-8", []) if parquet else _sniff(p)
    # the whole file, chunk by chunk: its facts, and the head plus a draw from the rest
    df, facts = scan(text_chunks(p, sep, enc), SAMPLE_ROWS, ["", *PLACEHOLDERS])
    if df is None or df.empty:
        raise DataError(f"{p}: header only, no rows; export the data with its rows")
    df.columns = [str(c).lstrip("\ufeff").strip() for c in df.columns]
    facts.counts = {str(c).lstrip("\ufeff").strip(): v for c, v in facts.counts.items()}
    # read by `classify`: a column is constant only if it is in the whole file
    df.attrs["distinct"] = {c: facts.distinct(c) for c in facts.counts}
    if df.empty:
        raise DataError(f"{p}: header only, no rows; export the data with its rows")
    found = {}
    for ph in PLACEHOLDERS:
        n = int((df == ph).to_numpy().sum())
        if n:
            found[ph] = n
    df = df.replace(["", *found], pd.NA)
    df = df.apply(lambda s: s.str.strip() if s.dtype != object else s)
    return Table(p, sep, enc, df, found, notes, facts)

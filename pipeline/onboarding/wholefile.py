"""The whole export read once, in chunks, for the facts `init` drafts from.

`init` once read only the first 20,000 rows. On a file sorted by time that dropped three columns
as "one value in every filled row" that had 27 distinct values further down, and guessed a 5% win
rate where the file had 11.3%. Here every row is read, a chunk at a time (memory bounded by the
chunk and the capped value counts): the row count, each column's distinct values (exact up to
`DISTINCT_CAP`) and value counts, and the months of date-shaped columns. The rows guessing works
on are the first `SAMPLE_ROWS / 2` plus a seeded uniform draw of as many from the rest, so a
column that only varies late in the file varies in the sample too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io.rules import to_datetimes
from pipeline.validation.claims import DISTINCT_CAP, add_counts

DATE_LIKE = r"^\s*\d{4}-\d{2}|^\s*\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
SEED = 20


@dataclass
class FileFacts:
    """What the whole file says, beyond the sample."""

    rows: int = 0
    counts: dict[str, Counter] = field(default_factory=dict)  # filled values (capped)
    # (date-shaped column, dayfirst) -> the 'YYYY-MM' months seen when read in that order
    months: dict[tuple[str, bool], set] = field(default_factory=dict)

    def distinct(self, column: str) -> int | None:
        """Distinct filled values in the whole file, None when more than `DISTINCT_CAP`."""
        c = self.counts.get(column)
        return None if c is None or len(c) > DISTINCT_CAP else len(c)


def scan(parts: Iterator[pd.DataFrame], sample_rows: int, missing: list[str]) -> tuple:
    """(sample rows, FileFacts) of a whole file given as chunks: the head and a seeded draw."""
    facts, head_n = FileFacts(), sample_rows // 2
    rng = np.random.default_rng(SEED)
    head: list[pd.DataFrame] = []
    pool = None  # the draw from after the head: rows with the smallest random keys
    date_cols: list[str] | None = None
    for part in parts:
        part.index = pd.RangeIndex(facts.rows, facts.rows + len(part))
        facts.rows += len(part)
        add_counts(part, facts.counts, set(missing))
        if date_cols is None:
            date_cols = [c for c in part.columns if part[c].str.match(DATE_LIKE).mean() > 0.9]
        _months(part, date_cols, facts)
        taken = max(0, min(len(part), head_n - sum(len(h) for h in head)))
        head.append(part.iloc[:taken])
        rest = part.iloc[taken:].assign(_key=rng.random(len(part) - taken))
        pool = rest if pool is None else pd.concat([pool, rest])
        pool = pool.nsmallest(sample_rows - head_n, "_key")
    sample = pd.concat([*head, pool.drop(columns="_key").sort_index()]) if head else None
    return sample, facts


def _months(part: pd.DataFrame, date_cols: list[str], facts: FileFacts) -> None:
    """The months of each date-shaped column, read by the loaders' own date rule in both day and
    month orders: which order the file uses is drafted later, from the sample, and the line
    that reports the span must read '01-02-2018' as the loaders will (1 February when day
    first), never as a second parser guesses."""
    for c in date_cols:
        for dayfirst in (False, True):
            d, _ = to_datetimes(part[c], dayfirst=dayfirst)
            seen = facts.months.setdefault((c, dayfirst), set())
            seen.update(d.dropna().dt.strftime("%Y-%m").unique())


def won_share(facts: FileFacts, column: str, won: list[str], lost: list[str]) -> float | None:
    """The whole file's share of won among won + lost values of `column`, None when uncounted."""
    counts = facts.counts.get(column)
    if not counts or facts.distinct(column) is None:
        return None
    n_won, n_lost = sum(counts[v] for v in won), sum(counts[v] for v in lost)
    return n_won / (n_won + n_lost) if n_won + n_lost else None


def rows_note(path: Path, facts: FileFacts, created_at: str | None, dayfirst: bool) -> str:
    """The line saying how much was read: the whole file, and the months its dates span (read in
    the drafted day/month order)."""
    note = f"{path.name}: read the whole file ({facts.rows:,} rows)"
    months = facts.months.get((created_at or "", dayfirst))
    if months:
        note += f"; creation dates span {len(months)} months ({min(months)} to {max(months)})"
    return note


def whole_base_rate(leads: FileFacts, outcomes: object, outcome: object) -> float | None:
    """The export's win rate among closed leads, from whole-file counts: the outcome column's
    values, or (outcomes table listing only the won) its rows over the leads' rows."""
    if outcomes is None:
        if not outcome.column:
            return None
        return won_share(leads, outcome.column, outcome.won, outcome.lost)
    if outcome.column:
        return won_share(outcomes.facts, outcome.column, outcome.won, outcome.lost)
    won = outcomes.facts.distinct(outcome.lead_id) or outcomes.facts.rows
    return min(won / leads.rows, 1.0) if leads.rows else None

"""Checks of single config values, run when the config loads (pipeline.config).

Each says what is allowed, so a bad value fails at load time in one line naming the key instead
of as a library traceback deep inside reading or training. Imports nothing of the pipeline.
"""

from __future__ import annotations

import codecs
from typing import Literal

import pandas as pd

TIME_UNITS = Literal["s", "ms", "us", "ns"]


def check_sep(v: str) -> str:
    """A CSV delimiter is exactly one character (pandas and pyarrow read nothing else)."""
    if len(v) != 1:
        raise ValueError(f"{v!r} is not one character; use one such as ',' ';' '|' or '\\t'")
    return v


TABLES = ("leads", "activities", "outcomes")


def _one_encoding(v: object) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{v!r} is not an encoding name; use one such as utf-8 or cp1252")
    try:
        codecs.lookup(v)
    except LookupError:
        raise ValueError(
            f"unknown encoding {v[:40]!r}; use one Python knows, such as utf-8, cp1252, "
            "latin-1 or utf-16"
        ) from None
    return v


def check_encoding(v: object) -> str | dict[str, str]:
    """One encoding Python can decode with, or a mapping of tables (leads, activities, outcomes)
    to such encodings."""
    if isinstance(v, dict):
        other = [k for k in v if k not in TABLES]
        if other:
            raise ValueError(
                f"unknown table {str(other[0])[:40]!r}; name leads, activities or outcomes"
            )
        return {k: _one_encoding(e) for k, e in v.items()}
    return _one_encoding(v)


def encoding_of(v: str | dict[str, str], table: str) -> str:
    """One string is every file's encoding (as before); a mapping names tables, others utf-8."""
    if isinstance(v, str):
        return v
    return v.get(table, "utf-8")


def check_snapshot_days(v: list[int]) -> list[int]:
    """Snapshot ages are days after creation: at least one, each positive."""
    if not v:
        raise ValueError("empty; list lead ages in days such as [1, 7, 30]")
    bad = [d for d in v if d <= 0]
    if bad:
        raise ValueError(f"{bad[0]} is not a positive number of days; use ages such as [1, 7, 30]")
    return v


def check_date(v: str | None) -> str | None:
    """A date given in the config parses as one (ISO form), within 1970-2200."""
    if v is None:
        return v
    try:
        ts = pd.Timestamp(str(v))
    except (ValueError, TypeError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts) or not any(ch.isdigit() for ch in str(v)):
        raise ValueError(f"{str(v)[:40]!r} is not a date; use ISO form such as 2026-01-31")
    if not (pd.Timestamp("1970-01-01") <= ts.tz_localize(None) <= pd.Timestamp("2200-12-31")):
        raise ValueError(f"{str(v)[:40]!r} is outside 1970-2200")
    return v


def check_half_lives(v: list[float]) -> list[float]:
    """features.decay_half_life_days: distinct half-lives, each in (0, 3650] days."""
    if any(not (0 < h <= 3650) for h in v) or len(set(v)) != len(v):
        raise ValueError("give distinct half-lives in days, each above 0 and at most 3650")
    return v

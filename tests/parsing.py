"""Whole-column parsers for tests: the readers' rules (`io.rules`) and their one-line errors
(`io.readers`) composed as every reader composes them, so a test can ask "does this column read".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.io.readers import check_numbers, refuse_bad_flags
from pipeline.io.rules import number_convention, to_flags, to_numbers


def parse_numbers(
    s: pd.Series,
    path: str | Path,
    col: str,
    counts: dict[str, int] | None = None,
    decimal: str | None = None,
) -> pd.Series:
    """Numbers in one decimal convention (`decimal`, else decided over the column); `inf`,
    `-inf`, `1e309` and `NaN` text are missing values, counted per column in `counts` (or in a
    warning line here when no `counts` is given)."""
    decimal = decimal or number_convention(s)
    out, bad, n_nonfinite = to_numbers(s, decimal)
    check_numbers(s, bad, n_nonfinite, path, col, counts, decimal)
    return out


def parse_flags(s: pd.Series, path: str | Path, col: str) -> pd.Series:
    """Yes/No, Y/N, true/false, 1/0 (any case) -> 1.0/0.0; missing stays NaN."""
    out, bad = to_flags(s)
    refuse_bad_flags(s, bad, path, col)
    return out

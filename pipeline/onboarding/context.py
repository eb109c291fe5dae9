"""Columns that describe the period, not the lead: `schema.context` as `leadscore init` drafts it.

A phone-campaign export carries economy indicators (an employment index, an interbank rate): every
lead contacted in the same weeks has the same value. The model may use them, but a salesperson
cannot act on the employment rate, so reports call them market conditions and a lead's reasons say
them once. Two signs tell such a column, both measured on numbers only (a lead's own category,
such as a job, can be sorted into runs too):

- with creation dates: within each week nearly every lead has the week's one value;
- without: along the file (in time order) the value stays the same for long runs, far longer
  than the same values in random order would (a run of one value in shuffled rows lasts
  1 / (1 - sum of squared value shares) rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.io.rules import to_datetimes

MIN_VALUES = 3  # a column with fewer distinct values is a flag or a constant, not an indicator
WEEK_SHARE = 0.9  # share of a week's leads with the week's most common value
MIN_WEEKS = 4  # weeks (of at least WEEK_ROWS leads) the dated rule needs
WEEK_ROWS = 5
MIN_RUN = 20  # mean rows per run of one value, in file order
RUN_RATIO = 10  # and that many times the run a shuffled column would give


def _numbers(s: pd.Series) -> pd.Series:
    """A sample column (strings) as numbers; a decimal comma read as a point."""
    return pd.to_numeric(s.astype("string").str.replace(",", ".", regex=False), errors="coerce")


def _same_in_weeks(x: pd.Series, week: pd.Series) -> bool:
    """Nearly every lead of a week has the week's one value, over MIN_WEEKS weeks or more, and
    the weeks' values differ (at least MIN_VALUES of them). A column that holds one value for
    nearly every lead anyway (a count of demo requests, mostly 0) agrees within each week by
    itself: that is no sign of the period, so the most common value must not cover WEEK_SHARE
    of the leads."""
    d = pd.DataFrame({"x": x, "w": week}).dropna()
    sizes = d.groupby("w")["x"].size()
    full = sizes[sizes >= WEEK_ROWS].index
    d = d[d["w"].isin(full)]
    if len(full) < MIN_WEEKS or d["x"].value_counts(normalize=True).iloc[0] >= WEEK_SHARE:
        return False
    counts = d.groupby(["w", "x"]).size()
    top = counts.groupby(level=0).max()
    modes = counts[counts == counts.groupby(level=0).transform("max")].reset_index()["x"]
    return float(top.sum() / len(d)) >= WEEK_SHARE and modes.nunique() >= MIN_VALUES


def _long_runs(x: pd.Series) -> bool:
    """Runs of one value along the file, far longer than random order would make them."""
    v = x.dropna().to_numpy(float)
    if len(v) < MIN_RUN * MIN_VALUES:
        return False
    runs = 1 + int(np.count_nonzero(v[1:] != v[:-1]))
    share = pd.Series(v).value_counts(normalize=True).to_numpy()
    shuffled = 1.0 / max(1.0 - float((share**2).sum()), 1e-9)
    mean_run = len(v) / runs
    return mean_run >= MIN_RUN and mean_run >= RUN_RATIO * shuffled


def in_file_order(df: pd.DataFrame) -> pd.DataFrame:
    """The sample's first consecutive rows (its index is the row number in the file): the rows
    whose order is the file's, before the draw from the rest."""
    idx = np.asarray(df.index)
    if not len(idx) or not np.issubdtype(idx.dtype, np.integer):
        return df
    breaks = np.flatnonzero(np.diff(idx) != 1)
    return df.iloc[: breaks[0] + 1] if len(breaks) else df


def context_columns(
    df: pd.DataFrame, numeric: list[str], created: str | None = None, dayfirst: bool = False
) -> dict[str, str]:
    """The numeric columns of `df` (a sample of the leads file) that describe the period, each with
    the evidence the draft writes beside it."""
    week = None
    if created and created in df:
        when, _ = to_datetimes(df[created], dayfirst=dayfirst)  # the loaders' own date rule
        week = when.dt.to_period("W") if when.notna().any() else None
    ordered = in_file_order(df)
    out = {}
    for c in numeric:
        x = _numbers(df[c])
        if x.nunique() < MIN_VALUES:
            continue
        if week is not None and _same_in_weeks(x, week):
            out[c] = f"one value per week of creation for {WEEK_SHARE:.0%}+ of leads: the period's"
        elif week is None and _long_runs(_numbers(ordered[c])):
            out[c] = (
                "the same value for long runs of consecutive rows: the period's, not the lead's"
            )
    return out

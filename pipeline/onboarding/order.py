"""Whether an export without dates runs oldest to newest: the evidence `init` drafts
`data.rows_in_time_order` from (commented: the user confirms it, a guess never changes the split).

Two signs, either enough: the lead id increases down the file (ids handed out in order), or
columns that describe the period rather than the lead (a rate, a campaign wave) hold the same
value over long runs of consecutive rows and change rarely, as they do along time. The sample's
rows keep their file order (`wholefile.scan` sorts the draw by position).
"""

from __future__ import annotations

import pandas as pd

ROW_NUMBER = "row_number"  # the id column init tells a user without ids to add (draft.py)
MIN_ROWS = 200
INCREASING_SHARE = 0.99  # consecutive id pairs that must increase
RUN_SHARE = 0.95  # consecutive rows that must repeat the previous value of a period column
MIN_VALUES = 3  # a period column changes at least this often along the file


def _id_numbers(s: pd.Series) -> pd.Series:
    """The number inside each id (L0000123 -> 123); NaN where there is none."""
    return pd.to_numeric(s.astype("string").str.extract(r"(\d+)\s*$")[0], errors="coerce")


def id_increases(df: pd.DataFrame, lead_id: str) -> bool:
    """The id's numbers increase down the file on nearly every pair of consecutive rows."""
    n = _id_numbers(df[lead_id]).dropna()
    if len(n) < MIN_ROWS:
        return False
    return bool((n.diff().dropna() > 0).mean() >= INCREASING_SHARE)


def period_runs(df: pd.DataFrame, skip: set[str]) -> list[str]:
    """Columns whose value repeats from one row to the next on nearly every row yet takes at
    least MIN_VALUES values that each hold a stretch of the file: the marks of a period."""
    out = []
    if len(df) < MIN_ROWS:
        return out
    for c in df.columns:
        if c in skip:
            continue
        s = df[c].astype("string")
        if s.isna().mean() > 0.5 or s.nunique() < MIN_VALUES or s.nunique() > len(s) // 50:
            continue
        same = (s == s.shift()).fillna(False).iloc[1:].mean()
        top = s.value_counts(normalize=True).iloc[0]
        if same >= RUN_SHARE and top < 0.9:
            out.append(c)
    return out


def time_order_evidence(df: pd.DataFrame, lead_id: str, skip: set[str]) -> str | None:
    """Why the rows look oldest first, in words for the drafted comment; None without evidence."""
    said = []
    # the row number init asked for increases down any file, in time order or not: no evidence
    if lead_id in df and lead_id != ROW_NUMBER and id_increases(df, lead_id):
        said.append(f"'{lead_id}' increases down the file")
    runs = period_runs(df, skip | {lead_id})
    if runs:
        shown = ", ".join(f"'{c}'" for c in runs[:3])
        verb = "holds" if len(runs) == 1 else "hold"
        said.append(f"{shown} {verb} the same value over long runs of rows")
    return "; ".join(said) or None

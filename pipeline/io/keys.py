"""Looking lead ids up in other lead ids, fast on pyarrow strings, and counting how many match.

Every stage joins events, snapshots and outcomes to leads by id; pandas' `isin` and `get_indexer`
on pyarrow strings turn every value into a Python object first (seconds and gigabytes at tens of
millions of events), so the joins go through here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import DataError
from pipeline.io.rules import clean_value


def index_positions(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in `ids` (unique), -1 when absent (missing values too).

    Categorical values (training's events name their lead by a code into the leads' ids) are
    looked up once per category, not once per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        at = index_positions(ids, pd.Series(values.array.categories))
        codes = np.asarray(values.array.codes)
        return np.where(codes >= 0, np.append(at, -1)[codes], -1).astype(np.int64)
    a, v = _arrow_strings(ids), _arrow_strings(values)
    if a is not None and v is not None:
        found = pc.index_in(v, value_set=a.cast(v.type))
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), np.int64)
    return pd.Index(ids).get_indexer(values)


def present_in(ids: pd.Index | pd.Series, values: pd.Index | pd.Series) -> np.ndarray:
    """For each of `ids`, whether it occurs among `values` (any number of times, either side)."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # the categories that occur, once each
        codes = np.asarray(values.array.codes)
        values = pd.Series(values.array.categories.take(np.unique(codes[codes >= 0])))
    a, v = _arrow_strings(ids), _arrow_strings(values)
    if a is not None and v is not None:
        hit = pc.is_in(a, value_set=pc.unique(v).cast(a.type))
        return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), bool)
    return np.asarray(pd.Series(ids).isin(pd.unique(np.asarray(values, dtype=object))), bool)


def _arrow_strings(x: pd.Index | pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The pyarrow string array behind a pandas string column or index, else None."""
    if not isinstance(x.dtype, pd.StringDtype) or x.dtype.storage != "pyarrow":
        return None
    arr = pa.array(x.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


FAR_BELOW = 0.5  # a share under half the training one is far below it: a warning line


@dataclass
class MatchCount:
    """How many rows of a table (activities, outcomes) name a lead of the leads file, and how many
    of those leads have a row, by the one id rule (`rules.normalize_ids`). Every run says both in
    one line: an id column exported another way (`1000.0`, a prefix, another column) shows here
    instead of as quietly worse scores.

    The warning compares the leads' share, not the rows': a scoring run's activities file is often
    the whole history while it scores a few new leads, so most of its rows name other leads."""

    table: str  # 'activities' or 'outcomes'
    n_leads: int = 0  # leads the rows are matched against
    rows: int = 0  # rows with an id
    matched: int = 0  # of them, rows whose id is a lead's
    example: str | None = None  # one id of the table, for the error that none matched
    hit: np.ndarray | None = None  # per lead: has a row

    def add(self, ids: pa.Array | pa.ChunkedArray | pd.Series, lead_at: np.ndarray) -> None:
        """Count a block of ids (missing ones are not rows with an id) and the position of each
        one's lead among the `n_leads` (-1: none)."""
        if isinstance(ids, pd.Series):
            valid = ids.notna().to_numpy(bool)
        else:
            valid = np.asarray(pc.is_valid(ids).to_numpy(zero_copy_only=False), bool)
        lead_at = np.asarray(lead_at, np.int64)
        self.rows += int(valid.sum())
        self.matched += int(((lead_at >= 0) & valid).sum())
        if self.hit is None:
            self.hit = np.zeros(self.n_leads, bool)
        self.hit[lead_at[lead_at >= 0]] = True
        if self.example is None and valid.any():
            at = int(np.flatnonzero(valid)[0])
            self.example = str(ids.iloc[at] if isinstance(ids, pd.Series) else ids[at].as_py())

    @property
    def share(self) -> float | None:
        """Share of the rows that name a lead."""
        return self.matched / self.rows if self.rows else None

    @property
    def lead_share(self) -> float | None:
        """Share of the leads that have a row."""
        if not self.n_leads:
            return None
        return int(self.hit.sum()) / self.n_leads if self.hit is not None else 0.0

    def shares(self) -> tuple[float | None, float | None]:
        """(rows' share, leads' share): what training keeps with the model (plain numbers)."""
        return self.share, self.lead_share

    def line(self, path: object, leads: object) -> str:
        """The one line every run prints about this table's ids."""
        with_row = 0 if self.hit is None else int(self.hit.sum())
        return (
            f"{path}: {self.matched:,} of {self.rows:,} {self.table} rows "
            f"({self.share or 0:.1%}) match a lead of {leads}; {with_row:,} of "
            f"{self.n_leads:,} leads ({self.lead_share or 0:.1%}) have {self.table}"
        )

    def refuse_none(self, path: object, col: str, leads: object, lead_col: str, lead: str) -> None:
        """A table with rows of which none names a lead is an error, not a run without them:
        both id columns named, with an id of each (`lead`: one of the leads file)."""
        if self.rows and not self.matched:
            raise DataError(
                f"{path}: none of its {self.rows:,} {self.table} rows matches a lead of {leads}: "
                f"column '{col}' holds ids such as '{clean_value(self.example)}', column "
                f"'{lead_col}' of the leads ids such as '{clean_value(lead)}'; export both id "
                "columns the same way or name the right columns in the config"
            )

    def far_below(self, trained: float | None) -> str | None:
        """The warning when this run's share of leads with a row is far below the training one,
        else None."""
        share = self.lead_share
        if trained is None or share is None or share >= trained * FAR_BELOW:
            return None
        return (
            f"warning: leads with {self.table}: {share:.1%}, against {trained:.1%} when the "
            f"model was trained; check how the {self.table} ids were exported"
        )

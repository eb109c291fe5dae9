"""Looking lead ids up in other lead ids, fast on pyarrow strings.

Every stage joins events, snapshots and outcomes to leads by id; pandas' `isin` and `get_indexer`
on pyarrow strings turn every value into a Python object first (seconds and gigabytes at tens of
millions of events), so the joins go through here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def index_positions(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in `ids` (unique), -1 when absent (missing values too)."""
    a, v = _arrow_strings(ids), _arrow_strings(values)
    if a is not None and v is not None:
        found = pc.index_in(v, value_set=a.cast(v.type))
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), np.int64)
    return pd.Index(ids).get_indexer(values)


def present_in(ids: pd.Index | pd.Series, values: pd.Index | pd.Series) -> np.ndarray:
    """For each of `ids`, whether it occurs among `values` (any number of times, either side)."""
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

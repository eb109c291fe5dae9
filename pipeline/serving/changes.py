"""Score changes of a scoring run: the earlier scores it compares with, and the columns it adds.

The earlier score of a lead is its row in the previous scores file (`--previous FILE`) or its
latest row in the scores database from another run (`database.read_previous`). A chunk's scores
then gain `score_change` (score minus the earlier score; empty the first time), `change_reason`
(`pipeline.explain.changes`) and `score_parts`, the packed field parts the next run compares with.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.explain import changes
from pipeline.io.rules import FORMULA_START

if TYPE_CHECKING:
    from pipeline.modeling.scorer import Scorer

EARLIER = ["lead_id", "score", "model_version", changes.PARTS]


def earlier_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Earlier scores indexed by lead id as the scorer names it (the CSV's `'` formula guard
    taken off), one row per lead (the last), `score_parts` empty where there was none."""
    ids = df["lead_id"].astype("string")
    guarded = ids.str.startswith("'").fillna(False) & ids.str[1:].str.startswith(FORMULA_START)
    df = df.assign(lead_id=ids.where(~guarded.fillna(False), ids.str[1:]))
    if changes.PARTS not in df.columns:
        df[changes.PARTS] = None
    df = df.drop_duplicates("lead_id", keep="last").set_index("lead_id")
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    return df[EARLIER[1:]]


def read_previous_file(path: Path) -> pd.DataFrame:
    """The scores file of an earlier run (csv, csv.gz or parquet) as `earlier_frame`."""
    if not path.is_file():
        raise DataError(f"{path}: previous scores file not found; check --previous")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(  # only the columns compared with: a third of the reading
                path,
                usecols=lambda c: c in EARLIER,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: not a readable scores file ({e}); check --previous") from None
    missing = [c for c in EARLIER[:3] if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: not a scores file (no column {', '.join(missing)}); give --previous "
            "the output of an earlier 'leadscore score'"
        )
    return earlier_frame(df)


def with_changes(
    res: pd.DataFrame,
    X: pd.DataFrame,
    scorer: Scorer,
    version: str,
    as_of: pd.Timestamp,
    earlier: pd.DataFrame | None,
) -> pd.DataFrame:
    """A chunk's scores (from `score_features(..., parts=True)`) with the change columns: the
    `_part:` columns become the packed `score_parts`; with earlier scores, `score_change` and
    `change_reason` for the leads scored before."""
    cols = [c for c in res.columns if c.startswith(changes.PART_PREFIX)]
    fields = [c[len(changes.PART_PREFIX) :] for c in cols]
    fc = res[cols].to_numpy(float)
    res = res.drop(columns=cols)
    if cols:
        fp = changes.fields_fingerprint(fields)
        res[changes.PARTS] = changes.encode(fp, as_of, changes.data_hash(X), fc)
    if earlier is None:
        return res
    pos = earlier.index.get_indexer(res.index)
    seen = np.flatnonzero(pos >= 0)
    before = earlier["score"].to_numpy(float)[pos[seen]]
    delta = np.full(len(res), np.nan)
    delta[seen] = res["score"].to_numpy(float)[seen] - before
    res["score_change"] = pd.array(np.round(delta), dtype="Int64")
    reason = np.full(len(res), None, dtype=object)
    if cols and len(seen):
        pooled = getattr(scorer, "pooled", scorer)
        ctx = changes.Context(
            fields=fields,
            activity_fields=set(scorer.builder.activity_types_),
            has_time=scorer.builder.has_time_,
            version=str(version),
            words={**pooled.reason_words(), "memo": pooled.phrase_memo()},
        )
        old = changes.decode(earlier[changes.PARTS].to_numpy(object)[pos[seen]], len(fields))
        was = earlier["model_version"].to_numpy(object)[pos[seen]]
        moved = delta[seen]
        reason[seen] = changes.change_reasons(ctx, X.iloc[seen], fc[seen], as_of, old, was, moved)
    res["change_reason"] = reason
    return res

"""Rows of a file to score: the columns the model needs, the rows that cannot be scored (with the
reason), and the canonical leads and events the fitted scorer reads. Shared by the batch scorer,
the REST model and notebooks, so every path rejects and parses the same way."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.config import SchemaConfig
from pipeline.errors import DataError
from pipeline.io.canonical import LeadValues, canonical_leads
from pipeline.io.rules import (
    DECIMAL_WORDS,
    clean_text,
    clean_value,
    date_problem,
    normalize_ids,
)
from pipeline.monitoring.drift import DriftCounter

if TYPE_CHECKING:
    from pipeline.modeling.scorer import LeadScorer

log = logging.getLogger(__name__)
LATER_DUPLICATE = "duplicate lead id (first row scored)"
NORMALIZED_DUPLICATE = (
    "duplicate lead id once surrounding spaces, invisible characters and a trailing .0 are "
    "removed (first row scored)"
)
MERGED_DUPLICATE = (
    "duplicate lead id once control characters are removed and it is cut to 60 characters "
    "(first row scored)"
)


def model_schema(scorer: LeadScorer) -> SchemaConfig:
    return SchemaConfig.model_validate(scorer.meta["schema"])


def drift_counter(scorer: LeadScorer) -> DriftCounter:
    """A scoring run's drift counter, told what the served model reads and which columns are
    the market conditions (`schema.context`, named by `schema.labels`): drift is said only of
    what moves a score, and of the period's columns once, in words (`monitoring.drift`)."""
    sc = model_schema(scorer)
    ref = scorer.meta.get("drift_reference")
    used = scorer.used_features() if ref is not None else None
    return DriftCounter(ref, used=used, context=sc.context, labels=sc.labels)


def trained_decimals(scorer: LeadScorer) -> dict[str, str]:
    """Each numeric column's decimal convention in the training data: scoring reads a column of
    only ambiguous values (`1.234`) as training did, unless the scoring config sets data.decimal.
    A model trained before this was kept has none: each column is decided over its own values."""
    return dict(scorer.meta.get("decimals") or {})


def required_columns(scorer: LeadScorer) -> list[str]:
    sc = model_schema(scorer)
    return [sc.lead_id, *scorer.builder.categorical, *scorer.builder.numeric]


def check_columns(raw: pd.DataFrame, scorer: LeadScorer, path: str | Path) -> None:
    """Missing model columns are an error listing them all; extra columns are ignored with a note."""
    need = required_columns(scorer)
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: the model needs column(s) {', '.join(missing)} which the file lacks; "
            "export them or retrain on the columns you have"
        )
    sc = model_schema(scorer)
    known = set(need) | {sc.created_at, sc.email, "activities", *sc.drop}
    extra = [c for c in raw.columns if c not in known]
    if extra:
        shown = ", ".join(extra[:8]) + (" ..." if len(extra) > 8 else "")
        log.info("%s: ignoring %d column(s) the model does not use: %s", path, len(extra), shown)


def reject_bad_rows(
    raw: pd.DataFrame,
    scorer: LeadScorer,
    as_of: pd.Timestamp | None = None,
    decimals: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into scoreable ones and rejected ones (with the row number and reason): the
    first two of `split_rows`."""
    return split_rows(raw, scorer, as_of, decimals)[:2]


def split_rows(
    raw: pd.DataFrame,
    scorer: LeadScorer,
    as_of: pd.Timestamp | None = None,
    decimals: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, LeadValues]:
    """(scoreable rows, rejected rows with the row number and reason, the parsed cells of `raw`
    that `canonical_leads` takes for the scoreable ones, so no cell is parsed twice).

    The rules are those of `pipeline.io.rules`: ids are `normalize_ids` (the scoreable rows
    carry them so); an empty or blank id, an id that repeats an earlier one (also one that
    differs from it only by what `normalize_ids` removes, and once capped for the output, so two
    raw ids never merge silently), a date outside 1970-2200 or unparseable, a lead created
    after `as_of` (it did not exist yet: scoring it would give a negative age), a number or flag
    that does not parse or does not fit its column's decimal convention (`decimals`, else decided
    over the column). A non-finite number is not a bad row: it is read as missing."""
    sc = model_schema(scorer)
    reason = pd.Series("", index=raw.index, dtype=object)
    ids = normalize_ids(raw[sc.lead_id])
    reason[ids.isna().to_numpy()] = "empty lead id"
    exact = raw[sc.lead_id].astype("string").duplicated(keep="first")
    dup = ids.duplicated(keep="first") & (reason == "")
    reason[dup & exact] = LATER_DUPLICATE
    reason[dup & ~exact] = NORMALIZED_DUPLICATE
    merged = clean_text(ids).duplicated(keep="first") & (reason == "")
    reason[merged] = MERGED_DUPLICATE
    values = LeadValues.parse(raw, sc, decimals or trained_decimals(scorer))
    if sc.created_at and sc.created_at in raw.columns:
        s = raw[sc.created_at]
        bad = values.bad[sc.created_at] & (reason == "")
        reason[bad] = [
            f"{sc.created_at}: {date_problem(v, sc.dayfirst)} '{clean_value(v)}'" for v in s[bad]
        ]
        if as_of is not None:
            created = pd.Series(values.parsed[sc.created_at], index=raw.index)
            _reject_after_as_of(reason, created, s, sc.created_at, as_of)
    for c in scorer.builder.numeric:
        s, bad = raw[c], values.bad[c] & (reason == "")
        if c in sc.flags:
            reason[bad] = f"{c} is not a yes/no value"
            continue
        word = DECIMAL_WORDS[values.decimals[c]]
        reason[bad] = [f"{c}: '{clean_value(v, 30)}' is not a number with {word}" for v in s[bad]]
    bad = reason != ""
    good = raw.loc[~bad].assign(**{sc.lead_id: ids[~bad]})
    return good, rejected_frame(raw, bad, sc.lead_id, reason), values


def _reject_after_as_of(
    reason: pd.Series, created: pd.Series, s: pd.Series, col: str, as_of: pd.Timestamp
) -> None:
    """A lead created after the as-of time did not exist yet: a rejected row, in place."""
    late = (created > as_of).fillna(False) & (reason == "")
    reason[late] = [
        f"{col} '{clean_value(v, 30)}' is after the as-of time {as_of.isoformat()}; "
        "use a later --as-of"
        for v in s[late]
    ]


def rejected_frame(
    rows: pd.DataFrame, bad: pd.Series | np.ndarray, id_col: str, reason: str | pd.Series
) -> pd.DataFrame:
    """The rejected-rows file's shape (row, id as given, reason), built in one place so a row
    rejected inside a chunk and one rejected against an earlier chunk read the same.

    `row` is the row number a spreadsheet shows (header = row 1), which is what a person fixing
    the export looks up; it relies on the index being the 0-based position in the whole file.
    """
    bad = np.asarray(bad, dtype=bool)
    out = rows.loc[bad, [id_col]].copy()
    out.insert(0, "row", rows.index[bad] + 2)
    out["reason"] = reason[bad] if isinstance(reason, pd.Series) else reason
    return out


def prepare_leads(
    raw: pd.DataFrame, scorer: LeadScorer, path: str | Path = "input"
) -> pd.DataFrame:
    check_columns(raw, scorer, path)
    return canonical_leads(raw, model_schema(scorer), path, decimal=trained_decimals(scorer))

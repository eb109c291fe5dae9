"""Rows of a file to score: the columns the model needs, the rows that cannot be scored (with the
reason), and the canonical leads and events the fitted scorer reads. Shared by the batch scorer,
the REST model and notebooks, so every path rejects and parses the same way."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.config import SchemaConfig
from pipeline.errors import DataError
from pipeline.io.canonical import canonical_leads, empty_events, normalise_types
from pipeline.io.readers import NO, YES

if TYPE_CHECKING:
    from pipeline.modeling.scorer import LeadScorer

log = logging.getLogger(__name__)


def model_schema(scorer: LeadScorer) -> SchemaConfig:
    return SchemaConfig.model_validate(scorer.meta["schema"])


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


def reject_bad_rows(raw: pd.DataFrame, scorer: LeadScorer) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into scoreable ones and rejected ones (with the row number and reason)."""
    sc = model_schema(scorer)
    reason = pd.Series("", index=raw.index, dtype=object)
    ids = raw[sc.lead_id].astype("string")
    reason[ids.isna()] = "empty lead id"
    reason[ids.duplicated(keep="first") & ids.notna()] = "duplicate lead id (first row scored)"
    if sc.created_at and sc.created_at in raw.columns:
        s = raw[sc.created_at]
        parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed", dayfirst=sc.dayfirst)
        bad = parsed.isna() & s.notna() & (reason == "")
        reason[bad] = f"cannot parse {sc.created_at}"
    for c in scorer.builder.numeric:
        s = raw[c]
        if c in sc.flags:
            low = s.astype("string").str.strip().str.lower()
            bad = low.notna() & ~low.isin(YES | NO) & (reason == "")
            reason[bad] = f"{c} is not a yes/no value"
            continue
        if pd.api.types.is_numeric_dtype(s):
            continue
        parsed = pd.to_numeric(
            s.astype("string").str.replace(",", "", regex=False), errors="coerce"
        )
        bad = parsed.isna() & s.notna() & (reason == "")
        reason[bad] = f"{c} is not a number"
    bad = reason != ""
    return raw.loc[~bad], rejected_frame(raw, bad, sc.lead_id, reason)


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
    return canonical_leads(raw, model_schema(scorer), path)


def events_from_column(raw: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Events carried inside the leads frame as an `activities` column (REST requests)."""
    empty = empty_events()
    if "activities" not in raw.columns:
        return empty
    rows = []
    for lid, acts in zip(ids, raw["activities"], strict=True):
        if isinstance(acts, str):
            acts = json.loads(acts) if acts.strip() else []
        for a in acts if isinstance(acts, list | tuple | np.ndarray) else []:
            rows.append(
                (
                    lid,
                    a.get("occurred_at") or a.get("timestamp"),
                    a.get("type") or a.get("activity_type"),
                )
            )
    if not rows:
        return empty
    ev = pd.DataFrame(rows, columns=["lead_id", "ts", "type"])
    ev["ts"] = (
        pd.to_datetime(ev["ts"], utc=True, format="mixed")
        .dt.tz_localize(None)
        .astype("datetime64[ns]")
    )
    ev["type"] = normalise_types(ev["type"])
    return ev


def parse_as_of(as_of: str | None) -> pd.Timestamp:
    if not as_of:
        return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise DataError(
            f"--as-of '{as_of}': not a date; use ISO form such as 2026-11-01T00:00"
        ) from None
    return ts.tz_convert(None) if ts.tzinfo else ts

"""Batch scoring: raw export in, one scores file out, atomically.

Rows that cannot be scored (no id, a duplicate id, a date or number that does not parse) are
written to a rejected-rows file with the reason; the rest are scored. The scores file is written
to a temporary file and renamed, so a failed run leaves the previous file whole.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config, SchemaConfig
from pipeline.data import (
    NO,
    YES,
    DataError,
    canonical_leads,
    load_events,
    normalise_types,
    read_table,
)

log = logging.getLogger(__name__)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ScoreSummary:
    output: Path
    rejected_path: Path | None
    n_scored: int
    n_rejected: int
    model_version: str
    stages: dict[str, int]


def model_schema(scorer) -> SchemaConfig:
    return SchemaConfig.model_validate(scorer.meta["schema"])


def required_columns(scorer) -> list[str]:
    sc = model_schema(scorer)
    return [sc.lead_id, *scorer.builder.categorical, *scorer.builder.numeric]


def check_columns(raw: pd.DataFrame, scorer, path: str | Path) -> None:
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


def reject_bad_rows(raw: pd.DataFrame, scorer) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    rejected = raw.loc[bad, [sc.lead_id]].copy()
    rejected.insert(0, "row", raw.index[bad] + 2)
    rejected["reason"] = reason[bad]
    return raw.loc[~bad], rejected


def prepare_leads(raw: pd.DataFrame, scorer, path: str | Path = "input") -> pd.DataFrame:
    check_columns(raw, scorer, path)
    return canonical_leads(raw, model_schema(scorer), path)


def events_from_column(raw: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Events carried inside the leads frame as an `activities` column (REST requests)."""
    empty = pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=object),
            "ts": pd.Series(dtype="datetime64[ns]"),
            "type": pd.Series(dtype=object),
        }
    )
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


def neutralise(s: pd.Series) -> pd.Series:
    """Stop a spreadsheet from reading an echoed input value as a formula."""
    s = s.astype("string")
    return s.where(~s.str.startswith(FORMULA_START).fillna(False), "'" + s)


def write_atomic(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            df.to_csv(f, index=False, float_format="%.6f")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def score_files(
    cfg: Config,
    scorer,
    model_version: str,
    leads_path: str | Path,
    activities_path: str | Path | None,
    output: str | Path,
    as_of: pd.Timestamp,
    n_reasons: int,
) -> ScoreSummary:
    leads_path, output = Path(leads_path), Path(output)
    raw = read_table(leads_path, cfg, "leads file")
    if raw.empty:
        raise DataError(f"{leads_path}: header only, no rows; nothing to score")
    check_columns(raw, scorer, leads_path)
    good, rejected = reject_bad_rows(raw, scorer)
    leads = canonical_leads(good, model_schema(scorer), leads_path)
    from pipeline.validate import check_scoring_data

    feats = [*scorer.builder.categorical, *scorer.builder.numeric]
    check_scoring_data(leads, feats, leads_path).log_and_raise()
    events = (
        load_events(cfg, activities_path, lead_ids=leads.index)
        if activities_path
        else load_events(cfg, None)
    )
    scored_at = pd.Timestamp.now(tz="UTC").floor("s").isoformat()
    parts = []
    step = cfg.scoring.chunk_size
    as_of64 = as_of.to_datetime64()
    if len(events):
        events = events.sort_values("lead_id", kind="stable")
    for start in range(0, len(leads), step):
        chunk = leads.iloc[start : start + step]
        ev = events[events["lead_id"].isin(chunk.index)] if len(events) else events
        parts.append(scorer.score(chunk, ev, np.full(len(chunk), as_of64), n_reasons))
    out = pd.concat(parts) if parts else pd.DataFrame()
    out = out.reset_index().rename(columns={"index": "lead_id"})
    out["lead_id"] = neutralise(out["lead_id"])
    out["probability"] = out["probability"].round(6)
    out["model_version"] = model_version
    out["scored_at"] = scored_at
    extra = [c for c in ("fit_score", "engagement_score") if c in out.columns]
    out = out[[c for c in out.columns if c not in extra] + extra]  # after the contract columns
    rej_path = None
    if len(rejected):
        rej_path = output.with_name(output.stem + ".rejected.csv")
        for c in rejected.columns[1:]:  # echoed ids and reasons: no spreadsheet formulas
            rejected[c] = neutralise(rejected[c])
        write_atomic(rejected, rej_path)
    write_atomic(out, output)
    return ScoreSummary(
        output=output,
        rejected_path=rej_path,
        n_scored=len(out),
        n_rejected=len(rejected),
        model_version=model_version,
        stages=out["stage"].value_counts().to_dict() if len(out) else {},
    )

"""The REST (pyfunc) answer to one request: the same rows, dates and numbers rules as the batch
scorer, with errors per record instead of a rejected-rows file.

A record that cannot be scored comes back with `probability` null and an `error` naming the
record index (0-based, in request order) and the column, so one bad cell does not fail a batch
of 1,000 leads; `params.on_error: "raise"` fails the whole request with that message instead.
Problems of the whole request (a missing column, a bad `as_of`) are one clean `DataError`.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.io.canonical import canonical_leads, empty_events, normalise_types
from pipeline.io.rules import activity_filter, clean_value, date_problem, to_datetimes
from pipeline.serving.outputs import clean_cells
from pipeline.serving.request import ScoreRequest
from pipeline.serving.rows import (
    check_columns,
    is_blank,
    model_schema,
    reject_bad_rows,
    trained_decimals,
)

log = logging.getLogger(__name__)


def predict_frame(
    scorer, model_input: pd.DataFrame, params: dict | None, model_version: str = ""
) -> pd.DataFrame:
    """Scores of a request's leads in request order: `lead_id`, `probability`, `error`,
    `model_version` (and `score`, `stage`, reasons, sub-scores with `explain`)."""
    most = len(set(scorer.builder.feature_fields.values()))
    request = ScoreRequest.from_params(params, most)
    raw = model_input.reset_index(drop=True)
    check_columns(raw, scorer, "request")
    sc = model_schema(scorer)
    ids = raw[sc.lead_id].astype("string")
    raw[sc.lead_id] = ids.where(~is_blank(ids))  # a blank id is no id
    errors = pd.Series(pd.NA, index=raw.index, dtype="string")
    _, rejected = reject_bad_rows(raw, scorer, request.as_of)
    for row, reason in zip(rejected["row"], rejected["reason"], strict=True):
        errors[row - 2] = reason
    events, ev_errors = request_events(raw, sc.lead_id)
    errors = errors.fillna(ev_errors)
    if request.on_error == "raise" and errors.notna().any():
        i = int(np.flatnonzero(errors.notna().to_numpy())[0])
        raise DataError(f"record {i} (0-based): {errors[i]}")
    good = raw.loc[errors.isna()]
    out = _score(scorer, good, events, request, sc)
    return _answer(raw[sc.lead_id], out, errors, model_version, request.explain)


def _score(scorer, good, events, request: ScoreRequest, sc) -> pd.DataFrame:
    """Scores of the good records, index = lead id; events the lead could not have are dropped."""
    if not len(good):
        return pd.DataFrame(columns=["probability"])
    leads = canonical_leads(good, sc, "request", decimal=trained_decimals(scorer))
    events = use_events(events, leads, request.as_of)
    when = np.full(len(leads), request.as_of.to_datetime64())
    return scorer.score(leads, events, when, request.n_reasons)


def use_events(events: pd.DataFrame, leads: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Events a feature may use: of a known lead, after its creation, before `as_of`; the others
    are counted in one warning line."""
    if not len(events):
        return events
    nat = np.iinfo(np.int64).min
    pos = leads.index.get_indexer(events["lead_id"])
    created = leads["_created_at"].to_numpy("datetime64[ns]").astype(np.int64)
    per_event = np.where(pos >= 0, created[np.maximum(pos, 0)], nat)
    ts = events["ts"].to_numpy("datetime64[ns]").astype(np.int64)
    cut = np.full(len(events), as_of.to_datetime64().astype("datetime64[ns]").astype(np.int64))
    masks = activity_filter(pos, ts, per_event, cut)
    counts = {k: int(v[pos >= 0].sum()) for k, v in masks.items() if k != "keep"}
    if any(counts.values()):
        log.warning(
            "warning: request: activities not used: %d without a timestamp, %d dated before the "
            "lead was created, %d at or after as_of",
            counts["no_time"],
            counts["before_created"],
            counts["after_as_of"],
        )
    return events.loc[masks["keep"]].reset_index(drop=True)


def request_events(raw: pd.DataFrame, id_col: str) -> tuple[pd.DataFrame, pd.Series]:
    """Events carried in an `activities` column (a list or JSON list of {"type", "occurred_at"})
    and, per record, the error of activities that cannot be read (a bad date is never "today")."""
    errors = pd.Series(pd.NA, index=raw.index, dtype="string")
    if "activities" not in raw.columns:
        return empty_events(), errors
    rows = []
    for i, lid, acts in zip(raw.index, raw[id_col], raw["activities"], strict=True):
        if isinstance(acts, str):
            try:
                acts = json.loads(acts) if acts.strip() else []
            except ValueError:
                errors[i] = "activities: not a JSON list"
                continue
        if acts is None or (isinstance(acts, float) and np.isnan(acts)):
            continue
        if not isinstance(acts, list | tuple | np.ndarray) or not all(
            isinstance(a, dict) for a in acts
        ):
            errors[i] = 'activities: not a list of {"type": ..., "occurred_at": ...}'
            continue
        for a in acts:
            ts = a.get("occurred_at") or a.get("timestamp")
            rows.append((i, lid, ts, a.get("type") or a.get("activity_type")))
    if not rows:
        return empty_events(), errors
    ev = pd.DataFrame(rows, columns=["record", "lead_id", "ts", "type"])
    ts, bad = to_datetimes(ev["ts"].astype(object).where(ev["ts"].notna(), None))
    for rec, value in zip(ev.loc[bad, "record"], ev.loc[bad, "ts"], strict=True):
        if pd.isna(errors[rec]):
            errors[rec] = f"activities.occurred_at: {date_problem(value)} '{clean_value(value)}'"
    ev["ts"] = ts.to_numpy()
    ev["type"] = normalise_types(ev["type"])
    ev = ev[ev["type"].notna() & ~bad.to_numpy()]
    return ev[["lead_id", "ts", "type"]].reset_index(drop=True), errors


def _answer(
    ids: pd.Series, out: pd.DataFrame, errors: pd.Series, version: str, explain: bool
) -> pd.DataFrame:
    """One row per record in request order; failed records carry `error` and null scores."""
    res = pd.DataFrame({"lead_id": ids.astype(object).where(ids.notna(), None)})
    ok = errors.isna().to_numpy()
    cols = [c for c in out.columns if explain or c == "probability"]
    for c in cols:
        col = pd.Series(None, index=res.index, dtype=object)
        if ok.any():
            col[ok] = out.loc[ids[ok].to_numpy(), c].to_numpy(dtype=object)
        res[c] = col
    # object columns: a failed record reads null in JSON (pandas 3 would make NaN of None)
    res["probability"] = pd.Series(
        [None if pd.isna(p) else float(p) for p in res["probability"]],
        index=res.index,
        dtype=object,
    )
    res["error"] = pd.Series(
        [None if pd.isna(e) else f"record {i} (0-based): {e}" for i, e in errors.items()],
        index=res.index,
        dtype=object,
    )
    res["model_version"] = version
    res = clean_cells(res)
    # JSON has no NaN: every missing value (a failed record's score, an empty sub-score) is null
    res = res.astype(object).where(res.notna(), None)
    if not explain:
        res = res.drop(columns="lead_id")
    return res

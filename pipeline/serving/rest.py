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
from pipeline.io.rules import (
    activity_filter,
    as_missing,
    clean_value,
    date_problem,
    missing_markers,
    normalize_ids,
    to_datetimes,
)
from pipeline.serving.outputs import REASON_CAP
from pipeline.serving.request import ScoreRequest
from pipeline.serving.rows import (
    check_columns,
    model_schema,
    reject_bad_rows,
    trained_decimals,
)

log = logging.getLogger(__name__)


def predict_frame(
    scorer, model_input: pd.DataFrame, params: dict | None, model_version: str = ""
) -> pd.DataFrame:
    """Scores of a request's leads in request order: `lead_id`, `probability`, `error`,
    `model_version` (and `score`, `stage`, reasons, sub-scores with `explain`).

    A request is one lead more often than a thousand: the bookkeeping per record (errors, ids,
    the answer) is plain Python lists, not pandas Series, which cost tens of microseconds per
    operation whatever their length; the rules themselves are the shared ones."""
    most = len(set(scorer.builder.feature_fields.values()))
    request = ScoreRequest.from_params(params, most)
    # "Select", "NA": missing, as the batch reader reads the training config's markers
    markers = missing_markers(scorer.meta.get("data"))
    raw = as_missing(model_input.reset_index(drop=True), markers, "activities")
    check_columns(raw, scorer, "request")
    sc = model_schema(scorer)
    raw[sc.lead_id] = normalize_ids(raw[sc.lead_id])  # the one id rule; a blank id is no id
    good, rejected = reject_bad_rows(raw, scorer, request.as_of)
    errors = [None] * len(raw)
    for row, reason in zip(rejected["row"].tolist(), rejected["reason"].tolist(), strict=True):
        errors[row - 2] = reason
    events, record, ev_errors = record_events(raw, sc.lead_id)
    bad_acts = [i for i, e in enumerate(ev_errors) if e is not None and errors[i] is None]
    errors = [e if e is not None else v for e, v in zip(errors, ev_errors, strict=True)]
    failed = [i for i, e in enumerate(errors) if e is not None]
    if request.on_error == "raise" and failed:
        raise DataError(f"record {failed[0]} (0-based): {errors[failed[0]]}")
    # the rows reject_bad_rows hands on (whatever it already parsed), less bad activities
    good = good.drop(index=bad_acts) if bad_acts else good
    if failed and len(events):  # a failed record's activities are not its namesake's
        events = events.loc[~np.isin(record, failed)].reset_index(drop=True)
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


def request_events(raw: pd.DataFrame, id_col: str) -> tuple[pd.DataFrame, list[str | None]]:
    """Events carried in an `activities` column (a list or JSON list of {"type", "occurred_at"})
    and, per record, the error of activities that cannot be read (a bad date is never "today")."""
    events, _, errors = record_events(raw, id_col)
    return events, errors


def record_events(
    raw: pd.DataFrame, id_col: str
) -> tuple[pd.DataFrame, np.ndarray, list[str | None]]:
    """`request_events` with the record (0-based position) each event came from."""
    errors: list[str | None] = [None] * len(raw)
    if "activities" not in raw.columns:
        return empty_events(), np.zeros(0, dtype=int), errors
    records, lids, times, types = [], [], [], []
    for i, (lid, acts) in enumerate(zip(raw[id_col].tolist(), raw["activities"], strict=True)):
        acts, errors[i] = _activities(acts)
        for a in acts:
            records.append(i)
            lids.append(lid)
            times.append(a.get("occurred_at") or a.get("timestamp"))
            types.append(a.get("type") or a.get("activity_type"))
    if not records:
        return empty_events(), np.zeros(0, dtype=int), errors
    # each column inferred as a frame built from these rows would infer it (the dates rule reads
    # the values as given: a text, a number, a datetime)
    ts_given = pd.Series(times)
    ts, bad = to_datetimes(ts_given.astype(object).where(ts_given.notna(), None))
    # no time at all is a record error too, as the batch scorer rejects such an activity row
    bad = bad.to_numpy() | np.isnat(ts.to_numpy("datetime64[ns]"))
    for k in np.flatnonzero(bad):
        if errors[records[k]] is None:
            errors[records[k]] = _time_error(ts_given.iloc[k])
    kind = normalise_types(pd.Series(types))
    keep = ~bad & pd.notna(kind)
    ev = pd.DataFrame({"lead_id": pd.Series(lids), "ts": ts.to_numpy(), "type": kind})
    return ev.loc[keep].reset_index(drop=True), np.asarray(records)[keep], errors


def _time_error(value: object) -> str:
    """The record's error for an activity whose time is missing or does not parse."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 'activities.occurred_at: missing; every activity needs its time ("occurred_at")'
    if isinstance(value, float) and np.isnan(value):
        return 'activities.occurred_at: missing; every activity needs its time ("occurred_at")'
    return f"activities.occurred_at: {date_problem(value)} '{clean_value(value)}'"


def _activities(acts: object) -> tuple[list | tuple | np.ndarray, str | None]:
    """One record's activities as a list of dicts, or no activities and the record's error."""
    if isinstance(acts, str):
        try:
            acts = json.loads(acts) if acts.strip() else []
        except json.JSONDecodeError:
            return [], "activities: not a JSON list"
    if acts is None or (isinstance(acts, float) and np.isnan(acts)):
        return [], None
    if not isinstance(acts, list | tuple | np.ndarray) or not all(
        isinstance(a, dict) for a in acts
    ):
        return [], 'activities: not a list of {"type": ..., "occurred_at": ...}'
    return acts, None


def _answer(
    ids: pd.Series,
    out: pd.DataFrame,
    errors: pd.Series | list,
    version: str,
    explain: bool,
) -> pd.DataFrame:
    """One row per record in request order; failed records carry `error` and null scores.

    Built cell by cell: a failed record's cells and every missing value are None (JSON null,
    never NaN), echoed text (the id, the reasons) is cleaned and capped as in the scores file
    (`clean_value`, the one-value form of the scores file's cell rule)."""
    errors = [None if _missing(e) else e for e in errors]
    ok = [e is None for e in errors]
    given = ids.tolist()
    cols = [c for c in out.columns if explain or c == "probability"]
    pos = out.index.get_indexer([i for i, good in zip(given, ok, strict=True) if good])
    res: dict[str, list] = {}
    if explain:
        res["lead_id"] = [None if _missing(i) else clean_value(i) for i in given]
    for c in cols:
        cap = REASON_CAP if c.startswith("reason_") else None
        scored = iter(_cells(out[c].to_numpy(dtype=object)[pos], cap))
        res[c] = [next(scored) if good else None for good in ok]
    if "probability" in res:  # a number JSON writes as one (not a numpy scalar)
        res["probability"] = [None if p is None else float(p) for p in res["probability"]]
    res["error"] = [
        None if e is None else f"record {i} (0-based): {e}" for i, e in enumerate(errors)
    ]
    res["model_version"] = [version] * len(errors)
    return pd.DataFrame(res, index=ids.index, dtype=object)


def _missing(v: object) -> bool:
    """None, NaN, NA or NaT: what the answer writes as null."""
    return v is None or v is pd.NA or (not isinstance(v, str) and bool(pd.isna(v)))


def _cells(values: np.ndarray, cap: int | None) -> list:
    """A column's cells for the answer: missing -> None, text capped at `cap` when given."""
    cells = [None if _missing(v) else v for v in values]
    if cap is not None:
        cells = [None if v is None else clean_value(v, cap) for v in cells]
    return cells

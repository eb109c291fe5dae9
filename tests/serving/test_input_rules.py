"""The hostile input catalogue through the batch scorer (both readers) and the REST answer
(`serving.rest.predict_frame`, what the served pyfunc model returns), on the session's model.

Built as rules, not cases: every out-of-range or unparseable date is a rejected row, every
non-finite number a counted missing value, every activity without a usable time rejected (never
"today"), every echoed id or value cleaned and capped."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.serving import batch
from pipeline.serving.request import ScoreRequest
from pipeline.serving.rest import predict_frame

pytestmark = pytest.mark.slow  # every test here trains a model

AS_OF = pd.Timestamp("2026-11-01")
BAD_DATES = ["9999-01-01", "0001-01-01", "1850-01-01", "not a date"]
NON_FINITE = ["inf", "-inf", "1e309", "NaN"]


@pytest.fixture(scope="module")
def hostile(trained, sample_dir, tmp_path_factory):
    """A leads file and an activities file holding every hostile case, and the open leads they
    were made from."""
    tmp = tmp_path_factory.mktemp("hostile")
    leads = pd.read_csv(sample_dir / "leads.csv", dtype=str, keep_default_na=False)
    leads = leads[leads["outcome"] == ""].head(40).reset_index(drop=True)
    leads["created_at"] = "2026-10-01 09:00:00"
    leads.loc[0:3, "created_at"] = BAD_DATES
    leads.loc[4:7, "annual_ad_budget"] = NON_FINITE
    leads.loc[8, "lead_id"] = "=L\x00X\r\n"
    leads.loc[9, "lead_id"] = "=LX"  # the same once cleaned: rejected, never merged
    leads.loc[10, "industry"] = "Software" + "x" * 100_000
    ids = leads["lead_id"]
    acts = pd.DataFrame(
        {
            "lead_id": [ids[20], ids[21], ids[22], ids[23], ids[24]],
            "occurred_at": [
                "",
                "9999-01-01 00:00:00",
                "2020-01-01 00:00:00",  # before the lead was created
                "2027-01-01 00:00:00",  # after as-of
                "2026-10-30 10:00:00",  # used
            ],
            "activity_type": ["demo_request"] * 5,
        }
    )
    leads.to_csv(tmp / "leads.csv", index=False)
    acts.to_csv(tmp / "acts.csv", index=False)
    return tmp, leads, acts


def _score(sample_config, scorer, tmp, fast: bool, name: str):
    out = tmp / name / "scores.csv"
    request = ScoreRequest.for_files(
        sample_config, tmp / "leads.csv", tmp / "acts.csv", out, as_of=AS_OF
    )
    return batch._score_chunked(request, scorer, "7", fast=fast)


@pytest.mark.parametrize("fast", [True, False], ids=["pyarrow", "pandas"])
def test_batch_rejects_bad_rows_and_warns_once_per_rule(
    trained, sample_config, hostile, fast, caplog
):
    tmp, leads, _ = hostile
    scorer = trained[0].scorer
    with caplog.at_level(logging.WARNING):
        s = _score(sample_config, scorer, tmp, fast, f"out-{fast}")
    rej = pd.read_csv(s.rejected_path, dtype=str)
    reasons = dict(zip(rej["row"].astype(int), rej["reason"], strict=True))
    assert "date outside 1970-2200 '9999-01-01'" in reasons[2]
    assert "date outside 1970-2200 '0001-01-01'" in reasons[3]
    assert "date outside 1970-2200 '1850-01-01'" in reasons[4]
    assert "cannot parse date 'not a date'" in reasons[5]
    assert "duplicate lead id once surrounding spaces, invisible characters" in reasons[11]
    assert set(reasons) == {2, 3, 4, 5, 11}
    assert s.n_scored == len(leads) - 5
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("4 non-finite" in w and "annual_ad_budget 4" in w for w in warned) == 1
    act = [w for w in warned if "activities not used" in w]
    assert len(act) == 1
    assert "2 without a usable timestamp" in act[0]
    assert "1 dated before the lead was created" in act[0] and "1 at or after" in act[0]
    ev_rej = pd.read_csv(s.rejected_activities, dtype=str)
    assert ev_rej["row"].tolist() == ["2", "3"]
    assert ev_rej["reason"].tolist()[0] == "no occurred_at"


def test_both_readers_write_the_same_scores(trained, sample_config, hostile):
    tmp, _, _ = hostile
    scorer = trained[0].scorer
    a = _score(sample_config, scorer, tmp, True, "same-fast")
    b = _score(sample_config, scorer, tmp, False, "same-pandas")
    fa = pd.read_csv(a.output).drop(columns="scored_at")
    fb = pd.read_csv(b.output).drop(columns="scored_at")
    pd.testing.assert_frame_equal(fa, fb)
    assert a.rejected_activities.read_text() == b.rejected_activities.read_text()


def test_output_cells_are_clean_capped_and_signed(trained, sample_config, hostile):
    tmp, leads, _ = hostile
    s = _score(sample_config, trained[0].scorer, tmp, True, "cells")
    out = pd.read_csv(s.output, dtype=str, keep_default_na=False)
    assert "'=LX" in set(out["lead_id"])  # control characters gone, formula defused
    for frame in (out, pd.read_csv(s.rejected_path, dtype=str, keep_default_na=False)):
        for c in frame.columns:
            text = frame[c].astype(str)
            assert not text.str.contains(r"[\x00-\x1f]", regex=True).any(), c
            assert text.str.len().max() <= 120, c
    reasons = pd.concat([out[c] for c in out.columns if c.startswith("reason_")])
    assert reasons.str.match(r"^\[[+-]\] ").all()
    assert not reasons.str.contains("inf", case=False).any()  # "- annual ad budget -inf" is gone
    assert not reasons.str.contains("xxxxx").any()


def _request(leads: pd.DataFrame, acts: pd.DataFrame) -> pd.DataFrame:
    req = leads.drop(columns=["outcome", "closed_at"]).copy()
    per_lead = acts.groupby("lead_id").apply(
        lambda g: [
            {"type": t, "occurred_at": o}
            for t, o in zip(g.activity_type, g.occurred_at, strict=True)
        ],
        include_groups=False,
    )
    req["activities"] = [per_lead.get(i, []) for i in req["lead_id"]]
    return req


def test_rest_scores_the_batch_and_fails_bad_records_one_by_one(trained, hostile):
    _, leads, acts = hostile
    req = _request(leads, acts)
    req.loc[12, "lead_id"] = " "
    req.loc[13, "lead_id"] = "\x00\t"  # nothing left once cleaned: no id either
    got = predict_frame(trained[0].scorer, req, {"as_of": "2026-11-01", "explain": True}, "7")
    assert len(got) == len(req) and (got["model_version"] == "7").all()
    failed = got["error"].notna()
    assert failed.tolist()[:4] == [True] * 4
    assert got.loc[0, "error"] == (
        "record 0 (0-based): created_at: date outside 1970-2200 '9999-01-01'"
    )
    assert got.loc[12, "error"] == "record 12 (0-based): empty lead id"
    assert "activities.occurred_at: date outside 1970-2200" in got.loc[21, "error"]
    assert got.loc[failed, "probability"].isna().all()
    assert got.loc[~failed, "probability"].between(0, 1).all()
    assert got.loc[13, "error"] == "record 13 (0-based): empty lead id"
    assert set(np.flatnonzero(failed)) == {0, 1, 2, 3, 9, 12, 13, 20, 21}


@pytest.mark.parametrize("time", ["missing", None, "", float("nan")])
def test_rest_an_activity_without_a_time_is_a_record_error_as_in_batch(trained, hostile, time):
    """The batch scorer rejects such an activity row; REST fails its record, never scores it as
    if the activity were not there (or happened today)."""
    _, leads, acts = hostile
    scorer = trained[0].scorer
    one = _request(leads.iloc[[30]], acts)
    act = {"type": "demo_request"} | ({} if time == "missing" else {"occurred_at": time})
    one = one.assign(activities=[[*one["activities"].iloc[0], act]])
    got = predict_frame(scorer, one, {"as_of": "2026-11-01", "explain": True}, "7")
    assert got["error"].iloc[0] == (
        "record 0 (0-based): activities.occurred_at: missing; every activity needs its time "
        '("occurred_at")'
    )
    assert pd.isna(got["probability"].iloc[0])


def test_rest_whole_request_mistakes_are_one_clean_message(trained, hostile):
    _, leads, acts = hostile
    scorer = trained[0].scorer
    req = _request(leads, acts)
    cases = [
        ({"as_of": "3026-11-01"}, "params.as_of '3026-11-01': outside 1970-2200"),
        ({"as_of": "tomorrow-ish"}, "params.as_of 'tomorrow-ish': not a date"),
        ({"on_error": "skip"}, "params.on_error 'skip': use 'row' or 'raise'"),
        ({"explain": True, "n_reasons": -1}, "params.n_reasons '-1': use a whole number 0-"),
        ({"explain": True, "n_reasons": 10**9}, "params.n_reasons '1000000000'"),
        ({"on_error": "raise"}, "record 0 (0-based): created_at: date outside 1970-2200"),
        ({"as_off": "2026-11-01"}, "params.as_off: unknown parameter; use as_of, explain"),
    ]
    for params, message in cases:
        with pytest.raises(DataError) as e:
            predict_frame(scorer, req, {"as_of": "2026-11-01", **params}, "7")
        assert message in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataError, match="the model needs column"):
        predict_frame(scorer, req.drop(columns=["industry"]), {}, "7")
    plain = predict_frame(scorer, req.iloc[30:], {"as_of": "2026-11-01"}, "7")
    assert list(plain.columns) == ["probability", "error", "model_version"]

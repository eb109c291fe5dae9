"""The REST answer (`serving.rest.predict_frame`) is the batch scorer's for the same leads: the
same probability, score, stage, reasons and sub-scores per lead, a record the batch scorer
rejects failed with the same reason, and the answer's rows in request order whatever failed
before them. The answer is built cell by cell (no pandas per record), so this pins it to the
scores file rather than to its own code."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.serving import batch
from pipeline.serving.request import ScoreRequest
from pipeline.serving.rest import predict_frame

pytestmark = pytest.mark.slow  # trains the session's model

AS_OF = pd.Timestamp("2026-11-01")
SCORED = ["probability", "score", "stage", "reason_1", "reason_2", "reason_3"]
SUBSCORES = ["fit_score", "engagement_score"]


@pytest.fixture(scope="module")
def export(sample_dir, tmp_path_factory):
    """60 open leads with their activities as files: a bad date, a later duplicate id (its
    activities, sent with it, must not count for the first), an id long enough to be capped."""
    tmp = tmp_path_factory.mktemp("rest-batch")
    leads = pd.read_csv(sample_dir / "leads.csv", dtype=str, keep_default_na=False)
    leads = leads[leads["outcome"] == ""].head(60).reset_index(drop=True)
    leads = leads.drop(columns=["outcome", "closed_at"])
    leads.loc[5, "created_at"] = "9999-01-01"
    leads.loc[9, "lead_id"] = leads.loc[8, "lead_id"]  # a later duplicate
    leads.loc[12, "lead_id"] = "L" + "9" * 80
    acts = pd.read_csv(sample_dir / "activities.csv", dtype=str)
    acts = acts[acts["lead_id"].isin(set(leads["lead_id"]))]
    leads.to_csv(tmp / "leads.csv", index=False)
    acts.to_csv(tmp / "acts.csv", index=False)
    return tmp, leads, acts


def _request(leads: pd.DataFrame, acts: pd.DataFrame, missing: list[str]) -> pd.DataFrame:
    """The leads as a REST request: text cells as the export has them (placeholders such as
    "Select" included: the model reads them as missing, as the batch reader does), numbers as
    numbers (a placeholder there is null: JSON has no "Select" number), activities as a JSON
    list per lead."""
    req = leads.copy()
    for c in ("employees", "annual_ad_budget"):
        req[c] = pd.to_numeric(req[c].mask(req[c].isin(missing)))
    by_lead = {
        k: [
            {"type": t, "occurred_at": o}
            for t, o in zip(g.activity_type, g.occurred_at, strict=True)
        ]
        for k, g in acts.groupby("lead_id")
    }
    req["activities"] = [json.dumps(by_lead.get(i, [])) for i in req["lead_id"]]
    return req


def test_rest_answer_is_the_batch_scorers_lead_by_lead(trained, sample_config, export):
    tmp, leads, acts = export
    scorer = trained[0].scorer
    request = ScoreRequest.for_files(
        sample_config, tmp / "leads.csv", tmp / "acts.csv", tmp / "scores.csv", as_of=AS_OF
    )
    summary = batch._score_chunked(request, scorer, "7", fast=True)
    scores = pd.read_csv(summary.output, dtype={"lead_id": str}).set_index("lead_id")
    rejected = pd.read_csv(summary.rejected_path, dtype=str)

    params = {"as_of": AS_OF.isoformat(), "explain": True, "n_reasons": 3}
    req = _request(leads, acts, sample_config.data.missing_values)
    text = req.drop(columns=["employees", "annual_ad_budget", "activities"])
    assert text.isin(["Select", ""]).any().any()  # placeholders travel as text
    got = predict_frame(scorer, req, params, "7")
    assert len(got) == len(leads) and list(got.index) == list(range(len(leads)))
    failed = got["error"].notna()
    assert list(got.index[failed]) == [int(r) - 2 for r in rejected["row"]] == [5, 9]
    for row, reason in zip(rejected["row"].astype(int) - 2, rejected["reason"], strict=True):
        assert got.loc[row, "error"] == f"record {row} (0-based): {reason}"
        assert got.loc[row, SCORED + SUBSCORES].isna().all()

    ok = got.loc[~failed].set_index("lead_id")
    assert ok.index.tolist() == scores.index.tolist()  # capped ids alike, request order
    assert got.loc[12, "lead_id"] == "L" + "9" * 58 + "\u2026"
    assert (ok["probability"].astype(float).round(6) == scores["probability"]).all()
    for c in SCORED[1:] + SUBSCORES:
        mine = ok[c].where(ok[c].notna(), None).tolist()
        theirs = scores[c].astype(object).where(scores[c].notna(), None).tolist()
        assert mine == theirs, c
    assert set(got["model_version"]) == {"7"}

"""As-of is a boundary: a lead created after the as-of time did not exist yet, so it is a
rejected row with the reason, never scored with a negative age (batch, both readers, and REST)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.serving import batch
from pipeline.serving.request import ScoreRequest
from pipeline.serving.rest import predict_frame

pytestmark = pytest.mark.slow  # uses the session's trained model

AS_OF = pd.Timestamp("2026-11-01")


@pytest.fixture(scope="module")
def late_leads(trained, sample_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("late")
    leads = pd.read_csv(sample_dir / "leads.csv", dtype=str, keep_default_na=False)
    leads = leads[leads["outcome"] == ""].head(12).reset_index(drop=True)
    leads["created_at"] = "2026-10-01 09:00:00"
    leads.loc[0:3, "created_at"] = ["2026-11-01 00:00:01", "2027-03-01", "2026-12-31", "2030-01-01"]
    leads.loc[4, "created_at"] = "2026-11-01 00:00:00"  # exactly at as-of: age 0, scored
    leads.to_csv(tmp / "leads.csv", index=False)
    pd.DataFrame(columns=["lead_id", "occurred_at", "activity_type"]).to_csv(
        tmp / "acts.csv", index=False
    )
    return tmp, leads


@pytest.mark.parametrize("fast", [True, False], ids=["pyarrow", "pandas"])
def test_batch_rejects_leads_created_after_as_of(trained, sample_config, late_leads, fast):
    tmp, leads = late_leads
    out = tmp / f"out-{fast}" / "scores.csv"
    request = ScoreRequest.for_files(
        sample_config, tmp / "leads.csv", tmp / "acts.csv", out, as_of=AS_OF
    )
    s = batch._score_chunked(request, trained[0].scorer, "7", fast=fast)
    rej = pd.read_csv(s.rejected_path, dtype=str)
    assert rej["row"].astype(int).tolist() == [2, 3, 4, 5]
    assert rej["lead_id"].tolist() == leads["lead_id"][:4].tolist()
    for reason in rej["reason"]:
        assert "is after the as-of time 2026-11-01T00:00:00" in reason
        assert "later --as-of" in reason
    scores = pd.read_csv(out, dtype=str)
    assert set(scores["lead_id"]) == set(leads["lead_id"][4:])
    assert not set(scores["lead_id"]) & set(rej["lead_id"])


def test_rest_answers_an_error_for_a_lead_created_after_params_as_of(trained, late_leads):
    _, leads = late_leads
    ans = predict_frame(trained[0].scorer, leads, {"as_of": "2026-11-01"})
    assert len(ans) == len(leads)
    for i in range(4):
        assert f"record {i} (0-based): created_at" in ans["error"][i]
        assert "is after the as-of time 2026-11-01T00:00:00" in ans["error"][i]
        assert pd.isna(ans["probability"][i])
    assert ans["error"][4:].isna().all() and ans["probability"][4:].notna().all()

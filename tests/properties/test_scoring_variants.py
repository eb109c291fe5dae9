"""Scores do not depend on how an export is written: a variant (padding, float-written ids,
invisible characters, CRLF, quoting, column order, gzip) scores exactly as its clean twin with one
tiny model, on the fast path and the pandas path; a broken cell costs its own row only (a rejected
row with its reason), the other leads score as before. Slow: the session model trains (~15 s)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.errors import DataError
from pipeline.serving.batch import score_files
from pipeline.serving.request import ScoreRequest
from tests.properties.conftest import config_for
from tests.properties.exports import ACT_ID, AS_OF, LEAD_ID, Variant, sample, write_export
from tests.properties.test_reading import variants

pytestmark = pytest.mark.slow
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SAME = ["lead_id", "probability", "score", "stage", "reason_1", "reason_2", "reason_3"]


def score(cfg, scorer, files: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, rejected rows) of an export, by the batch scorer."""
    c = config_for(cfg, files)
    out = files["leads"].parent / "scores.csv"
    req = ScoreRequest.for_files(
        c, leads=files["leads"], activities=files["activities"], output=out, as_of=AS_OF
    )
    summary = score_files(req, scorer, "test")
    scores = pd.read_csv(out, dtype={"lead_id": str}, keep_default_na=False)
    rej = summary.rejected_path
    rejected = pd.read_csv(rej, dtype=str) if rej else pd.DataFrame(columns=["row", "reason"])
    return scores.set_index("lead_id", drop=False).sort_index(), rejected


@SETTINGS
@given(v=variants, n=st.integers(8, 25), seed=st.integers(0, 10_000))
def test_a_variant_scores_as_its_clean_twin(crm_config, crm_scorer, v, n, seed):
    tables = sample(n, seed)
    with tempfile.TemporaryDirectory() as d:
        want, _ = score(crm_config, crm_scorer, write_export(Path(d) / "clean", tables))
        got, rejected = score(crm_config, crm_scorer, write_export(Path(d) / "v", tables, v))
    assert rejected.empty
    pd.testing.assert_frame_equal(got[SAME], want[SAME])


BROKEN = {"Create Date": "31.02.2025 10:00", "Annual Revenue": "about a million"}


@SETTINGS
@given(
    n=st.integers(8, 20),
    seed=st.integers(0, 10_000),
    column=st.sampled_from(sorted(BROKEN)),
    at=st.integers(0, 7),
)
def test_a_broken_cell_costs_its_row_only(crm_config, crm_scorer, n, seed, column, at):
    leads, acts, deals = sample(n, seed)
    broken = leads.copy()
    broken.loc[at, column] = BROKEN[column]
    with tempfile.TemporaryDirectory() as d:
        want, _ = score(
            crm_config, crm_scorer, write_export(Path(d) / "clean", (leads, acts, deals))
        )
        got, rejected = score(
            crm_config, crm_scorer, write_export(Path(d) / "b", (broken, acts, deals))
        )
    lost = leads.loc[at, LEAD_ID]
    assert rejected["row"].tolist() == [str(at + 2)]
    assert column in rejected["reason"].iloc[0]
    pd.testing.assert_frame_equal(got[SAME], want[SAME].drop(index=lost))


def test_activities_that_match_no_scored_lead_are_one_line(crm_config, crm_scorer, tmp_path):
    """An activity id column exported another way (a prefix here) is an error naming both id
    columns with an example of each, before any output is written."""
    leads, acts, deals = sample(10, 1)
    acts = acts.assign(**{ACT_ID: "C-" + acts[ACT_ID]})
    files = write_export(tmp_path, (leads, acts, deals))
    with pytest.raises(DataError) as e:
        score(crm_config, crm_scorer, files)
    msg = str(e.value)
    assert "\n" not in msg and f"'{ACT_ID}'" in msg and f"'{LEAD_ID}'" in msg
    assert "'C-" in msg and not (tmp_path / "scores.csv").exists()


def test_the_model_keeps_its_training_match_shares(crm_scorer):
    assert crm_scorer.meta["match_shares"] == {"outcomes": 1.0, "activities": 1.0}
    assert 0.5 < crm_scorer.meta["lead_match_shares"]["activities"] < 1.0
    assert Variant() == Variant()  # the clean export is the all-off variant

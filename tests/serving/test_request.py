"""`ScoreRequest`: one scoring call, checked once where it is built, the same for every path."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.errors import DataError, StorageError
from pipeline.serving.request import ScoreRequest


@pytest.fixture
def files(tmp_path):
    leads, acts = tmp_path / "leads.csv", tmp_path / "acts.csv"
    leads.write_text("lead_id\n1\n")
    acts.write_text("lead_id\n1\n")
    return leads, acts


def test_a_batch_request_is_checked_when_built(files, tmp_path):
    leads, acts = files
    cfg = Config()
    with pytest.raises(DataError, match=r"^--engine 'gpu': use 'local' or 'spark'$"):
        ScoreRequest.for_files(cfg, leads, acts, tmp_path / "s.csv", engine="gpu")
    with pytest.raises(DataError, match=r"^--as-of 'soon': not a date"):
        ScoreRequest.for_files(cfg, leads, acts, tmp_path / "s.csv", as_of="soon")
    with pytest.raises(DataError, match="nope.csv: leads file not found; check --leads"):
        ScoreRequest.for_files(cfg, tmp_path / "nope.csv", acts, tmp_path / "s.csv")
    with pytest.raises(DataError, match="no.csv: activities file not found"):
        ScoreRequest.for_files(cfg, leads, tmp_path / "no.csv", tmp_path / "s.csv")
    with pytest.raises(StorageError, match="it is a folder"):
        ScoreRequest.for_files(cfg, leads, acts, tmp_path)


def test_a_batch_request_takes_the_config_defaults(files, tmp_path):
    leads, acts = files
    cfg = Config()
    cfg.data.leads, cfg.data.activities = str(leads), str(acts)
    cfg.scoring.output = str(tmp_path / "out" / "scores.csv")
    r = ScoreRequest.for_files(cfg, as_of="2026-11-01")
    assert (r.leads, r.activities, r.output_path) == (leads, acts, tmp_path / "out/scores.csv")
    assert r.as_of == pd.Timestamp("2026-11-01") and r.n_reasons == cfg.scoring.n_reasons
    assert r.run_id is None  # a file output has no run id
    db = ScoreRequest.for_files(cfg, output=f"sqlite:///{tmp_path / 's.db'}")
    assert len(db.run_id) == 32  # a database output gets a new one
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.n_reasons = 5


def test_the_spark_udf_params_read_back_as_the_same_request(files, tmp_path):
    leads, acts = files
    r = ScoreRequest.for_files(Config(), leads, acts, tmp_path / "s.csv", as_of="2026-11-01")
    back = ScoreRequest.from_params(r.udf_params(), most_reasons=10)
    assert (back.as_of, back.n_reasons, back.explain, back.on_error) == (
        r.as_of,
        r.n_reasons,
        True,
        "raise",
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"on_error": "skip"}, "params.on_error 'skip': use 'row' or 'raise'"),
        ({"as_of": "soon"}, "params.as_of 'soon': not a date"),
        ({"explain": True, "n_reasons": 9}, "params.n_reasons '9': use a whole number 0-4"),
        ({"explain": True, "n_reasons": "x"}, "params.n_reasons 'x': use a whole number 0-4"),
    ],
)
def test_a_rest_request_is_checked_when_built(params, message):
    with pytest.raises(DataError) as e:
        ScoreRequest.from_params(params, most_reasons=4)
    assert str(e.value).startswith(message)


def test_a_rest_request_without_explain_asks_no_reasons():
    r = ScoreRequest.from_params({"n_reasons": 99}, most_reasons=4)
    assert (r.n_reasons, r.explain, r.on_error) == (0, False, "row")

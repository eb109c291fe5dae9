"""Training reads the activities file block by block (`fastcsv.training_events`): the same
canonical events frame and match counts as the pandas reader (`canonical.load_events`), its text
columns as categories, and the pandas reader's words for whatever the block reader cannot read."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io import fastcsv
from pipeline.io.canonical import load_events, load_leads
from pipeline.io.keys import MatchCount

LEADS = "lead_id,created_at,outcome\nL1,2026-01-01,won\n1000,2026-01-02,lost\nL3,2026-01-03,\n"
EVENTS = (
    "lead_id,occurred_at,activity_type\n"
    "L1,2026-01-05 10:00:00,Demo Request\n"
    " L1 ,2026-01-06,email_open\n"  # spaces around an id: the one id rule trims them
    "1000.0,2026-01-07T08:30:00,Web Visit\n"  # a whole number written as a decimal
    "L9,2026-01-08,email_open\n"  # another lead's event: left out, counted as unmatched
    ",2026-01-08,email_open\n"  # no id
    "L1,,email_open\n"  # no time: kept as NaT (training drops it later, with its count)
    "L3,2026-01-09,\n"  # no type: left out
    "L3,2026-01-09,---\n"  # a type that normalises to '' is kept, as the pandas reader keeps it
    "L1,2026-01-05 10:00:00,Demo Request\n"  # the same event twice stays twice
    "1000,2026-01-10,NA\n"  # a missing-value marker
)


def _config(tmp_path, events: str, name: str = "acts.csv") -> Config:
    (tmp_path / "leads.csv").write_text(LEADS)
    path = tmp_path / name
    if name.endswith(".parquet"):
        (tmp_path / "tmp.csv").write_text(events)
        pd.read_csv(tmp_path / "tmp.csv", dtype=str).to_parquet(path)
    else:
        path.write_text(events)
    return Config.model_validate(
        {
            "data": {"leads": str(tmp_path / "leads.csv"), "activities": str(path)},
            "schema": {"categorical": [], "numeric": [], "drop": [], "email": None},
        }
    )


def _as_text(fast: pd.DataFrame, slow: pd.DataFrame) -> pd.DataFrame:
    """The block reader's frame with its categories as the pandas reader's text (the values are
    compared, and the compact dtype checked on its own)."""
    for c in ("lead_id", "type"):
        assert isinstance(fast[c].dtype, pd.CategoricalDtype), c
    return fast.astype({c: slow[c].dtype for c in ("lead_id", "type")})


def _both(cfg: Config) -> tuple[pd.DataFrame, MatchCount, pd.DataFrame, MatchCount]:
    ids = load_leads(cfg).index
    fast, slow = MatchCount("activities", n_leads=len(ids)), MatchCount("activities")
    return (
        fastcsv.training_events(cfg, ids, fast),
        fast,
        load_events(cfg, lead_ids=ids, match=slow),
        slow,
    )


@pytest.mark.parametrize("name", ["acts.csv", "acts.parquet"])
def test_the_block_reader_gives_the_pandas_readers_frame_and_counts(tmp_path, name):
    fast, m_fast, slow, m_slow = _both(_config(tmp_path, EVENTS, name))
    pd.testing.assert_frame_equal(_as_text(fast, slow), slow, check_exact=True)
    assert len(fast) == 6 and fast["ts"].isna().sum() == 1 and (fast["type"] == "").sum() == 1
    for key in ("n_leads", "rows", "matched", "example"):
        assert getattr(m_fast, key) == getattr(m_slow, key), key
    assert m_fast.hit.tolist() == m_slow.hit.tolist()


@pytest.mark.parametrize(
    "bad", ["2026-13-45", "1969-12-31", "yesterday", "1767225600", "2026-01-05T10:00:00+02:00"]
)
def test_what_the_block_reader_cannot_read_gets_the_pandas_readers_answer(tmp_path, bad):
    cfg = _config(tmp_path, EVENTS + f"L1,{bad},email_open\n")
    ids = load_leads(cfg).index
    try:
        slow = load_events(cfg, lead_ids=ids)
    except DataError as e:
        with pytest.raises(DataError) as fast:
            fastcsv.training_events(cfg, ids)
        assert str(fast.value) == str(e)
    else:
        fast = _as_text(fastcsv.training_events(cfg, ids), slow)
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)

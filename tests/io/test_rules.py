"""One rule for every date, number and echoed value (pipeline.io.rules), on each reader that
uses it: the training readers (one-line errors), the lenient scoring reader of activities, and the
pyarrow fast path, which must agree with the pandas path."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io import fastcsv
from pipeline.io.canonical import drop_before_created, load_events
from pipeline.io.readers import parse_dates
from pipeline.io.rules import clean_text, parse_as_of, to_datetimes, to_numbers
from tests.parsing import parse_numbers

HOSTILE_DATES = ["9999-01-01", "0001-01-01", "1850-06-01", "2300-01-01", "garbage", "31.02.2026"]


def test_dates_outside_1970_2200_or_unparseable_are_bad_and_missing_ones_are_not():
    s = pd.Series(["2026-01-31", None, "", *HOSTILE_DATES, "2026-01-31T10:00:00+02:00"])
    out, bad = to_datetimes(s)
    assert out.dtype == "datetime64[ns]"
    assert bad.tolist() == [False, False, False, *[True] * len(HOSTILE_DATES), False]
    assert out.iloc[-1] == pd.Timestamp("2026-01-31 08:00")  # naive UTC
    assert out[bad].isna().all()


@pytest.mark.parametrize("value", HOSTILE_DATES)
def test_train_stops_on_a_bad_date_with_one_line(value):
    s = pd.Series(["2026-01-31", value])
    with pytest.raises(DataError) as e:
        parse_dates(s, "leads.csv", "created_at")
    msg = str(e.value)
    assert "\n" not in msg
    for part in ("leads.csv", "'created_at' row 3", value, "1970-2200"):
        assert part in msg, (part, msg)


def test_non_finite_numbers_are_missing_and_counted(caplog):
    s = pd.Series(["1,000", "inf", "-inf", "1e309", "NaN", "Infinity", "", None, "7"])
    out, bad, n = to_numbers(s)
    assert not bad.any()
    assert n == 5
    assert out.iloc[0] == 1000 and out.iloc[-1] == 7
    assert out.iloc[1:8].isna().all()
    with caplog.at_level(logging.WARNING):
        got = parse_numbers(s, "leads.csv", "annual_ad_budget")
    assert np.isfinite(got.dropna()).all()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "5 non-finite" in warned[0] and "annual_ad_budget" in warned[0]
    floats = pd.Series([1.0, np.inf, -np.inf, np.nan])  # a parquet column
    out, bad, n = to_numbers(floats)
    assert n == 2 and not bad.any() and out.isna().sum() == 3


def test_a_word_is_still_not_a_number():
    with pytest.raises(DataError, match="'twelve' is not a number"):
        parse_numbers(pd.Series(["1", "twelve"]), "leads.csv", "TotalVisits")


def test_as_of_outside_the_range_or_not_a_date_is_one_line():
    for bad, words in (
        ("3026-11-01", "outside 1970-2200"),
        ("1857-01-01", "outside"),
        ("soon", "not a date"),
    ):
        with pytest.raises(DataError, match=words) as e:
            parse_as_of(bad)
        assert "--as-of" in str(e.value) and "\n" not in str(e.value)
    assert parse_as_of("2026-11-01T02:00+02:00") == pd.Timestamp("2026-11-01")
    with pytest.raises(DataError, match="params.as_of"):
        parse_as_of("9999-12-31", "params.as_of")


def test_echoed_text_loses_control_characters_and_is_capped():
    s = pd.Series(["a\x00b\rc\nd\te\x1bf", "x" * 500, None, "ok"])
    out = clean_text(s)
    assert out.iloc[0] == "abcdef"
    assert len(out.iloc[1]) == 60 and out.iloc[1].endswith("\u2026")
    assert pd.isna(out.iloc[2]) and out.iloc[3] == "ok"


# ------------------------------------------------------------------ activities ----------

ACTS = pd.DataFrame(
    {
        "lead_id": ["A", "A", "A", "A", "B", "C", "A"],
        "occurred_at": [
            "2026-01-10 10:00:00",  # kept
            "",  # no time: rejected
            "1850-01-01 00:00:00",  # outside the range: rejected
            "2026-03-01 00:00:00",  # after as_of: counted
            "2026-01-12 00:00:00",  # kept
            "",  # a lead not being scored: ignored
            "2025-12-01 00:00:00",  # before A was created: dropped at scoring time
        ],
        "activity_type": ["demo_request"] * 7,
    }
)
AS_OF = np.datetime64("2026-02-01", "ns")


def _cfg(tmp_path, ts_col="occurred_at") -> Config:
    return Config.model_validate(
        {
            "data": {"leads": str(tmp_path / "l.csv"), "activities": str(tmp_path / "a.csv")},
            "schema": {"activity": {"lead_id": "lead_id", "timestamp": ts_col}},
        }
    )


def _compact(path, cfg, fast: bool):
    first_ids, first_rows = pa.array(["A", "B"]), np.array([0, 1])
    if fast:
        return fastcsv.compact_events(path, cfg, first_ids, first_rows, AS_OF)
    rejected: list[pd.DataFrame] = []
    ev = load_events(cfg, path, lead_ids=pd.Index(["A", "B"]), rejected=rejected)
    out = fastcsv.compact_from_frame(ev, first_ids, first_rows, AS_OF)
    out.rejected = pd.concat(rejected)
    return out


@pytest.mark.parametrize("fast", [True, False], ids=["pyarrow", "pandas"])
def test_activity_without_a_usable_time_is_rejected_never_today(tmp_path, fast):
    path = tmp_path / "a.csv"
    ACTS.to_csv(path, index=False)
    ev = _compact(path, _cfg(tmp_path), fast)
    assert len(ev) == 3  # the two good ones and the one before creation (dropped later)
    assert (ev.ts != fastcsv.NAT).all()
    assert ev.after_as_of == 1
    rej = ev.rejected.reset_index(drop=True)
    assert rej["row"].tolist() == [3, 4]  # file rows (header = 1); C's row is not ours
    assert rej["lead_id"].tolist() == ["A", "A"]
    assert rej["reason"].iloc[0] == "no occurred_at"
    assert "outside 1970-2200" in rej["reason"].iloc[1]
    leads = pd.DataFrame(
        {"_created_at": pd.to_datetime(["2026-01-01", "2026-01-01"])}, index=["A", "B"]
    )
    frame = ev.for_rows(0, 2, np.array(["A", "B"], dtype=object))
    used, before = drop_before_created(leads, frame)
    assert before == 1 and len(used) == 2
    assert (used["ts"] >= pd.Timestamp("2026-01-01")).all()


def test_training_reader_stops_on_an_activity_date_it_cannot_hold(tmp_path):
    bad = ACTS.copy()
    bad.loc[0, "occurred_at"] = "9999-01-01 00:00:00"
    bad.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataError, match=r"'occurred_at' row 2: date outside 1970-2200"):
        load_events(_cfg(tmp_path), tmp_path / "a.csv")


def test_training_reader_names_the_file_row_and_keeps_only_the_given_leads(tmp_path):
    """Events are kept for the given leads only, read as text ids like the leads' own; a bad
    date is still named by its row in the file, whoever's row it is."""
    acts = pd.DataFrame(
        {
            "lead_id": [7, 8, 7, 9],  # numbers in the file, text ids among the leads
            "occurred_at": ["2026-01-02 00:00:00"] * 4,
            "activity_type": ["web_visit"] * 4,
        }
    )
    acts.to_parquet(tmp_path / "a.parquet", index=False)
    ev = load_events(_cfg(tmp_path), tmp_path / "a.parquet", lead_ids=pd.Index(["7", "9"]))
    assert ev["lead_id"].tolist() == ["7", "7", "9"]
    acts.loc[3, "occurred_at"] = "9999-01-01 00:00:00"
    acts.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataError, match=r"'occurred_at' row 5: date outside 1970-2200"):
        load_events(_cfg(tmp_path), tmp_path / "a.csv", lead_ids=pd.Index(["9"]))

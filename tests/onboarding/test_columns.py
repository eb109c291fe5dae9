"""What `init` calls a date, a number or a yes/no flag is what training reads as one.

Both sides are asked about the same values: the drafting guess (`pipeline.onboarding.columns`) and
the readers train and score use (`pipeline.io.readers.parse_*`). A value a reader refuses must not
count for init, or the drafted config would name a column its own reader then rejects.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.io.readers import parse_dates
from pipeline.onboarding.columns import classify, date_share, is_flag, number_share, outcome_word
from tests.parsing import parse_flags, parse_numbers

N = 30  # above the 20 rows a column needs before uniqueness or one value says anything


def _reads(parse, values: list[str], **kw) -> bool:
    try:
        parse(pd.Series(values), "x.csv", "c", **kw)
    except DataError:
        return False
    return True


DATES = [
    "2026-01-31",
    "2026-01-31 14:00:00",
    "31.01.2026",
    "12/31/2026",
    "1971-06-01T08:30:00Z",
    "1900-01-01",  # a CRM's "no date" sentinel: outside 1970-2200, refused by the reader
    "2250-01-01",
    "9999-12-31",
    "0001-01-01",
    "2026-13-45",
    "31/31/2026",
]


@pytest.mark.parametrize("value", DATES)
def test_init_counts_a_date_exactly_when_the_reader_reads_it(value):
    share, dayfirst = date_share(pd.Series([value] * N))
    assert (share == 1.0) == _reads(parse_dates, [value] * N, dayfirst=dayfirst), value


def test_a_date_column_with_out_of_range_sentinels_is_not_a_date():
    """Before the one parser, init counted '1900-01-01' as a date (pandas parses it), drafted the
    column as schema.created_at, and train then refused the file: 'date outside 1970-2200'."""
    good = [f"2026-01-{d:02d}" for d in range(1, 25)]
    s = pd.Series(good + ["1900-01-01"] * 6)
    assert date_share(s)[0] == pytest.approx(24 / 30)
    df = pd.DataFrame({"Created": s, "Signed": good[:20] + ["2026-02-01"] * 10})
    kinds = classify(df)
    assert kinds["Created"].kind != "date" and kinds["Signed"].kind == "date"
    assert not _reads(parse_dates, list(s)) and _reads(parse_dates, list(df["Signed"]))


NUMBERS = ["1,250", "1,250.5", "-3", " 42 ", "1e3", "12 345", "1.2.3", "€5", "3,5 kg", "0x10"]


@pytest.mark.parametrize("value", NUMBERS)
def test_init_counts_a_number_exactly_when_the_reader_reads_it(value):
    values = [value] * N
    assert (number_share(pd.Series(values)) == 1.0) == _reads(parse_numbers, values), value


def test_thousands_separators_are_numbers_to_both():
    s = pd.Series([f"{i},{i * 7 % 1000:03d}" for i in range(1, N + 1)])
    assert classify(pd.DataFrame({"Revenue": s}))["Revenue"].kind == "numeric"
    assert parse_numbers(s, "x.csv", "Revenue").iloc[0] == 1007.0


FLAG_VALUES = ["Yes", "no", "TRUE", "f", " Y ", "N", "on", "Off", "yes please", "Maybe", "ja"]


@pytest.mark.parametrize("value", FLAG_VALUES)
def test_init_counts_a_flag_exactly_when_the_reader_reads_it(value):
    values = [value, "No"] * (N // 2)
    assert is_flag(pd.Series(values)) == _reads(parse_flags, values), value


def test_a_yes_no_column_is_a_flag_and_zero_one_stays_numeric():
    df = pd.DataFrame({"Do Not Call": ["Yes", "no"] * 15, "Opted In": ["1", "0"] * 15})
    kinds = classify(df)
    assert kinds["Do Not Call"].kind == "flag" and kinds["Opted In"].kind == "numeric"
    assert list(parse_flags(df["Do Not Call"], "x.csv", "c")[:2]) == [1.0, 0.0]


@pytest.mark.parametrize("value", ["Yes", "TRUE", "y", "1", "1.0", "on"])
def test_an_outcome_that_reads_as_yes_is_won(value):
    assert outcome_word(value) == "won"
    assert parse_flags(pd.Series([value]), "x.csv", "c").iloc[0] == 1.0


@pytest.mark.parametrize("value", ["No", "false", "n", "0", "0.0", "off"])
def test_an_outcome_that_reads_as_no_is_lost(value):
    assert outcome_word(value) == "lost"
    assert parse_flags(pd.Series([value]), "x.csv", "c").iloc[0] == 0.0

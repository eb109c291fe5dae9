"""One reading of every column: per-file encodings, workbooks, decimal conventions and date
formats decided over a whole column, words and bare epoch numbers refused; the pandas path and
the pyarrow fast path agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from pipeline.config import Config, load_config
from pipeline.errors import DataError
from pipeline.io import fastcsv
from pipeline.io.canonical import load_events, load_leads
from pipeline.io.readers import parse_dates, read_table
from pipeline.io.rules import date_problem, number_convention, to_datetimes, to_numbers
from tests.conftest import run, write_config
from tests.parsing import parse_numbers


def test_an_encoding_for_the_leads_is_not_forced_on_the_activities(tmp_path):
    (tmp_path / "leads.csv").write_bytes("lead_id,city\nL1,K\u00f6ln\n".encode("utf-16"))
    (tmp_path / "acts.csv").write_bytes("lead_id,what\nL1,d\u00e9mo\n".encode())
    cfg = Config.model_validate({"data": {"encoding": {"leads": "utf-16"}}})
    assert read_table(tmp_path / "leads.csv", cfg, "leads file")["city"][0] == "K\u00f6ln"
    assert read_table(tmp_path / "acts.csv", cfg, "activities file")["what"][0] == "d\u00e9mo"


def test_a_byte_order_mark_wins_over_a_plain_encoding_for_every_file(tmp_path):
    (tmp_path / "acts.csv").write_bytes("lead_id,what\nL1,d\u00e9mo\n".encode("utf-8-sig"))
    cfg = Config.model_validate({"data": {"encoding": "utf-16"}})
    assert read_table(tmp_path / "acts.csv", cfg, "activities file")["what"][0] == "d\u00e9mo"


@pytest.mark.parametrize("name", ["leads.xlsx", "leads.XLS", "acts.ods"])
def test_a_workbook_is_one_line_naming_the_fix_not_encoding_advice(tmp_path, name):
    (tmp_path / name).write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    with pytest.raises(DataError) as e:
        read_table(tmp_path / name, Config(), "leads file")
    msg = str(e.value)
    assert "\n" not in msg and "CSV UTF-8" in msg and "encoding" not in msg


# ------------------------------------------------------------------ numbers ----------

COMMA_COLUMN = ["0,5", "1.234,5", "532.800,00", "1.302.400,00", "7", "12,50"]
DOT_COLUMN = ["0.5", "1,234.5", "532,800.00", "7", "12.50"]


def test_a_decimal_comma_column_is_read_as_such_never_rescaled():
    out, bad, _ = to_numbers(pd.Series(COMMA_COLUMN))
    assert not bad.any()
    assert out.tolist() == [0.5, 1234.5, 532800.0, 1302400.0, 7.0, 12.5]
    assert number_convention(pd.Series(COMMA_COLUMN)) == ","
    assert to_numbers(pd.Series(DOT_COLUMN))[0].tolist() == [0.5, 1234.5, 532800.0, 7.0, 12.5]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (DOT_COLUMN, "0,5"),
        (DOT_COLUMN, "1.234,5"),
        (COMMA_COLUMN, "1,234.5"),
        (DOT_COLUMN, "1,2,3,4"),
    ],
)
def test_a_value_outside_the_columns_convention_is_bad_at_scoring_and_one_line_at_training(
    column, value
):
    s = pd.Series([*column, value])
    out, bad, _ = to_numbers(s)
    assert bad.tolist() == [False] * len(column) + [True] and pd.isna(out.iloc[-1])
    with pytest.raises(DataError) as e:
        parse_numbers(s, "leads.csv", "revenue")
    msg = str(e.value)
    assert "\n" not in msg and f"row {len(column) + 2}" in msg and f"'{value}'" in msg
    assert "data.decimal" in msg and "decimal" in msg


def test_data_decimal_decides_an_ambiguous_column():
    s = pd.Series(["1,234", "1.234", "7"])
    assert to_numbers(s)[0].tolist() == [1234.0, 1.234, 7.0]  # undecided: '.', as before
    out, bad, _ = to_numbers(s, ",")
    assert out.tolist() == [1.234, 1234.0, 7.0] and not bad.any()


def test_train_reads_numbers_with_data_decimal(tmp_path):
    (tmp_path / "leads.csv").write_text("lead_id;budget\nL1;1,5\nL2;2.000\n", encoding="utf-8")
    cfg = Config.model_validate(
        {
            "data": {"leads": str(tmp_path / "leads.csv"), "sep": ";", "decimal": ","},
            "schema": {"created_at": None, "numeric": ["budget"]},
        }
    )
    leads = load_leads(cfg, with_outcome=False)
    assert leads["budget"].tolist() == [1.5, 2000.0]


def test_init_drafts_data_decimal_for_a_decimal_comma_export(tmp_path):
    rows = [f"L{i};{i},{i % 10}0;{'won' if i % 3 else 'lost'}" for i in range(60)]
    (tmp_path / "leads.csv").write_text(
        "lead_id;budget;outcome\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    r = run("init", "--leads", tmp_path / "leads.csv", "--out", tmp_path / "c.yaml")
    assert r.exit_code == 0, r.output
    drafted = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert drafted["data"]["decimal"] == ","
    cfg = load_config(tmp_path / "c.yaml")
    assert load_leads(cfg, with_outcome=False)["budget"].iloc[5] == 5.5


# ------------------------------------------------------------------ dates ----------


def test_one_day_month_order_per_column_set_by_the_config():
    s = pd.Series(["05/10/2026", "13/10/2026", "2026-01-31"])
    out, bad = to_datetimes(s)  # month first: 13/10 cannot be, so it is bad, not 13 October
    assert out.iloc[0] == pd.Timestamp("2026-05-10") and bad.tolist() == [False, True, False]
    out, bad = to_datetimes(s, dayfirst=True)
    assert out.tolist()[:2] == [pd.Timestamp("2026-10-05"), pd.Timestamp("2026-10-13")]
    assert not bad.any()
    with pytest.raises(DataError, match=r"row 3: a day-first date but schema.dayfirst is not set"):
        parse_dates(s, "leads.csv", "created_at")
    _, bad = to_datetimes(pd.Series(["10/13/2026"]), dayfirst=True)
    assert bad.all() and "month-first" in date_problem("10/13/2026", True)


@pytest.mark.parametrize("word", ["now", "today", "Today", "yesterday", "tomorrow", "never"])
def test_words_are_never_the_wall_clock(word):
    out, bad = to_datetimes(pd.Series(["2026-01-31", word]))
    assert bad.tolist() == [False, True] and pd.isna(out.iloc[1])
    with pytest.raises(DataError, match=f"cannot parse date .{word}."):
        parse_dates(pd.Series(["2026-01-31", word]), "leads.csv", "created_at")


@pytest.mark.parametrize(
    "column",
    [pd.Series([1767225600, 1767312000]), pd.Series(["1767225600", "1767312000"])],
    ids=["int", "digits"],
)
def test_epoch_numbers_need_a_declared_unit(column):
    out, bad = to_datetimes(column)
    assert bad.all() and out.isna().all()  # never 1970-01-01 (nanoseconds by default)
    with pytest.raises(DataError, match=r"declare its unit \(s, ms, us or ns\)"):
        parse_dates(column, "leads.parquet", "created_at")
    out, bad = to_datetimes(column, unit="s")
    assert out.tolist() == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02")]
    ms = column.astype("int64") * 1000
    assert to_datetimes(ms, unit="ms")[0].tolist() == out.tolist()


def test_a_parquet_epoch_created_at_is_read_by_schema_created_at_unit(tmp_path):
    pd.DataFrame({"lead_id": ["L1", "L2"], "created_at": [1767225600, 1767312000]}).to_parquet(
        tmp_path / "leads.parquet"
    )
    base = {"data": {"leads": str(tmp_path / "leads.parquet")}, "schema": {"numeric": []}}
    with pytest.raises(DataError, match="created_at' row 2: a bare number"):
        load_leads(Config.model_validate(base), with_outcome=False)
    base["schema"]["created_at_unit"] = "s"
    leads = load_leads(Config.model_validate(base), with_outcome=False)
    assert leads["_created_at"].iloc[1] == pd.Timestamp("2026-01-02")


def test_the_fast_path_leaves_day_first_words_and_epochs_to_the_pandas_rule(tmp_path):
    for value in ("13/10/2026 10:00", "now", "1767225600"):
        p = tmp_path / "acts.csv"
        p.write_text(f"lead_id,occurred_at,activity_type\nL1,{value},demo\n")
        cfg = Config.model_validate({"data": {"activities": str(p)}})
        with pytest.raises(fastcsv.FastPathUnavailable):
            fastcsv.compact_events(
                p, cfg, pa.array(["L1"]), np.array([0]), np.datetime64("2027-01-01")
            )
        rejected: list[pd.DataFrame] = []
        ev = load_events(cfg, p, lead_ids=pd.Index(["L1"]), rejected=rejected)
        assert len(ev) == 0 and len(rejected[0]) == 1


def test_validate_fails_on_a_day_first_export_without_schema_dayfirst(sample_dir, tmp_path):
    leads = pd.read_csv(sample_dir / "leads.csv", dtype=str, keep_default_na=False)
    when = pd.to_datetime(leads["created_at"])
    leads["created_at"] = when.dt.strftime("%d/%m/%Y %H:%M")
    leads.to_csv(tmp_path / "leads.csv", index=False)
    cfg = write_config(tmp_path / "c.yaml", sample_dir, data={"leads": str(tmp_path / "leads.csv")})
    r = run("validate", "--config", cfg)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "schema.dayfirst is not set (set it to true)" in lines[0], lines
    cfg = write_config(
        tmp_path / "ok.yaml",
        sample_dir,
        data={"leads": str(tmp_path / "leads.csv")},
        schema={"dayfirst": True},
    )
    assert run("validate", "--config", cfg).exit_code == 0

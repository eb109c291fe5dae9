"""Export dialects: semicolons, UTF-8 BOM, CRLF, quoted delimiters, parquet, cp1252, flags."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.readers import read_table
from tests.parsing import parse_flags

ROWS = [
    ["L1", "Retail; Consumer", "1,200", "Yes", "31.01.2026"],
    ["L2", 'He said "hi"', "35", "no", "01.02.2026"],
    ["L3", "Select", "", "TRUE", "15.02.2026"],
]
HEADER = ["Lead ID", "Industry", "Budget", "Opt In", "Created"]


def _csv(sep: str) -> str:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if (sep in v or '"' in v or "," in v) else v

    return "".join(sep.join(cell(v) for v in r) + "\r\n" for r in [HEADER, *ROWS])


def cfg(**data) -> Config:
    return Config.model_validate(
        {
            "data": {"missing_values": ["", "NA", "Select"], **data},
            "schema": {
                "lead_id": "Lead ID",
                "created_at": "Created",
                "dayfirst": True,
                "categorical": ["Industry"],
                "numeric": ["Budget"],
                "flags": ["Opt In"],
            },
        }
    )


def _check(df: pd.DataFrame) -> None:
    assert list(df.columns) == HEADER  # no BOM left on the first name
    assert df["Industry"].tolist()[:2] == ["Retail; Consumer", 'He said "hi"']
    assert pd.isna(df["Industry"].iloc[2])  # "Select" placeholder means unknown
    assert df["Lead ID"].tolist() == ["L1", "L2", "L3"]  # no stray \r from CRLF


@pytest.mark.parametrize("sep", [";", ",", "\t", "|"])
def test_delimiters_bom_crlf_quotes(tmp_path, sep):
    p = tmp_path / "x.csv"
    p.write_bytes(_csv(sep).encode("utf-8-sig"))
    _check(read_table(p, cfg(sep=sep)))


def test_parquet_reads_with_placeholders(tmp_path):
    df = pd.DataFrame(ROWS, columns=HEADER)
    df.to_parquet(tmp_path / "x.parquet")
    _check(read_table(tmp_path / "x.parquet", cfg()))


def test_canonical_parsing_of_dayfirst_thousands_and_flags(tmp_path):
    from pipeline.io.canonical import canonical_leads

    p = tmp_path / "x.csv"
    p.write_bytes(_csv(";").encode("utf-8-sig"))
    c = cfg(sep=";")
    leads = canonical_leads(read_table(p, c), c.schema, p)
    assert leads["_created_at"].iloc[0] == pd.Timestamp("2026-01-31")
    assert leads["_created_at"].iloc[1] == pd.Timestamp("2026-02-01")  # 1 Feb, not 2 Jan
    assert leads["Budget"].iloc[0] == 1200 and np.isnan(leads["Budget"].iloc[2])
    assert leads["Opt In"].tolist() == [1.0, 0.0, 1.0]


def test_flags_vocabulary():
    s = pd.Series(["Yes", "no", "Y", "n", "true", "False", "1", "0", None])
    out = parse_flags(s, "f.csv", "flag")
    assert out.iloc[:8].tolist() == [1, 0, 1, 0, 1, 0, 1, 0] and np.isnan(out.iloc[8])
    with pytest.raises(DataError, match=r"f.csv: column 'flag' row 3: 'maybe' is not a yes/no"):
        parse_flags(pd.Series(["yes", "maybe"]), "f.csv", "flag")


def test_cp1252_fallback_warns_once(tmp_path, caplog):
    p = tmp_path / "w.csv"
    p.write_bytes(_csv(",").replace("Retail", "Caf\u00e9").encode("cp1252"))
    with caplog.at_level(logging.WARNING, logger="pipeline.io.readers"):
        df = read_table(p, cfg())
    assert df["Industry"].iloc[0].startswith("Caf\u00e9")
    assert len(caplog.records) == 1 and "cp1252" in caplog.records[0].getMessage()


def test_one_column_read_names_the_likely_delimiter(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(_csv("\t"))
    with pytest.raises(DataError, match="looks tab-delimited, set data.sep"):
        read_table(p, cfg(sep=","))
    p.write_text(_csv(","))
    with pytest.raises(DataError, match="looks comma-delimited, set data.sep: ','"):
        read_table(p, cfg(sep=";"))


def test_file_kind_is_the_one_suffix_rule():
    from pipeline.io.readers import file_kind

    assert [file_kind(p) for p in ("a.parquet", "b.PQ", "dir/c.Parquet")] == ["parquet"] * 3
    assert [file_kind(p) for p in ("a.csv", "b.txt", "c", "d.parquet.csv")] == ["csv"] * 4

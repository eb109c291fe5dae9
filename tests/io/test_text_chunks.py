"""One whole-file text reader for `init` and `validate`: csv and parquet give the same chunks ('' for
an empty cell either way), a byte-order mark and padded header names do not change what a column
is called, and only the asked columns the file has are read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.io.readers import text_chunks


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(7)],
            "industry": ["Software", None, "Retail", "", "Software", None, "Banking"],
            "budget": ["1", "2", None, "4", "5", "6", "7"],
        }
    )


def test_csv_and_parquet_read_alike_in_chunks(tmp_path: Path) -> None:
    df = _frame()
    csv, parquet = tmp_path / "leads.csv", tmp_path / "leads.parquet"
    df.to_csv(csv, index=False, encoding="utf-8-sig")  # with a byte-order mark
    df.to_parquet(parquet, index=False)
    from_csv = list(text_chunks(csv, ",", "utf-8", rows=3))
    from_parquet = list(text_chunks(parquet, ",", "utf-8", rows=3))
    assert [len(p) for p in from_csv] == [3, 3, 1] == [len(p) for p in from_parquet]
    a = pd.concat(from_csv, ignore_index=True).astype("string")
    b = pd.concat(from_parquet, ignore_index=True).astype("string")
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["lead_id", "industry", "budget"]
    assert a["industry"].tolist()[:4] == ["Software", "", "Retail", ""]


def test_only_the_asked_columns_the_file_has(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(" lead_id ,industry,budget\nL1,Software,3\nL2,,4\n", encoding="utf-8")
    (part,) = text_chunks(path, ",", "utf-8", ["lead_id", "budget", "absent"])
    assert list(part.columns) == ["lead_id", "budget"]
    assert part["budget"].tolist() == ["3", "4"]
    assert list(text_chunks(path, ",", "utf-8", ["absent"])) == []
    parquet = tmp_path / "leads.parquet"
    _frame().to_parquet(parquet, index=False)
    assert list(text_chunks(parquet, ",", "utf-8", ["absent"])) == []

"""The one CSV writer writes pandas' bytes: `write_csv(f, df)` equals
`df.to_csv(f, index=False, float_format="%.6f")` byte for byte on hostile frames, takes its fast
path where it claims to, and hands pandas what it cannot prove (the block's bytes stay pandas').
The comparison itself is checked: a writer that quotes every string, or writes probabilities by
their shortest repr, fails it."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from pipeline.io import csvwrite
from pipeline.io.csvwrite import csv_lines, write_csv

HOSTILE = [
    "plain",
    "a,b",
    'say "hi"',
    '"',
    '""',
    ",",
    '","',
    "=SUM(A1)",
    "+1",
    "-2",
    "@cmd",
    "'=already",
    " lead space ",
    "",
    "café Zoë Ångström",
    "北京市 リード",
    "emoji 🚀👩‍💻",
    "tab\there",
    "semi;colon",
    "back\\slash",
    "x" * 5000,
    ('é,"🚀' * 700),
]
BOUNDARY = [0.0, 1.0, 5e-7, 0.0000005, 0.9999995, 0.0000015, 0.4999995, 0.5, 1e-12, 0.999999]


def pandas_bytes(df: pd.DataFrame, header: bool = True) -> bytes:
    b = io.BytesIO()
    df.to_csv(b, index=False, header=header, float_format="%.6f")
    return b.getvalue()


def fast_bytes(df: pd.DataFrame, header: bool = True) -> bytes:
    b = io.BytesIO()
    write_csv(b, df, header=header)
    return b.getvalue()


def scores_frame(n: int, seed: int = 0, text: list[object] | None = None) -> pd.DataFrame:
    """A frame shaped like the scores file (string ids, rounded probability, ints, object
    reasons with None, constant columns), its text cells drawn from `text`."""
    rng = np.random.default_rng(seed)
    pool = np.array(text or HOSTILE, dtype=object)
    prob = np.concatenate([BOUNDARY, rng.random(max(n - len(BOUNDARY), 0))])[:n]
    reason = pool[rng.integers(0, len(pool), n)]
    reason[rng.random(n) < 0.2] = None
    return pd.DataFrame(
        {
            "lead_id": pd.array(pool[rng.integers(0, len(pool), n)], dtype="string"),
            "probability": pd.Series(prob).round(6),
            "score": rng.integers(0, 101, n),
            "stage": pd.array(rng.choice(["lead", "MQL", "SQL"], n), dtype="str"),
            "reason_1": reason,
            "model_version": "1",
            "scored_at": "2026-11-01T00:00:00+00:00",
            "fit_score": pd.array(rng.integers(-5, 101, n), dtype="Int64"),
            "model_segment": pd.array(rng.choice(["EMEA", "pooled", "A,B"], n), dtype="string"),
        }
    )


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
@pytest.mark.parametrize("header", [True, False])
def test_scores_shaped_frames_are_pandas_bytes_by_the_fast_path(n, header):
    df = scores_frame(n)
    assert csv_lines(df) is not None  # the fast path wrote them, not the fallback
    assert fast_bytes(df, header) == pandas_bytes(df, header)


def test_empty_strings_and_missing_cells_of_every_kind():
    df = pd.DataFrame(
        {
            "a": pd.Series(["", None, np.nan, pd.NA, "x"], dtype=object),
            "b": pd.array(["", None, "y", None, ""], dtype="string"),
            "c": pd.array(["", None, "z", None, ""], dtype="str"),
            "d": pd.array([1, None, -3, None, 0], dtype="Int64"),
            "e": pd.Series([None] * 5, dtype=object),
        }
    )
    assert csv_lines(df) is not None
    assert fast_bytes(df) == pandas_bytes(df)


@pytest.mark.parametrize("seed", range(20))
def test_random_frames(seed):
    """Seeded random draws (hypothesis is not installed): cells built from hostile pieces and
    random code points, mixed lengths, missing cells, probabilities in [0, 1]."""
    rng = np.random.default_rng(seed)
    pieces = [*HOSTILE[:-2], ",", '"', "'", "=", " ", "é", "🚀", "中"]

    def cell() -> str | None:
        if rng.random() < 0.1:
            return None
        k = int(rng.integers(0, 6))
        cps = [chr(int(c)) for c in rng.integers(0x20, 0xD7FF, int(rng.integers(0, 4)))]
        return "".join(rng.choice(pieces, k)) + "".join(cps)

    n = int(rng.integers(1, 300))
    df = scores_frame(n, seed, text=[cell() for _ in range(50)])
    assert csv_lines(df) is not None
    assert fast_bytes(df) == pandas_bytes(df)


def test_every_code_point_is_quoted_as_pandas_quotes_it():
    """Cells of 64 code points each, over every code point but the surrogates and line breaks
    (those go to pandas, below): a character the csv module quotes and this writer does not, or
    the reverse, makes its cell differ."""
    cps = [c for c in range(0x110000) if not (0xD800 <= c <= 0xDFFF) and chr(c) not in "\r\n"]
    text = "".join(map(chr, cps))
    cells = [text[i : i + 64] for i in range(0, len(text), 64)]
    df = pd.DataFrame({"t": pd.array(cells, dtype="string"), "o": pd.Series(cells, dtype=object)})
    assert csv_lines(df) is not None
    assert fast_bytes(df) == pandas_bytes(df)


def test_every_probability_on_the_six_decimal_grid():
    """All 1,000,001 values `.round(6)` can give in [0, 1]: the fast path accepts only these, so
    this is the whole proof of its float rule, digit for digit against "%.6f"."""
    v = np.arange(1_000_001) / 1e6
    got = csvwrite._six_decimals(v)
    assert got is not None
    assert got.to_pylist() == [csvwrite.FLOAT_FORMAT % x for x in v]  # what pandas calls


def test_rounded_probabilities_are_on_the_grid():
    """`Series.round(6)` (numpy: rint(x * 1e6) / 1e6) of random and boundary values, halfway
    points and their neighbours included, always lands on the grid the fast path writes."""
    rng = np.random.default_rng(1)
    k = rng.integers(0, 1_000_000, 20_000)
    half = (k + 0.5) / 1e6
    raw = np.concatenate(
        [rng.random(100_000), BOUNDARY, half, np.nextafter(half, 0), np.nextafter(half, 1)]
    )
    p = pd.Series(raw).round(6)
    got = csvwrite._six_decimals(p.to_numpy())
    assert got is not None
    assert got.to_pylist() == [csvwrite.FLOAT_FORMAT % x for x in p]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([0.5, -0.0]),  # prints as -0.000000
        pd.Series([0.5, np.nan]),
        pd.Series([0.5, -1e-7]),
        pd.Series([0.5, 1.000001]),
        pd.Series([0.5, 0.1234567]),  # not rounded
        pd.Series([0.5, 0.25], dtype="float32"),
        pd.Series([True, False]),
        pd.Series([1, "a"], dtype=object),
        pd.Series([b"bytes", "a"], dtype=object),
        pd.Series(["line\nbreak", "a"]),
        pd.Series(["carriage\rreturn", "a"]),
        pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02"])),
        pd.Series(["a", "b"], dtype="category"),
    ],
    ids=lambda s: repr(s.tolist()[-1])[:20],
)
def test_what_the_fast_path_cannot_prove_is_left_to_pandas(column):
    df = pd.DataFrame({"lead_id": ["L1", "L2"], "x": column, "n": [1, 2]})
    assert csv_lines(df) is None
    assert fast_bytes(df) == pandas_bytes(df)


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"only": ["", None, "a"]}),  # one column: an empty record is written ""
        pd.DataFrame({"a,b": ["x"], 'q"': ["y"], "line\nname": ["z"]}),
        pd.DataFrame([["a", "b"]], columns=pd.MultiIndex.from_tuples([("x", "1"), ("y", "2")])),
        pd.DataFrame({0: ["a"], 1: ["b"]}),
        pd.DataFrame({"a": pd.Series([], dtype=object), "b": pd.Series([], dtype=float)}),
    ],
    ids=["one-column", "odd-names", "multiindex", "int-names", "empty"],
)
def test_odd_shapes(df):
    assert fast_bytes(df) == pandas_bytes(df)
    assert fast_bytes(df, header=False) == pandas_bytes(df, header=False)


def test_a_block_pandas_must_write_sits_between_fast_ones(monkeypatch):
    monkeypatch.setattr(csvwrite, "BLOCK_ROWS", 3)
    df = scores_frame(10)
    df.loc[4, "reason_1"] = "two\nlines"
    assert fast_bytes(df) == pandas_bytes(df)


def test_text_handles_get_the_same_text():
    df = scores_frame(50)
    f = io.StringIO()
    write_csv(f, df)
    assert f.getvalue().encode() == pandas_bytes(df)


def test_the_comparison_catches_wrong_writers(monkeypatch):
    """Plausible wrong writers fail the tests above: quoting every string, the shortest repr of
    a probability, and trusting any float (unrounded values written as if rounded)."""
    df = scores_frame(100)

    def quote_all(s):
        return csvwrite.pc.binary_join_element_wise(
            csvwrite.QUOTE,
            csvwrite.pc.replace_substring(s, '"', '""'),
            csvwrite.QUOTE,
            csvwrite.EMPTY,
        ).fill_null("")

    def shortest(v):
        return csvwrite.pa.array([repr(float(x)) for x in v], csvwrite.TEXT)

    for name, wrong in [("_quoted", quote_all), ("_six_decimals", shortest)]:
        with monkeypatch.context() as m:
            m.setattr(csvwrite, name, wrong)
            assert fast_bytes(df) != pandas_bytes(df), name

    with monkeypatch.context() as m:
        m.setattr(csvwrite, "_six_decimals", lambda v: shortest(np.round(v, 6)))
        unrounded = df.assign(probability=np.linspace(0, 1, len(df)) / 3)
        assert fast_bytes(unrounded) != pandas_bytes(unrounded)

"""Scoring parses every date, number and flag cell of a chunk once: the values that found the bad
rows are the ones the canonical frame holds, and that frame is the one parsing the kept rows
again gave (values, dtypes, column order), on a matrix of hostile shapes. No model is trained:
the scorer is a stand-in with a schema, which is all `split_rows` reads of it."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from pipeline.config import SchemaConfig
from pipeline.errors import DataError
from pipeline.io import canonical, rules
from pipeline.io.canonical import LeadValues, canonical_leads
from pipeline.serving import rows

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # what the readers hand over
AS_OF = pd.Timestamp("2026-11-01")


def _schema(**kw) -> SchemaConfig:
    base = {
        "lead_id": "id",
        "created_at": "created",
        "categorical": ["industry", "size"],
        "numeric": ["budget", "employees"],
        "flags": ["opt_in"],
        "email": "email",
    }
    return SchemaConfig.model_validate({**base, **kw})


def _scorer(sc: SchemaConfig, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(rows, "model_schema", lambda scorer: sc)
    builder = type("B", (), {"numeric": [*sc.numeric, *sc.flags]})
    return type("M", (), {"builder": builder, "meta": {}})


def _frame(n: int = 60, seed: int = 0, **cols) -> pd.DataFrame:
    """A clean chunk (pyarrow text, as both readers give it) with `cols` written over it."""
    r = random.Random(seed)
    df = pd.DataFrame(
        {
            "id": [f"L{i:04d}" for i in range(n)],
            "created": [f"2026-0{1 + i % 9}-1{i % 10} 10:0{i % 10}:00" for i in range(n)],
            "industry": [r.choice(["Software", "Media", None]) for _ in range(n)],
            "size": [r.choice(["1-10", "11-50"]) for _ in range(n)],
            "budget": [str(r.randint(0, 10**6)) for _ in range(n)],
            "employees": [r.choice(["12", "7", None, "1,250"]) for _ in range(n)],
            "opt_in": [r.choice(["Yes", "n", None]) for _ in range(n)],
            "email": [r.choice(["a@gmail.com", "b@corp.io", None]) for _ in range(n)],
        },
        index=pd.RangeIndex(1000, 1000 + n),  # a later chunk: labels are file rows
    )
    for c, v in cols.items():
        df[c] = (v * n)[:n] if isinstance(v, list) else v
    return df.astype({c: TEXT for c in df.columns if df[c].dtype != float})


HOSTILE_DATES = ["not a date", "13/10/2026", "0001-01-01", "now", "", "2027-01-01", "1700000000"]
SHAPES = {
    "clean": ({}, {}),
    "bad dates in the chunk (the mixed-format parse)": (
        {"created": HOSTILE_DATES + ["2026-02-03 04:05:06"] * 5},
        {},
    ),
    "day-first dates": ({"created": ["31.01.2026", "01.02.2026 10:00", "bad"]}, {"dayfirst": True}),
    "epoch seconds": ({"created": ["1767225600", "1767312000", None]}, {"created_at_unit": "s"}),
    "comma decimals": ({"budget": ["1.234,5", "0,5", "7", "1,2,3", "inf", "NaN"]}, {}),
    "point decimals and non-finite": ({"employees": ["1,250.5", "1e309", "-inf", "x", " 8 "]}, {}),
    "ids blank, repeated, invisible": ({"id": ["L1", "", "L1", "L2\u202e", " ", "L3", "L4"]}, {}),
    "non-finite on a rejected row": (
        {"created": ["not a date", "2026-01-01"], "budget": ["inf", "3"]},
        {},
    ),
    "flags": ({"opt_in": ["Yes", "maybe", "TRUE", "0", "off", None]}, {}),
    "all missing text": ({"industry": [None], "email": [None]}, {}),
    "no email, no created_at": ({}, {"email": None, "created_at": None}),
    "typed numbers (parquet)": ({"budget": np.linspace(0, 1e6, 60)}, {}),
}


def _old_canonical(raw: pd.DataFrame, sc: SchemaConfig, decimals: dict) -> pd.DataFrame:
    """The canonical frame as it was built before scoring parsed once: every column parsed again
    and set one by one (the reference for values, dtypes and column order)."""
    ids = raw[sc.lead_id].astype("string")
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(dtype=object), name="lead_id"))
    if sc.created_at and sc.created_at in raw.columns:
        s = raw[sc.created_at]
        out["_created_at"] = rules.to_datetimes(s, sc.dayfirst, sc.created_at_unit)[0].to_numpy()
    else:
        out["_created_at"] = pd.NaT
    out["_email"] = raw[sc.email].to_numpy() if sc.email and sc.email in raw.columns else None
    for c in sc.categorical:
        out[c] = raw[c].astype(object).where(raw[c].notna(), None).to_numpy()
    for c in sc.numeric:
        out[c] = rules.to_numbers(raw[c], decimals[c])[0].to_numpy()
    for c in sc.flags:
        out[c] = rules.to_flags(raw[c])[0].to_numpy()
    out["_label"] = np.nan
    out["_closed_at"] = pd.NaT
    return out


@pytest.mark.parametrize("shape", list(SHAPES))
def test_canonical_frame_from_the_rejecting_parse_is_the_two_step_one(shape, monkeypatch):
    cols, schema = SHAPES[shape]
    sc = _schema(**schema)
    raw = _frame(**cols)
    good, rejected, values = rows.split_rows(raw, _scorer(sc, monkeypatch), AS_OF)
    assert len(good) + len(rejected) == len(raw) and len(good)
    counts_once: dict[str, int] = {}
    once = canonical_leads(good, sc, "f.csv", counts=counts_once, values=values)
    counts_twice: dict[str, int] = {}
    twice = canonical_leads(good, sc, "f.csv", counts=counts_twice, decimal=values.decimals)
    pd.testing.assert_frame_equal(once, twice, check_exact=True)
    old = _old_canonical(good, sc, values.decimals)
    pd.testing.assert_frame_equal(once, old, check_exact=True)
    assert once.dtypes.tolist() == old.dtypes.tolist() and once.index.dtype == old.index.dtype
    assert once.attrs["decimals"] == twice.attrs["decimals"] == values.decimals
    assert counts_once == counts_twice  # non-finite numbers of the kept rows only


def test_each_cell_is_parsed_once_per_chunk(monkeypatch):
    """split_rows then canonical_leads with its values: one parse per date, number and flag
    column; canonical_leads alone (training) still parses its own."""
    sc = _schema()
    calls: list[str] = []
    for mod in (canonical, rules):
        for name in ("to_datetimes", "number_cells", "to_flags"):
            real = getattr(rules, name)

            def counted(s, *a, _real=real, _name=name, **k):
                calls.append(f"{_name}:{s.name}")
                return _real(s, *a, **k)

            monkeypatch.setattr(mod, name, counted)
    raw = _frame(created=HOSTILE_DATES + ["2026-02-03"] * 3, budget=["1", "x", "inf"])
    good, _, values = rows.split_rows(raw, _scorer(sc, monkeypatch), AS_OF)
    canonical_leads(good, sc, "f.csv", counts={}, values=values)
    expected = ["to_datetimes:created", "number_cells:budget", "number_cells:employees"]
    assert sorted(calls) == sorted([*expected, "to_flags:opt_in"])
    calls.clear()
    canonical_leads(good, sc, "f.csv", counts={}, decimal=values.decimals)
    assert len(calls) == 4


def test_a_bad_cell_handed_over_parsed_is_still_the_one_line_error(monkeypatch):
    """Values parsed without rejecting (a caller's mistake) never slip a bad cell through."""
    sc = _schema()
    raw = _frame(employees=["12", "twelve"])
    values = LeadValues.parse(raw, sc)
    with pytest.raises(DataError, match=r"column 'employees' row 3: 'twelve' is not a number"):
        canonical_leads(raw, sc, "f.csv", values=values)


def test_refused_dates_are_found_by_pyarrow_as_by_python_re():
    """`_refused` asks Python's `re` only about the cells pyarrow cannot rule out: the same
    answer as asking it about every cell, on whitespace RE2 does not know and non-ASCII digits."""
    r = random.Random(3)
    alphabet = list("0123456789/.-+ \t\x0b\x1c\nab\u0663\u00a0")
    cells = ["2026-01-31", "13/10/2026", "\x0b13/10/2026", "\x1f13.10.2026", "\u0661\u0663/10/2026"]
    cells += ["1700000000", "\x0b+1700000000.5", "now", "", None, "12/31/2026\n"]
    cells += ["".join(r.choice(alphabet) for _ in range(r.randint(0, 12))) for _ in range(5000)]
    s = pd.Series(cells, dtype=TEXT)
    for dayfirst in (False, True):
        fast = rules._refused(s, dayfirst).to_numpy(bool)
        exact = rules._refused_exactly(s.astype("string"), dayfirst).to_numpy(bool)
        assert fast[:4].tolist() == [False, not dayfirst, not dayfirst, not dayfirst]
        assert (fast == exact).all()


def test_numbers_read_by_pyarrow_are_those_pandas_reads():
    """Plain unsigned integers go to pyarrow, the rest to `pd.to_numeric`: the same floats (sign
    of zero included) as `pd.to_numeric` of the whole column, whatever the column mixes."""
    r = random.Random(4)
    pool = ["0", "-0", "+0", "7", "007", "123456789012345", "1234567890123456", "-5", "+7", "1.5"]
    pool += [
        "-0.0",
        "1e5",
        "1e309",
        "inf",
        "NaN",
        "",
        None,
        "\x00",
        "0x1F",
        "1_000",
        "\u0661\u0662",
    ]
    pool += ["9007199254740993", "99999999999999999999", "-9223372036854775809"]
    for _ in range(2000):
        text = pd.Series([r.choice(pool) for _ in range(r.randint(0, 8))], dtype="string")
        want = pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
        got = rules._floats(text).to_numpy()
        np.testing.assert_array_equal(got, want)
        assert (np.signbit(got) == np.signbit(want)).all(), text.tolist()


def test_activity_rows_and_order_are_those_of_index_in_and_a_stable_argsort():
    """The events read: each event's lead found by its normalised id looked up once per distinct
    id of the block, as hashing every normalised id did; and the events ordered by two 16-bit
    radix passes, as argsort did."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.io.fastcsv import LeadLookup, stable_order
    from pipeline.io.rules import normalize_id_array

    rng = np.random.default_rng(6)
    ids = pa.array([f"L{i}" for i in range(0, 3000, 3)])
    written = [" L{}", "L{}\u200b", "L{}", "L{}.0"]  # padding, invisible characters: the same id
    raw = [None if i % 17 == 0 else written[i % 4].format(i) for i in rng.integers(0, 3100, 20_000)]
    lid = pa.array(raw)
    want_ids = normalize_id_array(lid)
    pos = pc.fill_null(pc.index_in(want_ids, value_set=ids), -1).to_numpy(zero_copy_only=False)
    got_ids, got = LeadLookup(ids).find(lid)
    np.testing.assert_array_equal(got, pos)
    assert got_ids.to_pylist() == want_ids.to_pylist()
    assert (got >= 0).sum() > 1000 and (got < 0).sum() > 1000  # both kinds were looked up
    for high in (300, 1 << 16, 200_000):
        row = rng.integers(0, high, 50_000).astype(np.int32)
        np.testing.assert_array_equal(stable_order(row), np.argsort(row, kind="stable"))

"""Properties of reading: an export and any semantically equal way of writing it (padding, ids
written as floats, invisible characters, CRLF, quoting, outcome case, column order, gzip) give the
same canonical leads, labels and events on the pandas path and on the pyarrow fast path. Scores
are a function of exactly these, so equal reading means equal scores (the slow tier checks the
scores themselves, `test_scoring_variants.py`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.io import fastcsv
from pipeline.io.canonical import load_events, load_leads, outcome_labels
from pipeline.io.rules import clean_cells, normalize_id_array, normalize_ids
from tests.properties.conftest import config_for
from tests.properties.exports import AS_OF, INVISIBLE, TEXT, Variant, sample, write_export

# bounded: each example writes and reads two small exports (~0.3 s); no shrinking, whose
# search over exports would take minutes (a failure prints the drawn variant as it is)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
variants = st.builds(
    Variant,
    pad=st.booleans(),
    float_ids=st.booleans(),
    invisible=st.sampled_from(("", *INVISIBLE)),
    crlf=st.booleans(),
    quote_all=st.booleans(),
    upper_outcomes=st.booleans(),
    reverse_columns=st.booleans(),
    gzip=st.booleans(),
)
ids = st.text(st.sampled_from("0123456789abcXY-_"), min_size=1, max_size=8)
noise = st.sampled_from(["", " ", "\u00a0", "\t", *INVISIBLE])


@SETTINGS
@given(id_=ids, before=st.lists(noise, max_size=3), after=st.lists(noise, max_size=3))
def test_an_id_is_the_same_id_whatever_surrounds_it(id_, before, after):
    """Padding and invisible characters never make another id; `.0` after a whole number neither;
    the rule is idempotent and the pyarrow form (fast path) agrees with the pandas form."""
    written = [id_, "".join(before) + id_ + "".join(after)]
    if id_.isdigit():
        written += [id_ + ".0", id_ + ".00"]
    got = normalize_ids(pd.Series(written, dtype=object))
    assert set(got) == {id_}
    assert normalize_ids(got).tolist() == got.tolist()
    arrow = normalize_id_array(pa.array(written, pa.string())).to_pylist()
    assert arrow == got.tolist()


@SETTINGS
@given(value=st.sampled_from(["Software", "APAC", "closedwon", "Health care"]), pad=noise)
def test_a_text_cell_is_the_same_value_whatever_surrounds_it(value, pad):
    got = clean_cells(pd.Series([f"{pad}{value}{pad}", value, f" {pad} "], dtype=object))
    assert got.iloc[:2].tolist() == [value, value]
    assert pd.isna(got.iloc[2])  # nothing but padding: missing, not a category of its own


def _read(cfg, files: dict[str, Path]):
    c = config_for(cfg, files)
    leads = load_leads(c)
    events = load_events(c, lead_ids=leads.index)
    labels = outcome_labels(c, files["outcomes"])
    return c, leads, events, labels


def _events(ev: pd.DataFrame) -> pd.DataFrame:
    return ev.sort_values(["lead_id", "ts", "type"]).reset_index(drop=True)


def _compact(c, files, leads, fast: bool):
    first_ids = pa.array(list(leads.index), pa.string())
    rows = np.arange(len(leads))
    as_of = np.datetime64(AS_OF, "ns")
    if fast:
        return fastcsv.compact_events(files["activities"], c, first_ids, rows, as_of)
    ev = load_events(c, files["activities"], lead_ids=leads.index, rejected=[])
    return fastcsv.compact_from_frame(ev, first_ids, rows, as_of)


@SETTINGS
@given(v=variants, n=st.integers(8, 25), seed=st.integers(0, 10_000))
def test_a_variant_reads_as_its_clean_twin(crm_config, v, n, seed):
    tables = sample(n, seed)
    with tempfile.TemporaryDirectory() as d:
        clean = _read(crm_config, write_export(Path(d) / "clean", tables))
        files = write_export(Path(d) / "variant", tables, v)
        c, leads, events, labels = _read(crm_config, files)
        pd.testing.assert_index_equal(leads.index, clean[1].index)
        for col in [*TEXT, "_label", "_created_at", "_closed_at", "Annual Revenue"]:
            pd.testing.assert_series_equal(leads[col], clean[1][col], check_dtype=False)
        pd.testing.assert_frame_equal(_events(events), _events(clean[2]), check_dtype=False)
        pd.testing.assert_series_equal(labels.sort_index(), clean[3].sort_index())
        want = _compact(clean[0], write_export(Path(d) / "clean", tables), clean[1], fast=False)
        for fast in (False, True):
            try:
                got = _compact(c, files, leads, fast)
            except fastcsv.FastPathUnavailable:
                assert fast and v.gzip  # only a compressed file leaves the fast path here
                continue
            assert got.types == want.types or sorted(got.types) == sorted(want.types)
            for a in ("row", "ts"):
                np.testing.assert_array_equal(getattr(got, a), getattr(want, a))
            assert [got.types[i] for i in got.code] == [want.types[i] for i in want.code]
            if fast:  # the batch scorer counts the pandas path's matches itself
                assert (got.match.matched, got.match.rows) == (len(events), len(events))

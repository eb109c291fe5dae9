"""The rules every lead's reasons keep, proven over random frames (hypothesis): a missing value
that raised the score is never a reason and the next field takes its slot; no machine id is
shown; the period's columns (`schema.context`) are said at most once, as market conditions; a
field that moved nothing (a column the model does not use) is never a reason."""

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.explain.reasons import CONTEXT_WORDS, reason_table
from pipeline.words import is_hash_like

HASH_IDS = [f"{i:08x}dfc3b656bac13de62e4efca3" for i in range(6)]
LABELS = {"page_id": {"name": "landing page", "values": {HASH_IDS[0]: "landing page #1 (of 6)"}}}
COLUMNS = ["origin", "page_id", "visits", "rate", "employed", "index", "budget"]
CONTEXT = {"rate", "employed", "index"}
FF = {c: c for c in COLUMNS}


@st.composite
def leads(draw):
    n = draw(st.integers(1, 12))
    cell = st.one_of(st.none(), st.sampled_from(["web", "fair", "partner"]))
    X = pd.DataFrame(
        {
            "origin": pd.array(draw(st.lists(cell, min_size=n, max_size=n)), dtype="string"),
            "page_id": pd.array(
                draw(
                    st.lists(
                        st.one_of(st.none(), st.sampled_from(HASH_IDS)), min_size=n, max_size=n
                    )
                ),
                dtype="string",
            ),
            **{
                c: draw(
                    st.lists(
                        st.one_of(st.none(), st.floats(0, 5000, allow_nan=False)),
                        min_size=n,
                        max_size=n,
                    )
                )
                for c in ["visits", "rate", "employed", "index", "budget"]
            },
        },
        index=[f"L{i}" for i in range(n)],
    )
    X[["visits", "rate", "employed", "index", "budget"]] = X[
        ["visits", "rate", "employed", "index", "budget"]
    ].astype(float)
    c = np.array(
        draw(
            st.lists(
                st.lists(st.floats(-2, 2, allow_nan=False), min_size=7, max_size=7),
                min_size=n,
                max_size=n,
            )
        )
    )
    return X, c


def _said(X: pd.DataFrame, c: np.ndarray, k: int) -> pd.DataFrame:
    return reason_table(c, FF, X, k, False, labels=LABELS, context=CONTEXT)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(leads(), st.integers(1, 4))
def test_reasons_keep_their_rules_on_any_frame(case, k):
    X, c = case
    r = _said(X, c, k)
    ctx = c[:, [COLUMNS.index(x) for x in sorted(CONTEXT)]].sum(axis=1)
    parts = {"origin": c[:, 0], "page_id": c[:, 1], "visits": c[:, 2], "budget": c[:, 6]}
    for i, (_, row) in enumerate(r.iterrows()):
        said = [x for x in row.tolist() if isinstance(x, str)]
        # an absence that raised the score is never a reason, for text and numbers alike
        assert not [x for x in said if x.startswith("[+]") and "not given" in x], said
        # no machine id, and the period's columns at most once, as market conditions
        assert not [w for x in said for w in re.split(r"[\s:()]+", x) if is_hash_like(w)], said
        assert sum(CONTEXT_WORDS in x for x in said) <= 1
        assert not [x for x in said if re.search(r"\b(rate|employed|index)\b", x)], said
        # the slots are filled, left to right, by every field with something to say up to k:
        # the fields whose value is there, a missing one only when it lowered the score
        # (a count of zero, "no site visits", is an absence too: said only when it lowered it)
        # (and a field that moved nothing, a part of exactly 0, has nothing to say)
        speakable = int(ctx[i] != 0) + sum(
            1
            for f, part in parts.items()
            if part[i] != 0
            and (
                (pd.notna(X.iloc[i][f]) and not (f == "visits" and X.iloc[i][f] == 0))
                or part[i] < 0
            )
        )
        assert len(said) == min(k, speakable), (said, X.iloc[i].tolist(), c[i])
        assert row.tolist()[: len(said)] == said
        if abs(ctx[i]) > np.abs(c[i, [0, 1, 2, 6]]).max() and k:
            assert said[0].endswith(CONTEXT_WORDS)


def test_a_missing_origin_that_raises_gives_way_to_the_next_reason():
    X = pd.DataFrame(
        {
            "origin": pd.array([None, None], dtype="string"),
            "page_id": pd.array([HASH_IDS[0], HASH_IDS[3]], dtype="string"),
            "visits": [3.0, 2.0],
            "rate": [4.8, 4.8],
            "employed": [5099.1, 5099.1],
            "index": [93.2, 93.2],
            "budget": [np.nan, 10.0],
        },
        index=["A", "B"],
    )
    c = np.array(
        [
            [0.9, -0.3, 0.2, -0.4, -0.3, -0.2, 0.05],  # origin missing raises: left out
            [-0.9, 0.5, 0.1, 0.0, 0.0, 0.0, 0.0],  # origin missing lowers: a reason
        ]
    )
    r = _said(X, c, 3)
    assert r.loc["A"].tolist() == [
        "[-] market conditions at the time",
        "[-] landing page #1 (of 6)",
        "[+] 3 site visits",
    ]
    assert r.loc["B"].tolist() == [
        "[-] origin not given",
        "[+] landing page (an id not in schema.labels)",
        "[+] 2 site visits",
    ]

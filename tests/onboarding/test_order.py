"""`init`'s evidence that an export without dates runs oldest to newest: an increasing id, period
columns constant over long runs; shuffled rows show neither."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.onboarding.order import time_order_evidence


def _export(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "lead_id": [f"C{i:06d}" for i in range(n)],
            "market_rate": np.repeat(np.round(rng.normal(3, 1, 10), 2), n // 10).astype(str),
            "job": rng.choice(["admin", "technician", "manager"], n),
        }
    )


def test_evidence_of_time_order_is_named() -> None:
    said = time_order_evidence(_export(), "lead_id", set())
    assert said == (
        "'lead_id' increases down the file; 'market_rate' holds the same value over long runs of rows"
    )


def test_shuffled_rows_show_no_order() -> None:
    shuffled = _export().sample(frac=1, random_state=1).reset_index(drop=True)
    assert time_order_evidence(shuffled, "lead_id", set()) is None
    # a column that is nearly constant is no period mark
    flat = _export().assign(market_rate="3.1").sample(frac=1, random_state=2)
    assert time_order_evidence(flat.reset_index(drop=True), "lead_id", set()) is None


def test_the_row_number_init_asks_for_is_no_evidence() -> None:
    """`init` tells a user without ids to add `row_number` (1..n): it increases down any file."""
    df = _export().drop(columns="market_rate")
    df.insert(0, "row_number", [str(i) for i in range(1, len(df) + 1)])
    assert time_order_evidence(df.drop(columns="lead_id"), "row_number", set()) is None
    assert time_order_evidence(df, "lead_id", {"row_number"}) == "'lead_id' increases down the file"

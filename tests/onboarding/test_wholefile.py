"""init reads the whole file: a column constant in the first 20,000 rows of a time-sorted export
is not dropped, and the drafted SQL target comes from the whole file's win rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.onboarding.draft import guess_config


def test_late_varying_column_and_whole_win_rate(tmp_path) -> None:
    n = 30_000
    rng = np.random.default_rng(0)
    late = np.arange(n) >= 22_000
    won = rng.random(n) < np.where(late, 0.3, 0.05)  # wins concentrate late, as in a sorted file
    pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "poutcome": np.where(late & (rng.random(n) < 0.5), "success", "nonexistent"),
            "job": rng.choice(["a", "b", "c"], n),
            "y": np.where(won, "yes", "no"),
        }
    ).to_csv(tmp_path / "leads.csv", index=False)
    draft = guess_config(tmp_path / "leads.csv")
    assert "poutcome" in [c.column for c in draft.categorical]
    assert abs(draft.sql.base_rate - won.mean()) < 1e-9
    assert any(f"({n:,} rows)" in note for note in draft.notes)


@pytest.mark.parametrize("fmt", ["%d-%m-%Y", "%m/%d/%Y", "%Y-%m-%d"])
def test_span_line_reads_dates_in_the_drafted_order(tmp_path, fmt: str) -> None:
    """The months init reports are the months the loaders will read: '01-02-2018' in a day-first
    file is February (a second parser once read it as January and spanned 24 months, not 12)."""
    days = pd.date_range("2017-06-01", "2018-05-31", freq="D")
    n = 3000
    rng = np.random.default_rng(1)
    created = days[rng.integers(0, len(days), n)]
    pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "first_contact_date": created.strftime(fmt),
            "job": rng.choice(["a", "b", "c"], n),
            "y": rng.choice(["yes", "no"], n),
        }
    ).to_csv(tmp_path / "leads.csv", index=False)
    draft = guess_config(tmp_path / "leads.csv")
    months = sorted(set(created.strftime("%Y-%m")))
    said = f"creation dates span {len(months)} months ({months[0]} to {months[-1]})"
    assert any(said in note for note in draft.notes), draft.notes

"""init reads the whole file: a column constant in the first 20,000 rows of a time-sorted export
is not dropped, and the drafted SQL target comes from the whole file's win rate."""

from __future__ import annotations

import numpy as np
import pandas as pd

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

"""Monitoring reads outcomes by the rule training reads them by: the same id column, ids stripped
of padding, the first row of a repeated id, the same won/lost values. Otherwise a lead counted
won in training could count lost (or unknown) when its promise is checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.io.canonical import load_leads
from pipeline.monitoring.monitor import monitor


def _export(tmp_path: Path, outcome_column: str | None) -> Config:
    """Six leads and a deals table; with an outcome column its ids are in their own column
    (`schema.outcome.lead_id`), without one (listed = won) under the leads' id column."""
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(1, 7)],
            "created_at": [f"2026-01-0{i}" for i in range(1, 7)],
            "industry": ["Retail", "Software", "Retail", "Retail", "Software", "Retail"],
        }
    )
    leads.to_csv(tmp_path / "leads.csv", index=False)
    deals = pd.DataFrame(
        {  # padded ids; L2 and L3 twice (the first row counts); L9 is no lead; L5 open
            "deal_lead": ["  L1 ", "L2", " L2", "L3 ", "L3", "L4", "L5", "L9"],
            "stage": ["won", "won", "lost", "lost", "won", "lost", "negotiating", "won"],
        }
    )
    outcome: dict = {"column": outcome_column, "lead_id": "deal_lead"}
    if outcome_column is None:
        deals = deals.iloc[:-2].rename(columns={"deal_lead": "lead_id"})
        outcome = {"column": None, "won": "present", "lost": "absent"}
    deals.to_csv(tmp_path / "deals.csv", index=False)
    return Config.model_validate(
        {
            "data": {"leads": str(tmp_path / "leads.csv"), "outcomes": str(tmp_path / "deals.csv")},
            "schema": {"categorical": ["industry"], "outcome": outcome},
        }
    )


@pytest.mark.parametrize("outcome_column", ["stage", None])
def test_monitor_and_training_read_the_same_outcomes(tmp_path, outcome_column):
    cfg = _export(tmp_path, outcome_column)
    trained = load_leads(cfg)["_label"]  # what training learns from
    if outcome_column:
        assert trained.to_dict() == pytest.approx(
            {"L1": 1.0, "L2": 1.0, "L3": 0.0, "L4": 0.0, "L5": np.nan, "L6": np.nan}, nan_ok=True
        )
    else:
        assert trained.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    p = np.array([0.9, 0.5, 0.1, 0.8, 0.45, 0.2])
    stage = np.array(["SQL", "MQL", "lead"] * 2)
    scores = pd.DataFrame({"lead_id": trained.index, "probability": p, "stage": stage})
    table = monitor(cfg, Path(cfg.data.outcomes), scores, "scores.csv").stages.set_index("stage")
    known = trained.notna().to_numpy()
    for s in ("SQL", "MQL", "lead"):
        mine = known & (stage == s)
        assert table.loc[s, "with_outcome"] == mine.sum(), s
        assert table.loc[s, "won"] == trained.to_numpy()[mine].sum(), s
        assert table.loc[s, "promised_conversion"] == pytest.approx(p[mine].mean())

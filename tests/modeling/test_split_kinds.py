"""The split's kinds and who it leaves out: by creation time, by file position
(`data.rows_in_time_order`), stratified random; the labelled leads too recent to know their outcome
counted with their rule; with a horizon, each window decides instead of the known-outcome rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.features.known import LeftOut
from pipeline.modeling.prepare import split_for_training
from pipeline.modeling.split import POSITION, RANDOM, TIME, split_leads
from pipeline.report.card import leads_accounted

T0 = pd.Timestamp("2025-01-01")


def _won_only_dates(n: int = 400) -> pd.DataFrame:
    """Two tables with won-only close dates: every 5th lead won 60 days after creation; losses
    carry no close date, so their outcome is known only by the lag rule (60 days)."""
    created = T0 + pd.to_timedelta(np.arange(n), unit="D")
    won = np.arange(n) % 5 == 0
    closed = pd.Series(created + pd.Timedelta(days=60)).where(won)
    return pd.DataFrame(
        {"_created_at": created, "_closed_at": closed.to_numpy(), "_label": won.astype(float)},
        index=pd.Index([f"L{i:04d}" for i in range(n)], name="lead_id"),
    )


def test_position_split_tests_the_newest_rows() -> None:
    leads = _won_only_dates().assign(_created_at=pd.NaT, _closed_at=pd.NaT)
    s = split_leads(leads, 0.15, 0.15, 0, in_order=True)
    assert s.kind == POSITION
    order = s.assignment.reindex(leads.index).to_numpy()
    # oldest rows fit, then validation, newest rows test, in file order
    assert list(pd.unique(order)) == ["fit", "val", "test"]
    assert (order[-60:] == "test").all() and (order[:250] == "fit").all()
    assert split_leads(leads, 0.15, 0.15, 0).kind == RANDOM  # not said: random
    # dates win over position: the key only speaks for exports without them
    assert split_leads(_won_only_dates(), 0.15, 0.15, 0, in_order=True).kind == TIME


def test_left_out_leads_are_counted_with_their_rule() -> None:
    leads = _won_only_dates()
    s = split_leads(leads, 0.15, 0.15, 0)
    # the export date is the latest creation or close date; a lead younger than the 60-day lag
    # at that date may still win: not known yet
    end = max(leads["_created_at"].max(), leads["_closed_at"].max())
    young = int((leads["_created_at"] + pd.Timedelta(days=60) > end).sum())
    assert young > 0 and s.left_out.leads == young and s.left_out.days == 60
    assert len(s.assignment) + s.left_out.leads == len(leads)
    assert "known 60 days after creation" in s.left_out.rule()


def test_horizon_windows_decide_not_the_known_outcome_rule() -> None:
    """With targets.horizon_days, a lead whose N-day window ended by the export date is kept even
    when the known-outcome rule (a 60-day lag here) would call it too recent."""
    leads = _won_only_dates()
    cfg = Config.model_validate(
        {"targets": {"horizon_days": 20}, "training": {"snapshot_days": [1, 7]}}
    )
    kept, s, _ = split_for_training(cfg, leads, pd.DataFrame())
    known_rule = split_leads(leads, 0.15, 0.15, 0)
    assert len(s.assignment) > len(known_rule.assignment)
    end = max(leads["_created_at"].max(), leads["_closed_at"].max())
    open_window = leads["_created_at"] + pd.Timedelta(days=21) > end
    assert s.left_out == LeftOut(int(open_window.sum()), horizon_days=20)
    assert set(s.assignment.index) == set(leads.index[~open_window.to_numpy()])


def test_leads_accounted_add_up_and_name_the_rule() -> None:
    info = {
        "rows_leads": 8000,
        "leads_won": 842,
        "leads_lost": 7158,
        "leads_open": 0,
        "leads_left_out_recent": 1894,
        "left_out_rule": LeftOut(1894, 250.0).rule(),
    }
    said = leads_accounted(info)
    assert said.startswith("8,000 leads: 8,000 labelled (842 won, 7,158 lost), 0 still open")
    assert "1,894 of the labelled leads (24%) were left out as too recent" in said
    assert "known 250 days after creation" in said
    none = leads_accounted({**info, "leads_left_out_recent": 0})
    assert none.endswith("every labelled lead was trained on or tested")

"""Which backtest periods run and which are skipped, with the reason that applied: months walked
back from the newest until `backtest_months` can be tested, blocks by position for files in time
order. Built on hand-made rows (no model is fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.features.known import LeftOut
from pipeline.modeling.prepare import TrainingRows
from pipeline.training.backtest import MIN_TEST_LEADS, Backtests, backtest_periods

T0 = pd.Timestamp("2025-01-01")


def _rows(leads: pd.DataFrame, kind: str = "time") -> tuple[TrainingRows, np.ndarray]:
    """One snapshot per lead (its only row), labels from `_label`."""
    snaps = pd.DataFrame({"lead_id": leads.index, "as_of": leads["_created_at"], "split": "fit"})
    y = leads["_label"].to_numpy(int)
    rows = TrainingRows(None, snaps, pd.DataFrame(), y, np.ones(len(y), bool), kind == "time")
    rows.split_kind, rows.left_out = kind, LeftOut(0, 30.0)
    return rows, pd.factorize(rows.lead_ids)[0]


def _leads(days: np.ndarray, won: np.ndarray) -> pd.DataFrame:
    created = T0 + pd.to_timedelta(days, unit="D")
    closed = pd.Series(created + pd.Timedelta(days=1))  # every outcome known the next day
    return pd.DataFrame(
        {"_created_at": created, "_closed_at": closed.to_numpy(), "_label": won.astype(float)},
        index=pd.Index([f"L{i:05d}" for i in range(len(days))], name="lead_id"),
    )


def test_untestable_months_are_listed_and_older_ones_take_their_place() -> None:
    # ten months of 100 leads each; every 10th lead won, but no lead won in Jun-Aug: their test
    # leads are all lost, and September's validation leads (the newest before it) hold no win
    days = np.repeat(np.arange(10) * 30.5, 100) + np.tile(np.arange(100) * 0.29, 10)
    won = (np.arange(1000) % 10 == 0) & ~np.isin(np.arange(1000) // 100, [5, 6, 7])
    # the newest month has too few test leads
    days, won = days[:-70], won[:-70]
    leads = _leads(days, won)
    rows, codes = _rows(leads)
    cfg = Config.model_validate({"training": {"backtest_months": 3}})
    plan = backtest_periods(cfg, leads, rows, codes)
    assert plan.mode == "monthly" and plan.outcomes == "as_known_then"
    periods, skipped = plan.periods, plan.skipped
    tested = [p.name for p in periods]
    said = {s["period"]: s["reason"] for s in skipped}
    assert said["2025-10"] == f"30 test leads, fewer than {MIN_TEST_LEADS}"
    for m in ("2025-06", "2025-07", "2025-08"):
        assert said[m] == "its test leads are all won or all lost"
    assert said["2025-09"].startswith(
        "too few outcomes known before it began to train on: its "
        "validation leads need wins and losses"
    )
    # three testable months, walking back past the untestable ones, oldest first
    assert tested == ["2025-03", "2025-04", "2025-05"]
    assert [s["period"] for s in skipped] == sorted(said)  # listed oldest first
    assert all(s["test_leads"] > 0 and s["train_won"] + s["train_lost"] > 0 for s in skipped)


def test_a_month_without_outcomes_known_before_it_says_so() -> None:
    days = np.arange(600) * 0.5  # 300 days, every 10th lead won
    leads = _leads(days, np.arange(600) % 10 == 0)
    rows, codes = _rows(leads)
    training = {"backtest_months": 20, "backtest_outcomes": "as_known_then"}
    cfg = Config.model_validate({"training": training})
    skipped = backtest_periods(cfg, leads, rows, codes).skipped
    first = skipped[0]
    assert first["period"] == "2025-01" and first["train_won"] == first["train_lost"] == 0
    assert first["reason"].startswith("too few outcomes known before it began to train on")
    assert "known 30 days after creation" in first["reason"]  # the rule that applied
    # at the export, the first month has no lead before it at all: said so, not "known"
    training["backtest_outcomes"] = "at_export"
    cfg = Config.model_validate({"training": training})
    first = backtest_periods(cfg, leads, rows, codes).skipped[0]
    assert first["period"] == "2025-01" and first["outcomes"] == "at_export"
    assert first["reason"] == (
        "too few labelled leads created before it began to train on: its fit leads need wins "
        "and losses"
    )


def test_rows_in_time_order_backtest_by_position() -> None:
    leads = _leads(np.arange(1000) * 1.0, np.arange(1000) % 7 == 0)
    leads["_created_at"] = pd.NaT
    rows, codes = _rows(leads, "position")
    cfg = Config.model_validate({"training": {"backtest_months": 4}})
    plan = backtest_periods(cfg, leads, rows, codes)
    periods = plan.periods
    assert plan.mode == "positional" and not plan.skipped and plan.outcomes == "at_export"
    assert [p.name for p in periods] == [
        "rows 501-625",
        "rows 626-750",
        "rows 751-875",
        "rows 876-1,000",
    ]
    for p in periods:  # every fit and validation row comes before every test row
        first_test = np.flatnonzero(p.test).min()
        assert np.flatnonzero(p.fit | p.val).max() < first_test
        assert np.flatnonzero(p.val).min() > np.flatnonzero(p.fit).max()


def test_backtest_months_zero_is_the_only_off() -> None:
    leads = _leads(np.arange(300) * 1.0, np.arange(300) % 5 == 0)
    rows, codes = _rows(leads)
    cfg = Config.model_validate({"training": {"backtest_months": 0}})
    plan = backtest_periods(cfg, leads, rows, codes)
    assert (plan.periods, plan.mode, plan.skipped, plan.outcomes) == ([], "off", [], "")


def test_no_backtest_gives_the_reason_that_applied() -> None:
    empty = pd.DataFrame()
    skipped = pd.DataFrame([{"period": "2025-03", "reason": "x"}])
    assert Backtests(empty, "off", empty).reason_none() == "training.backtest_months is 0"
    rule = "outcomes as known at the time (only outcomes known before the month began)"
    said = Backtests(empty, "monthly", skipped, "as_known_then", rule).reason_none()
    assert said == f"every period checked was skipped (1) under {rule}"
    assert "backtest_months" not in said
    assert Backtests(pd.DataFrame([{"roc_auc": 0.8}]), "monthly", skipped).reason_none() == ""

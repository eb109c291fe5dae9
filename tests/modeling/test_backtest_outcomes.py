"""Which outcomes a backtest month fits on (`training.backtest_outcomes`), one rule per run.

An MQL list beside a won-deals table (losses have no close date) counts every outcome as known
only when 95% of the wins had closed, 200+ days after creation; when the early leads hardly ever
won, no month had wins known before it began, and the run had no backtest at all. `auto` then
fits on outcomes as known at the export (the test split's rule), says so and why; where
outcomes known at the time test every month, nothing changes. No model is fit here: the periods
are checked on their rows (`backtest_periods`), the refits are in the slow tier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config, load_config
from pipeline.features.known import export_date
from pipeline.features.snapshots import build_snapshot_features
from pipeline.modeling.prepare import TrainingRows, prepare_training_rows
from pipeline.modeling.split import known_by_export
from pipeline.synthetic.sample import DEFAULT_END, generate
from pipeline.synthetic.shapes import two_tables_recent
from pipeline.training.backtest import (
    AS_KNOWN_THEN,
    AT_EXPORT,
    TOO_FEW_KNOWN,
    Backtests,
    _row_known_at,
    backtest_periods,
)

RULES = (AS_KNOWN_THEN, AT_EXPORT)


def _cfg(outcomes: str, months: int = 6) -> Config:
    return Config.model_validate(
        {"training": {"backtest_months": months, "backtest_outcomes": outcomes}}
    )


@pytest.fixture(scope="module")
def late_wins() -> tuple[pd.DataFrame, TrainingRows, np.ndarray]:
    """The generator's two-table export with slow deals (`two-table-recent`), whose deals table
    lists no win of the first 180 days of leads (like the Olist MQL export: the early leads
    hardly ever won), as training reads it: every lead labelled (won: in the deals table, with
    its close date; lost: absent, no date), the leads too recent to know left out, one row each."""
    data = generate(4000, seed=7)
    leads, deals = two_tables_recent(data, DEFAULT_END)
    created = pd.to_datetime(leads.set_index("lead_id")["created_at"])
    closed = pd.to_datetime(deals.set_index("lead_id")["closed_at"]).reindex(created.index)
    early = (created < created.min() + pd.Timedelta(days=180)).to_numpy()
    won = created.index.isin(deals["lead_id"]) & ~early
    frame = pd.DataFrame(
        {"_created_at": created, "_closed_at": closed.where(won), "_label": won.astype(float)}
    )
    keep, left_out = known_by_export(frame, export_date(frame), None)
    lab = frame[keep]
    snaps = pd.DataFrame({"lead_id": lab.index, "as_of": lab["_created_at"], "split": "fit"})
    y = lab["_label"].to_numpy(int)
    rows = TrainingRows(None, snaps, pd.DataFrame(), y, np.ones(len(y), bool), True)
    rows.split_kind, rows.left_out = "time", left_out
    assert left_out.days is not None and left_out.days > 150  # the slow-deal lag applies
    return lab, rows, pd.factorize(rows.lead_ids)[0]


def test_early_leads_that_never_won_still_get_monthly_backtests_at_the_export(late_wins) -> None:
    leads, rows, codes = late_wins
    strict = backtest_periods(_cfg(AS_KNOWN_THEN), leads, rows, codes)
    # outcomes known at the time: no month is testable, each is listed with the reason that
    # applied, its counts and the rule
    assert strict.mode == "monthly" and strict.periods == [] and strict.outcomes == AS_KNOWN_THEN
    assert strict.skipped and {s["outcomes"] for s in strict.skipped} == {AS_KNOWN_THEN}
    fit_short = [s for s in strict.skipped if s["reason"].startswith(TOO_FEW_KNOWN)]
    assert len(fit_short) >= 6
    assert all("counts as known" in s["reason"] and s["train_won"] <= 1 for s in fit_short)
    none = Backtests(pd.DataFrame(), strict.mode, pd.DataFrame(strict.skipped), *_said(strict))
    assert none.reason_none().startswith(
        f"every period checked was skipped ({len(strict.skipped)})"
    )
    assert "outcomes as known at the time" in none.reason_none()

    plan = backtest_periods(_cfg("auto"), leads, rows, codes)
    assert plan.mode == "monthly" and plan.outcomes == AT_EXPORT
    assert len(plan.periods) >= 3, [s["reason"] for s in plan.skipped]
    assert plan.said.startswith("outcomes as known at the export, as the test split")
    assert "because with outcomes as known at the time only 0 of the 6 months" in plan.said
    assert {s["outcomes"] for s in plan.skipped} <= {AT_EXPORT}
    # a month skipped at the export is never said to lack outcomes "known before it began"
    assert not any(s["reason"].startswith(TOO_FEW_KNOWN) for s in plan.skipped)
    # asked for by name, the same periods, said as asked
    named = backtest_periods(_cfg(AT_EXPORT), leads, rows, codes)
    assert [p.name for p in named.periods] == [p.name for p in plan.periods]
    assert named.said.endswith("as training.backtest_outcomes asks")


def _said(plan) -> tuple[str, str]:
    return plan.outcomes, plan.said


@pytest.fixture(scope="module")
def sample_rows(sample_config_path):
    """The small event-log sample's training rows (features built, no model fit)."""
    from pipeline.jobs import load_training_data

    cfg = load_config(sample_config_path)
    leads, events = load_training_data(cfg)
    rows = prepare_training_rows(cfg, leads, events)
    return cfg, leads, events, rows, pd.factorize(rows.lead_ids)[0]


def test_auto_keeps_outcomes_known_then_where_they_test_every_month(sample_rows) -> None:
    cfg, leads, _, rows, codes = sample_rows
    assert cfg.training.backtest_outcomes == "auto"  # the shipped default
    auto = backtest_periods(cfg, leads, rows, codes)
    strict = backtest_periods(_cfg(AS_KNOWN_THEN), leads, rows, codes)
    assert auto.outcomes == AS_KNOWN_THEN and "because" not in auto.said
    assert len(auto.periods) == cfg.training.backtest_months
    assert [p.name for p in auto.periods] == [p.name for p in strict.periods]
    for a, s in zip(auto.periods, strict.periods, strict=True):
        for part in ("fit", "val", "test"):
            assert np.array_equal(getattr(a, part), getattr(s, part)), (a.name, part)


@pytest.mark.parametrize("outcomes", RULES)
def test_fit_slices_leak_nothing_under_either_rule(sample_rows, outcomes: str) -> None:
    """Under both rules: no test-month lead is in its own fit or validation slice, every fit
    lead was created before the month began (and under `as_known_then` its label was known by
    then), and no fit row's feature uses an event at or after its as-of time (rebuilding the
    rows from only the events before it changes nothing)."""
    cfg, leads, events, rows, codes = sample_rows
    plan = backtest_periods(_cfg(outcomes), leads, rows, codes)
    assert plan.outcomes == outcomes and len(plan.periods) == 6
    created = leads["_created_at"].reindex(rows.lead_ids).to_numpy("datetime64[ns]")
    pos = leads.index.get_indexer(rows.lead_ids)
    known_at = _row_known_at(cfg, leads, rows, pos)
    fit_any = np.zeros(len(rows.y), bool)
    for p in plan.periods:
        start = np.datetime64(p.name, "M").astype("datetime64[ns]")
        train = p.fit | p.val
        assert not set(codes[train]) & set(codes[p.test]), p.name
        assert (created[train] < start).all() and (created[p.test] >= start).all()
        if outcomes == AS_KNOWN_THEN:
            assert (np.isnat(known_at[train]) | (known_at[train] < start)).all(), p.name
        fit_any |= train
    idx = np.flatnonzero(fit_any)
    snaps = rows.snaps.iloc[idx].reset_index(drop=True)
    for age in snaps["age"].unique():  # a lead has one snapshot per age
        sub = snaps[snaps["age"] == age] if pd.notna(age) else snaps[snaps["age"].isna()]
        mine = events.merge(sub[["lead_id", "as_of"]], on="lead_id")
        before = mine[mine["ts"] < mine["as_of"]].drop(columns="as_of")
        rebuilt = build_snapshot_features(rows.builder, leads, before, sub).reset_index(drop=True)
        kept = rows.X.iloc[idx[sub.index]].reset_index(drop=True)
        pd.testing.assert_frame_equal(rebuilt, kept, check_dtype=False, obj=f"age {age}")


def test_an_unknown_backtest_outcomes_value_is_one_line_naming_the_key(tmp_path) -> None:
    from tests.conftest import run

    cfg = tmp_path / "c.yaml"
    cfg.write_text("training:\n  backtest_outcomes: at_the_end\n", encoding="utf-8")
    r = run("validate", "--config", cfg)
    assert r.exit_code == 2
    err = r.output.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:"), r.output
    assert "training.backtest_outcomes" in err and "as_known_then" in err, err


@pytest.mark.slow
def test_auto_backtest_numbers_are_those_of_outcomes_known_then_on_the_sample(
    trained, sample_config
) -> None:
    """Where outcomes known at the time test every month, `auto` is that rule: the same table to
    the last digit as a run that asks for it by name, and recorded as such."""
    from pipeline.training.backtest import start_backtests, worker_pool

    result, leads, events = trained
    assert sample_config.training.backtest_outcomes == "auto"
    bt = result.extra_tables["backtest"]
    assert result.info["backtest_outcomes"] == AS_KNOWN_THEN and len(bt) == 6
    assert (bt["outcomes"] == AS_KNOWN_THEN).all()
    cfg = sample_config.model_copy(deep=True)
    cfg.training.backtest_outcomes = AS_KNOWN_THEN
    rows = prepare_training_rows(cfg, leads, events)
    with worker_pool() as pool:
        method, candidate = result.info["calibration"], result.scorer.candidate
        named = start_backtests(cfg, leads, rows, method, pool, candidate)()
    pd.testing.assert_frame_equal(named.table, bt)
    # without points rules no points column: a points score of 0 would read as an AUC of 0.5
    cfg.baseline_points = {}
    with worker_pool() as pool:
        bare = start_backtests(cfg, leads, rows, method, pool, candidate)()
    assert "points_roc_auc" in bt and "points_roc_auc" not in bare.table
    pd.testing.assert_frame_equal(bare.table, bt.drop(columns="points_roc_auc"))

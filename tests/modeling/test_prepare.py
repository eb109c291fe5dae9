"""`tune` searches the problem `train` solves: the same features and the same fit and validation
rows, on the export shapes where a second copy of the preparation once drifted (yes/no flags; no
activity table, where each lead is one row)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.jobs import load_training_data
from pipeline.modeling.candidates import fit_booster
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import prepare_training_rows
from pipeline.training.train import train
from pipeline.training.tune import _prepare
from tests.byo_helpers import example_config
from tests.conftest import write_config

pytestmark = pytest.mark.slow  # every test here trains a model

NO_BACKTESTS = {"backtest_months": 0}  # backtests refit the recipe; they add nothing here


def _flat_with_flags(tmp_path, sample_dir):
    return example_config("flat-export", tmp_path, training=NO_BACKTESTS)


def _sample_without_activities(tmp_path, sample_dir):
    return write_config(
        tmp_path / "c.yaml", sample_dir, data={"activities": None}, training=NO_BACKTESTS
    )


SHAPES = {"flags": _flat_with_flags, "no_activities": _sample_without_activities}


@pytest.fixture(params=list(SHAPES), scope="module")
def shape(request, sample_dir, tmp_path_factory):
    """(config, leads, events, train result, tune's rows) for one export shape."""
    cfg = load_config(SHAPES[request.param](tmp_path_factory.mktemp(request.param), sample_dir))
    # the shape is what the case says: flags in the flat export, no events without activities
    assert cfg.schema.flags if request.param == "flags" else not cfg.data.activities
    cfg.training.candidates = [
        "lightgbm"
    ]  # tune tunes the booster: compare it with train's booster
    leads, events = load_training_data(cfg)
    assert len(events) == 0 or request.param == "flags"
    result = train(cfg, leads, events)
    return cfg, leads, events, result, prepare_training_rows(cfg, leads, events, with_test=False)


def test_tune_sees_the_feature_names_train_fits(shape):
    cfg, leads, events, result, rows = shape
    X, *_ = _prepare(cfg, leads, events)
    fitted = result.scorer.builder.feature_names
    assert list(X.columns) == list(rows.X.columns) == fitted == result.info["features"]
    booster_in = result.scorer.estimator.named_steps["encode"].feature_names_in_.tolist()
    assert booster_in == fitted
    assert set(cfg.schema.flags) <= set(fitted)  # flags are features, in tune as in train
    if not cfg.data.activities:
        assert not result.scorer.builder.activity_types_
        assert not [f for f in fitted if f.startswith("activity_") or f == "lead_age_days"]


def test_tune_rows_are_trains_fit_and_validation_rows(shape):
    cfg, leads, events, result, rows = shape
    full = prepare_training_rows(cfg, leads, events)  # what `train` prepares
    keep = ~full.part("test")
    assert rows.by_time == full.by_time == (result.info["split"] == "time")
    pd.testing.assert_frame_equal(
        rows.snaps.reset_index(drop=True), full.snaps[keep].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        rows.X.reset_index(drop=True), full.X[keep].reset_index(drop=True)
    )
    assert np.array_equal(rows.y, full.y[keep]) and np.array_equal(
        rows.one_per_lead, full.one_per_lead[keep]
    )
    assert not rows.part("test").any()
    assert result.info["rows_fit"] == rows.part("fit").sum()
    assert result.info["rows_val"] == rows.part("val").sum()
    if not cfg.data.activities:  # nothing to replay: one row per lead
        assert rows.snaps["lead_id"].is_unique and rows.one_per_lead.all()

    # the validation leads' last snapshots are the rows train calibrated its score reference on
    vl = rows.part("val") & rows.one_per_lead
    assert np.array_equal(
        np.sort(result.scorer.conversion_probability(rows.X[vl])), result.scorer.score_reference
    )
    # and a booster fit on tune's fit rows, early-stopped on its validation rows, is train's
    tc = cfg.training
    fit, val = rows.part("fit"), rows.part("val")
    again = fit_booster(
        rows.X[fit], rows.y[fit], rows.X[val], rows.y[val], rows.builder.categorical,
        size_aware(tc.lightgbm, int(fit.sum())), tc.seed, tc.min_category_count,
    )  # fmt: skip
    assert np.array_equal(
        again.predict_proba(rows.X)[:, 1], result.scorer.estimator.predict_proba(rows.X)[:, 1]
    )


def test_tune_halves_the_validation_leads_and_never_sees_the_test_leads(shape):
    cfg, leads, events, _, rows = shape
    X, y, fit_m, stop_m, judge_m, cats, size_rows = _prepare(cfg, leads, events)
    ids = rows.lead_ids
    assert np.array_equal(fit_m, rows.part("fit")) and np.array_equal(y, rows.y)
    assert size_rows == rows.size_rows == fit_m.sum()  # parameters for the size train fits
    assert cats == rows.builder.categorical
    stop, judge = set(ids[stop_m]), set(ids[judge_m])
    assert not stop & judge  # no lead both early-stops and judges a trial
    assert stop | judge == set(ids[rows.part("val")])
    assert judge_m.sum() == len(judge)  # one row per judging lead: its last snapshot
    full = prepare_training_rows(cfg, leads, events)
    assert not set(ids) & set(full.lead_ids[full.part("test")])

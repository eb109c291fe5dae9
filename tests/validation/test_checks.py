"""The checks of `leadscore validate`: each one fires on the data it is meant for, and only there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.validation.checks import check_training_data
from pipeline.validation.leakage import leakage_suspects
from tests.byo_helpers import example_config
from tests.conftest import run


def _cfg(**schema) -> Config:
    return Config.model_validate({"data": {"leads": "leads.csv"}, "schema": schema})


def _leads(n_won: int = 150, n_lost: int = 250, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_won + n_lost
    y = np.r_[np.ones(n_won), np.zeros(n_lost)]
    return pd.DataFrame(
        {
            "_label": y,
            "_created_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n), "h"),
            "_closed_at": pd.NaT,
            "_email": None,
            "noise": rng.choice(["a", "b", "c"], n).astype(object),
            "amount": rng.normal(0, 1, n),
        },
        index=pd.Index([f"L{i}" for i in range(n)], name="lead_id"),
    )


def _checks(report, check: str) -> list[str]:
    return [f.column for f in report.findings if f.check == check]


def test_clean_data_has_no_warnings():
    r = check_training_data(_cfg(categorical=["noise"], numeric=["amount"]), _leads(), _empty())
    assert r.errors == [] and r.warnings == []
    assert "leads: 400 (150 won, 250 lost, 0 open)" in r.lines()[0]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"lead_id": [], "ts": pd.Series(dtype="datetime64[ns]"), "type": []})


def test_minimum_outcomes_refused_with_numbers_and_configurable():
    leads = _leads(n_won=40)
    r = check_training_data(_cfg(categorical=["noise"]), leads, _empty())
    assert [f.check for f in r.errors] == ["min_outcomes"]
    assert "found 40 won and 250 lost" in r.errors[0].message
    cfg = Config.model_validate(
        {"schema": {"categorical": ["noise"]}, "validation": {"min_won": 30}}
    )
    assert check_training_data(cfg, leads, _empty()).errors == []


def test_one_class_is_its_own_error():
    r = check_training_data(_cfg(), _leads(n_won=0), _empty())
    assert [f.check for f in r.errors] == ["one_class"] and "are lost" in r.errors[0].message


def test_constant_id_like_missing_and_future_dates():
    leads = _leads()
    leads["const"] = "x"
    leads["ident"] = [f"u{i}" for i in range(len(leads))]
    leads["sparse"] = np.where(np.arange(len(leads)) % 10 == 0, "v", None)
    leads.iloc[:3, leads.columns.get_loc("_created_at")] = pd.Timestamp("2099-01-01")
    cfg = _cfg(categorical=["const", "ident", "sparse"])
    r = check_training_data(cfg, leads, _empty(), now=pd.Timestamp("2026-01-01"))
    assert _checks(r, "constant") == ["const"]
    assert _checks(r, "id_like") == ["ident"]
    assert "sparse" in _checks(r, "missing")
    fut = [f.message for f in r.findings if f.check == "future_dates"]
    assert len(fut) == 1 and "3 dates lie in the future" in fut[0]


def test_leakage_suspects_by_separation_and_by_fill_pattern():
    leads = _leads()
    y = leads["_label"].to_numpy()
    rng = np.random.default_rng(1)
    leads["tags"] = np.where(
        y == 1, "closed by sales", rng.choice(["ringing", "no answer"], len(y))
    )
    leads["quality"] = np.where((y == 1) & (rng.random(len(y)) < 0.9), "high", None)
    leads["days_to_close"] = np.where(
        y == 1, rng.uniform(0, 5, len(y)), rng.uniform(10, 50, len(y))
    )
    cfg = _cfg(categorical=["noise", "tags", "quality"], numeric=["amount", "days_to_close"])
    found = {f.column: f.message for f in leakage_suspects(leads, cfg)}
    assert set(found) == {"tags", "quality", "days_to_close"}  # not noise, not amount
    assert "'closed by sales': 150 won / 0 lost" in found["tags"]
    assert "filled for 9" in found["quality"] and "0% of lost" in found["quality"]
    assert "AUC 1.000" in found["days_to_close"]


def test_id_column_is_not_a_leakage_suspect():
    leads = _leads()
    leads["ident"] = [f"u{i}" for i in range(len(leads))]  # every value has one outcome
    assert leakage_suspects(leads, _cfg(categorical=["ident"])) == []


def test_feature_that_is_also_the_outcome_or_dropped_is_an_error():
    r = check_training_data(
        _cfg(categorical=["noise"], drop=["noise"], outcome={"column": "noise"}),
        _leads(),
        _empty(),
    )
    msgs = [f.message for f in r.errors]
    assert any("schema.outcome.column and also a feature" in m for m in msgs)
    assert any("schema.drop and also a feature" in m for m in msgs)


def test_validate_command_prints_report_and_suspects(tmp_path, mlflow_uri):
    leaky = example_config(
        "flat-export",
        tmp_path,
        schema={
            "drop": ["Lead Number"],
            "categorical": ["Lead Origin", "Tags", "Lead Quality", "Magazine"],
        },
    )
    r = run("validate", "--config", leaky)
    assert r.exit_code == 0, r.output
    assert "leakage suspects: Tags, Lead Quality" in r.stdout
    assert "column 'Magazine' has one value ('No') in every row" in r.stdout
    assert "stratified-random" in r.stdout


@pytest.mark.parametrize("min_won", [1000])
def test_validate_command_exits_2_when_training_would_be_refused(tmp_path, mlflow_uri, min_won):
    cfg = example_config("two-table-funnel", tmp_path, validation={"min_won": min_won})
    r = run("validate", "--config", cfg)
    assert r.exit_code == 2
    assert "found 265 won and 835 lost" in r.stderr and "at least 1000 won" in r.stderr


def test_no_dates_names_the_way_out_and_the_positional_split_says_so():
    """Without creation dates the warning says the split is random and how a file whose rows run
    oldest to newest gets an out-of-time one; with `data.rows_in_time_order` it is no warning."""
    leads = _leads().assign(_created_at=pd.NaT)
    said = [
        f for f in check_training_data(_cfg(), leads, _empty()).findings if f.check == "no_dates"
    ]
    assert [f.level for f in said] == ["warning"]
    assert "stratified-random" in said[0].message
    assert "data.rows_in_time_order: true" in said[0].message
    cfg = Config.model_validate({"data": {"leads": "leads.csv", "rows_in_time_order": True}})
    said = [f for f in check_training_data(cfg, leads, _empty()).findings if f.check == "no_dates"]
    assert [f.level for f in said] == ["info"] and "by position" in said[0].message

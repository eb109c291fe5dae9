"""One feature-column list: the checks, the reader, the feature builder and the MLflow dataset of
a training run all take `SchemaConfig.feature_columns`, so a flag column is a feature to each of
them (the dataset logged with a run once left the flags out)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.canonical import canonical_leads
from pipeline.modeling.prepare import feature_builder
from pipeline.tracking.runs import log_training_data
from pipeline.validation.checks import check_config_columns
from pipeline.validation.findings import Report

META = ["_created_at", "_closed_at", "_label", "_email"]  # what the reader adds beside features
WANT = ["industry", "employees", "newsletter", "opted_in"]


@pytest.fixture()
def cfg(tmp_path: Path) -> Config:
    raw = _raw()
    raw.to_csv(tmp_path / "leads.csv", index=False)
    return Config.model_validate(
        {
            "data": {"leads": str(tmp_path / "leads.csv")},
            "schema": {
                "categorical": ["industry"],
                "numeric": ["employees"],
                "flags": ["newsletter", "opted_in"],
                "engagement": ["opted_in"],
            },
        }
    )


def _raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "d"],
            "created_at": ["2026-01-0" + d for d in "1234"],
            "industry": ["Retail", "Software", None, "Retail"],
            "employees": ["10", "200", "35", None],
            "newsletter": ["Yes", "No", "Y", "N"],
            "opted_in": ["true", "false", None, "true"],
            "outcome": ["won", "lost", "open", "lost"],
        }
    )


def test_the_list_is_categorical_then_numeric_then_flags(cfg):
    assert cfg.schema.feature_columns() == WANT


def test_the_checks_take_flags_as_features(cfg):
    report = Report()
    check_config_columns(cfg, report)
    assert not report.errors  # opted_in is an engagement column because it is a feature
    cfg.schema.drop = ["newsletter"]
    check_config_columns(cfg, report)
    assert [f.column for f in report.errors] == ["newsletter"]


def test_the_reader_requires_and_keeps_every_feature_column(cfg):
    leads = canonical_leads(_raw(), cfg.schema, "leads.csv")
    assert [c for c in leads.columns if c not in META] == WANT
    assert leads["newsletter"].tolist() == [1.0, 0.0, 1.0, 0.0]
    with pytest.raises(DataError, match="opted_in"):
        canonical_leads(_raw().drop(columns="opted_in"), cfg.schema, "leads.csv")


def test_the_feature_builder_learns_from_every_feature_column(cfg):
    leads = canonical_leads(_raw(), cfg.schema, "leads.csv")
    b = feature_builder(cfg, leads)
    assert b.categorical == ["industry"]
    assert [*b.categorical, *b.numeric] == WANT


def test_the_mlflow_dataset_carries_the_flags(cfg, monkeypatch):
    leads = canonical_leads(_raw(), cfg.schema, "leads.csv")
    leads["_label"] = [1.0, 0.0, None, 0.0]
    logged = []
    monkeypatch.setattr(mlflow, "log_input", lambda ds, context: logged.append((ds, context)))
    log_training_data(cfg, leads)
    ((ds, context),) = logged
    assert context == "training"
    assert list(ds.df.columns) == [*WANT, "converted", "created_at"]
    assert [c["name"] for c in ds.schema.to_dict()] == [*WANT, "converted", "created_at"]

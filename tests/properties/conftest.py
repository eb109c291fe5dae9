"""One tiny scorer for the property tests: trained in-process (no MLflow) once per session on
the CRM fixture, with two snapshot ages and no backtests, so it costs seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.byo_helpers import example_config


@pytest.fixture(scope="session")
def crm_config(tmp_path_factory: pytest.TempPathFactory):
    from pipeline.config import load_config

    folder = tmp_path_factory.mktemp("crm_props")
    overrides = {"training": {"snapshot_days": [7, 30], "backtest_months": 0}}
    return load_config(example_config("crm-export", folder, **overrides))


@pytest.fixture(scope="session")
def crm_scorer(crm_config):
    """(scorer, its training leads): the fitted artifact the batch scorer and REST use."""
    from pipeline.jobs import load_training_data
    from pipeline.training.train import train

    leads, events = load_training_data(crm_config)
    return train(crm_config, leads, events, None).finish().scorer


def config_for(cfg, files: dict[str, Path]):
    """`cfg` reading the export `files` (leads, activities, outcomes)."""
    data = cfg.data.model_copy(update={k: str(v) for k, v in files.items()})
    return cfg.model_copy(update={"data": data})

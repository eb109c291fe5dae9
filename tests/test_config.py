import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError


def test_default_config_loads():
    cfg = load_config("config/default.yaml")
    assert cfg.schema.lead_id == "lead_id"
    assert cfg.targets.sql.precision == 0.5
    assert cfg.targets.mql.recall == 0.8


def test_unknown_key_is_named(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("schema:\n  lead_idd: id\n")
    with pytest.raises(ConfigError, match=r"unknown key 'schema.lead_idd'"):
        load_config(p)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_sql_target_needs_exactly_one_rule(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("targets:\n  sql: {precision: 0.5, capacity_per_month: 10}\n")
    with pytest.raises(ConfigError, match="targets.sql"):
        load_config(p)


def test_outcome_values_may_be_scalars(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("schema:\n  outcome: {column: converted, won: 1, lost: 0}\n")
    cfg = load_config(p)
    assert cfg.schema.outcome.won == ["1"] and cfg.schema.outcome.lost == ["0"]

"""Config values are checked when the config loads: each bad value is one line naming the key and
what is allowed, exit 2, and nothing earlier is lost (an existing scores file stays as it was)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import Config, load_config
from pipeline.errors import ConfigError
from tests.conftest import run

BAD_VALUES = [
    ({"training": {"seed": 2**32}}, "training.seed", "less than or equal to 4294967295"),
    ({"training": {"seed": -1}}, "training.seed", "greater than or equal to 0"),
    ({"data": {"encoding": "utf-9"}}, "data.encoding", "unknown encoding 'utf-9'"),
    ({"data": {"encoding": {"activities": "klingon"}}}, "data.encoding", "unknown encoding"),
    ({"data": {"encoding": {"notes": "utf-8"}}}, "data.encoding", "leads"),
    ({"data": {"sep": ""}}, "data.sep", "not one character"),
    ({"data": {"sep": ";;"}}, "data.sep", "not one character"),
    ({"data": {"decimal": "·"}}, "data.decimal", "'.' or ','"),
    ({"training": {"test_start": "soon"}}, "training.test_start", "'soon' is not a date"),
    ({"training": {"test_start": "now"}}, "training.test_start", "'now' is not a date"),
    ({"training": {"test_start": "9999-01-01"}}, "training.test_start", "outside 1970-2200"),
    ({"training": {"snapshot_days": []}}, "training.snapshot_days", "empty"),
    ({"training": {"snapshot_days": [-30, 0]}}, "training.snapshot_days", "-30 is not a positive"),
    ({"schema": {"created_at_unit": "days"}}, "schema.created_at_unit", "'s', 'ms', 'us' or 'ns'"),
    ({"schema": {"activity": {"timestamp_unit": "h"}}}, "schema.activity.timestamp_unit", "'ms'"),
]


@pytest.mark.parametrize(("over", "key", "allowed"), BAD_VALUES, ids=[c[1] for c in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_key_and_what_is_allowed(tmp_path, over, key, allowed):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(over), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert f"key '{key}'" in msg and allowed in msg, msg
    assert "Value error" not in msg


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_bytes("data:\n  leads: donn\u00e9es.csv\n".encode("cp1252"))
    with pytest.raises(ConfigError, match=r"not UTF-8 \(byte 0xe9 at offset 19\); save") as e:
        load_config(p)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("over", "key", "allowed"), BAD_VALUES[:1] + BAD_VALUES[5:6])
def test_score_refuses_a_bad_config_and_keeps_the_previous_scores(tmp_path, over, key, allowed):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(over), encoding="utf-8")
    out = tmp_path / "scores.csv"
    out.write_text("lead_id,probability\nL1,0.5\n")
    r = run("score", "--config", p, "--output", out, "--as-of", "2026-11-01")
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and allowed in lines[0], lines
    assert out.read_text() == "lead_id,probability\nL1,0.5\n"


def test_good_values_still_load_and_a_plain_encoding_is_every_files():
    cfg = Config.model_validate({"data": {"encoding": "cp1252", "sep": ";", "decimal": ","}})
    assert [cfg.data.encoding_for(t) for t in ("leads", "activities", "outcomes")] == ["cp1252"] * 3
    per = Config.model_validate({"data": {"encoding": {"leads": "utf-16"}}}).data
    assert per.encoding_for("leads") == "utf-16" and per.encoding_for("activities") == "utf-8"
    t = Config.model_validate({"training": {"seed": 2**32 - 1, "test_start": "2026-03-01"}})
    assert t.training.seed == 2**32 - 1
    assert load_config(Path("config/default.yaml")).training.snapshot_days[0] == 1

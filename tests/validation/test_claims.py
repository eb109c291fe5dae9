"""`validate` checks the config's claims against the whole file: a column `init` dropped as
"one value in every filled row" that varies further down the file is reported with what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipeline.config import load_config
from pipeline.validation.claims import claimed_constant, whole_file_values
from tests.conftest import run

HEAD = 20_000  # what an init that read only the first rows saw
ROWS = 24_000


def _time_sorted_export(folder: Path) -> tuple[Path, Path]:
    """Leads sorted by creation time: 'Campaign' is 'Spring' in the first 20k rows, then varies."""
    rng = np.random.default_rng(3)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 300, ROWS)), "D")
    campaign = np.where(np.arange(ROWS) < HEAD, "Spring", rng.choice(["Spring", "Summer"], ROWS))
    df = pd.DataFrame(
        {
            "lead_id": [f"L{i:06d}" for i in range(ROWS)],
            "created_at": created.strftime("%Y-%m-%d"),
            "industry": rng.choice(["retail", "software", "finance"], ROWS),
            "employees": rng.integers(1, 500, ROWS),
            "Campaign": campaign,
            "outcome": np.where(rng.random(ROWS) < 0.2, "won", "lost"),
        }
    )
    whole, head = folder / "leads.csv", folder / "leads_head.csv"
    df.to_csv(whole, index=False)
    df.head(HEAD).to_csv(head, index=False)
    return whole, head


def _point_at(cfg_path: Path, leads: Path, out: Path) -> Path:
    """The same config text (comments kept) reading another leads file."""
    text = cfg_path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    out.write_text(text.replace(str(raw["data"]["leads"]), str(leads)), encoding="utf-8")
    return out


def test_validate_reports_a_dropped_constant_that_varies_in_the_whole_file(tmp_path, mlflow_uri):
    whole, head = _time_sorted_export(tmp_path)
    drafted = tmp_path / "config.yaml"
    r = run("init", "--leads", head, "--out", drafted)
    assert r.exit_code == 0, r.output
    note = load_config(drafted).schema.drop_reasons.get("Campaign", "")
    assert note.startswith("constant: one value ('Spring')"), note

    ok = run("validate", "--config", drafted)  # the file init read: the claim holds
    assert ok.exit_code == 0, ok.output
    assert "Campaign" not in ok.stdout

    grown = _point_at(drafted, whole, tmp_path / "grown.yaml")
    r = run("validate", "--config", grown)
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if "'Campaign'" in x)
    assert line.startswith("warning: column 'Campaign' is in schema.drop as one value")
    assert "holds 2 distinct values" in line and "'Summer'" in line
    assert "remove it from schema.drop and add it to schema.categorical" in line

    # init reading the whole file does not make the claim at all
    r = run("init", "--leads", whole, "--out", tmp_path / "whole.yaml")
    assert r.exit_code == 0, r.output
    assert "Campaign" not in load_config(tmp_path / "whole.yaml").schema.drop_reasons


def test_only_columns_whose_recorded_reason_says_constant_are_claimed(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "data:\n  leads: leads.csv\nschema:\n  lead_id: id\n  drop:\n"
        "    - A\n    - 'B c'\n    - D\n"
        "    - E  # constant: a comment is for people, no claim\n"
        "  drop_reasons:\n"
        "    A: \"constant: one value ('x') in every filled row in the whole file\"\n"
        "    'B c': \"constant: one value ('y') in every filled row\"\n"
        "    D: 'leakage suspect: alone AUC 0.99'\n"
        "    Z: 'constant: not in schema.drop, so no claim'\n",
        encoding="utf-8",
    )
    assert claimed_constant(load_config(cfg)) == ["A", "B c"]


def test_a_config_without_drop_reasons_stays_valid_and_claims_nothing(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "data:\n  leads: leads.csv\nschema:\n  lead_id: id\n  drop:\n"
        "    - A  # constant: one value ('x') in every filled row\n",
        encoding="utf-8",
    )
    assert claimed_constant(load_config(cfg)) == []


def test_whole_file_values_reads_parquet_columns_and_skips_placeholders(tmp_path):
    p = tmp_path / "leads.parquet"
    pd.DataFrame({"id": ["1", "2", "3", "4"], "A": ["x", "Select", None, "z"]}).to_parquet(p)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"data:\n  leads: {p}\n  missing_values: ['', 'Select']\nschema:\n  lead_id: id\n",
        encoding="utf-8",
    )
    got = whole_file_values(p, load_config(cfg), "leads file", ["A", "missing"])
    assert got == {"A": {"x": 1, "z": 1}}

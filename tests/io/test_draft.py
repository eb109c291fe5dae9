"""`leadscore init` drafts a config for each export shape that validates and trains as drafted."""

from __future__ import annotations

import pytest
import yaml

from pipeline.config import load_config
from pipeline.io.checks import check_training_data
from pipeline.jobs import load_training_data
from pipeline.modeling.train import train
from tests.byo_helpers import FIX, run

SHAPES = {
    "crm": [
        "--leads",
        FIX / "crm/contacts.csv",
        "--activities",
        FIX / "crm/engagements.csv",
        "--outcomes",
        FIX / "crm/deals.csv",
    ],
    "flat": ["--leads", FIX / "flat/Leads.csv"],
    "flat_parquet": ["--leads", FIX / "flat/leads.parquet"],
    "funnel": [
        "--leads",
        FIX / "funnel/olist_marketing_qualified_leads_dataset.csv",
        "--outcomes",
        FIX / "funnel/olist_closed_deals_dataset.csv",
    ],
}


def _init(tmp_path, shape: str):
    out = tmp_path / f"{shape}.yaml"
    r = run("init", *SHAPES[shape], "--out", out)
    assert r.exit_code == 0, r.output
    return out, out.read_text(), yaml.safe_load(out.read_text())


def test_crm_draft(tmp_path):
    _, text, c = _init(tmp_path, "crm")
    assert c["data"]["sep"] == ";"
    s = c["schema"]
    assert s["lead_id"] == "Record ID" and s["created_at"] == "Create Date" and s["dayfirst"]
    assert s["outcome"] == {
        "lead_id": "Contact ID",
        "column": "Deal Stage",
        "won": ["closedwon"],
        "lost": ["closedlost"],
        "closed_at": "Close Date",
    }
    assert s["email"] == "Email"
    assert {"First Name", "Last Name", "Email", "Phone Number"} <= set(s["drop"])
    assert s["activity"] == {
        "lead_id": "Associated Contact ID",
        "timestamp": "Activity date",
        "type": "Activity type",
    }
    assert set(s["categorical"]) == {
        "Industry",
        "Company size",
        "Original Source",
        "Country/Region",
    }
    assert s["numeric"] == ["Annual Revenue"]
    assert "appointmentscheduled" in text  # the open stage is named in a comment
    # every schema guess carries a comment
    for line in text.splitlines():
        if line.startswith(("  lead_id:", "  created_at:", "    column:", "    - ")):
            assert "#" in line, line


@pytest.mark.parametrize("shape", ["flat", "flat_parquet"])
def test_flat_draft(tmp_path, shape):
    _, text, c = _init(tmp_path, shape)
    s = c["schema"]
    assert s["lead_id"] == "Prospect ID" and s["created_at"] is None
    assert s["outcome"]["column"] == "Converted"
    assert s["outcome"]["won"] == ["1"] and s["outcome"]["lost"] == ["0"]
    assert set(s["flags"]) == {
        "Do Not Email",
        "Do Not Call",
        "A free copy of Mastering The Interview",
    }
    assert {"Lead Number", "Magazine", "Tags", "Lead Quality"} <= set(s["drop"])
    assert "Tags" not in s["categorical"] and "Converted" not in s["numeric"]
    assert {"TotalVisits", "Total Time Spent on Website", "Page Views Per Visit"} == set(
        s["numeric"]
    )
    if shape == "flat":
        assert "Select" in c["data"]["missing_values"]
    assert "leakage suspect" in text and "stratified-random" in text


def test_funnel_draft(tmp_path):
    _, text, c = _init(tmp_path, "funnel")
    s = c["schema"]
    assert s["lead_id"] == "mql_id" and s["created_at"] == "first_contact_date"
    assert s["outcome"]["column"] is None
    assert s["outcome"]["won"] == "present" and s["outcome"]["lost"] == "absent"
    assert s["outcome"]["closed_at"] == "won_date"
    assert set(s["categorical"]) == {"landing_page_id", "origin"}
    assert "business_segment" in text and "never features" in text


@pytest.mark.parametrize("shape", ["crm", "flat", "funnel"])
def test_drafted_config_validates_and_trains(tmp_path, shape):
    path, _, _ = _init(tmp_path, shape)
    cfg = load_config(path)
    leads, events = load_training_data(cfg)
    report = check_training_data(cfg, leads, events)
    assert report.errors == []
    assert report.suspects() == []  # the draft already dropped them
    res = train(cfg, leads, events)
    assert 0.5 < res.metrics["test_roc_auc"] <= 1


def test_init_refuses_to_overwrite_and_reports_missing_file(tmp_path):
    out = tmp_path / "c.yaml"
    out.write_text("keep")
    r = run("init", "--leads", FIX / "flat/Leads.csv", "--out", out)
    assert r.exit_code == 2 and "already exists" in r.stderr and out.read_text() == "keep"
    r = run("init", "--leads", tmp_path / "nope.csv", "--out", tmp_path / "d.yaml")
    assert r.exit_code == 2 and "nope.csv" in r.stderr and not (tmp_path / "d.yaml").exists()


def test_outcome_words_of_common_crms():
    from pipeline.io.draft import outcome_word

    won = [
        "Closed Won",
        "closedwon",
        "Closed - Converted",
        "Converted",
        "1",
        "Yes",
        "TRUE",
        "Customer",
    ]
    lost = [
        "Closed Lost",
        "closedlost",
        "Closed - Not Converted",
        "Disqualified",
        "0",
        "No",
        "false",
    ]
    assert [outcome_word(v) for v in won] == ["won"] * len(won)
    assert [outcome_word(v) for v in lost] == ["lost"] * len(lost)
    still_open = ["Open - Not Contacted", "Working", "appointmentscheduled", "Qualified"]
    assert [outcome_word(v) for v in still_open] == [None] * len(still_open)


def test_pii_and_owner_columns_are_dropped_but_campaign_names_kept(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 300
    pd.DataFrame(
        {
            "Lead ID": [f"00Q{i:05d}" for i in range(n)],
            "Company Name": [f"Company {i}" for i in range(n)],
            "Campaign Name": rng.choice(["Spring webinar", "Trade fair"], n),
            "Lead Owner": rng.choice(["Jane Roe", "John Doe"], n),
            "Mobile": [f"+44 7700 {rng.integers(100000, 999999)}" for _ in range(n)],
            "Lead Status": rng.choice(
                ["Closed - Converted", "Closed - Not Converted", "Working"], n
            ),
        }
    ).to_csv(tmp_path / "sf.csv", index=False)
    r = run("init", "--leads", tmp_path / "sf.csv", "--out", tmp_path / "sf.yaml")
    assert r.exit_code == 0, r.output
    c = yaml.safe_load((tmp_path / "sf.yaml").read_text())
    s = c["schema"]
    assert s["lead_id"] == "Lead ID"
    assert {"Company Name", "Lead Owner", "Mobile"} <= set(s["drop"])
    assert s["categorical"] == ["Campaign Name"]
    assert s["outcome"]["column"] == "Lead Status"
    assert s["outcome"]["won"] == ["Closed - Converted"]
    assert s["outcome"]["lost"] == ["Closed - Not Converted"]

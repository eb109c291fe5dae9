"""`leadscore init` drafts a config for each export shape that validates and trains as drafted."""

from __future__ import annotations

import pytest
import yaml

from pipeline.config import Config, load_config
from pipeline.jobs import load_training_data
from pipeline.onboarding.render import q
from pipeline.training.train import train
from pipeline.validation.checks import check_training_data
from tests.byo_helpers import FIX
from tests.conftest import run

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


@pytest.mark.slow
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
    from pipeline.onboarding.columns import outcome_word

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


# ---- guess_config: the guesses as data, before any YAML ----

FLAT = FIX / "flat/Leads.csv"
CRM = [FIX / "crm/contacts.csv", FIX / "crm/engagements.csv", FIX / "crm/deals.csv"]
FUNNEL_LEADS = FIX / "funnel/olist_marketing_qualified_leads_dataset.csv"
FUNNEL_DEALS = FIX / "funnel/olist_closed_deals_dataset.csv"


def _why(choices, column: str) -> str:
    return next(c.why for c in choices if c.column == column)


def test_guess_config_flat_export():
    from pipeline.onboarding.draft import guess_config

    d = guess_config(FLAT)
    assert (d.lead_id.column, d.lead_id.why) == ("Prospect ID", "unique in all 700 filled rows")
    assert d.created_at is None and not d.dayfirst
    assert (d.outcome.column, d.outcome.won, d.outcome.lost) == ("Converted", ["1"], ["0"])
    assert d.outcome.lead_id is None and d.outcome.closed_at is None
    assert d.data.placeholders == {"Select": 652} and d.data.missing_values == ["", "NA", "Select"]
    suspects = ["Last Activity", "Tags", "Lead Quality", "Last Notable Activity"]
    assert [c.column for c in d.drop] == ["Lead Number", "Magazine", *suspects]
    assert _why(d.drop, "Lead Number").startswith("another id")
    assert d.leakage_suspects == suspects
    assert _why(d.drop, "Tags").startswith("leakage suspect: the name suggests tags set by sales")
    assert "alone it separates won from lost with AUC 1.000" in _why(d.drop, "Tags")
    assert "describes the lead as of the export" in _why(d.drop, "Last Activity")
    features = {c.column for c in [*d.categorical, *d.numeric, *d.flags]}
    assert not features & {*suspects, "Converted", "Prospect ID", "Lead Number"}
    assert [c.column for c in d.engagement] == [
        "TotalVisits",
        "Total Time Spent on Website",
        "Page Views Per Visit",
    ]
    assert [c.column for c in d.flags] == [
        "Do Not Email",
        "Do Not Call",
        "A free copy of Mastering The Interview",
    ]
    assert d.email is None and d.activity is None
    # 56% of the sample's closed leads are won: the SQL target sits halfway to 1
    assert d.sql.precision == 0.78 and abs(d.sql.base_rate - 0.563) < 0.001
    assert d.notes[0].startswith("lead id: Prospect ID; outcome: Converted; 7 categorical")


def test_guess_config_crm_export_drops_pii_with_a_reason():
    from pipeline.onboarding.draft import guess_config

    d = guess_config(*CRM)
    pii = {"First Name", "Last Name", "Email", "Phone Number"}
    assert {c.column for c in d.drop} == pii
    assert all(_why(d.drop, c).startswith("PII:") for c in pii)
    assert _why(d.drop, "Email") == "PII: holds email addresses"
    assert d.email == "Email" and d.dayfirst and d.data.sep == ";"
    assert d.created_at.column == "Create Date"
    o = d.outcome
    assert (o.lead_id, o.column, o.won, o.lost) == (
        "Contact ID",
        "Deal Stage",
        ["closedwon"],
        ["closedlost"],
    )
    assert o.open_values == ["appointmentscheduled"] and o.closed_at == "Close Date"
    assert o.detail == ["Deal ID"]  # outcome detail: never a feature
    a = d.activity
    assert (a.lead_id, a.timestamp, a.type) == (
        "Associated Contact ID",
        "Activity date",
        "Activity type",
    )
    assert "'Email Open'" in a.type_examples


def test_guess_config_outcomes_file_that_lists_won_leads():
    from pipeline.onboarding.draft import guess_config

    d = guess_config(FUNNEL_LEADS, None, FUNNEL_DEALS)
    o = d.outcome
    assert o.column is None and o.won == [] and o.lead_id == "mql_id"
    assert o.closed_at == "won_date" and "business_segment" in o.detail
    assert [c.column for c in d.categorical] == ["landing_page_id", "origin"]
    assert d.notes[0].startswith("lead id: mql_id; outcome: present in olist_closed_deals")


def test_guess_config_without_an_outcome_says_so():
    from pipeline.onboarding.draft import guess_config

    d = guess_config(FUNNEL_LEADS)
    assert d.outcome.column is None and d.outcome.closed_at is None and d.sql is None
    assert d.notes[-1] == "no outcome-like column found: set schema.outcome by hand"
    assert "outcome: NOT FOUND" in d.notes[0]


def test_guess_config_refuses_a_file_without_a_unique_column(tmp_path):
    from pipeline.errors import DataError
    from pipeline.onboarding.draft import guess_config

    (tmp_path / "dup.csv").write_text("a,b\nx,1\nx,1\ny,2\n")
    with pytest.raises(DataError, match="no lead id"):
        guess_config(tmp_path / "dup.csv")


def _block_lines(text: str, key: str) -> list[str]:
    """The item lines of one `schema:` list (`  key:` then its `    - ...` lines)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {key}:"))
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("    - "):
            break
        out.append(line)
    return out


@pytest.mark.parametrize("files", [[FLAT], CRM], ids=["flat", "crm"])
def test_render_yaml_round_trips_every_guess_into_a_valid_config(files):
    """Parsed back, the YAML is a valid Config holding exactly the guessed values, and every
    choice's reason sits as a comment on its own column's line."""
    from pipeline.onboarding.draft import guess_config
    from pipeline.onboarding.render import render_yaml

    d = guess_config(*files)
    text = render_yaml(d)
    cfg = Config.model_validate(yaml.safe_load(text))
    s, o = cfg.schema, d.outcome
    assert (cfg.data.leads, cfg.data.sep, cfg.data.encoding) == (
        str(d.data.leads),
        d.data.sep,
        d.data.encoding,
    )
    assert cfg.data.outcomes == (str(d.data.outcomes) if d.data.outcomes else None)
    assert cfg.data.missing_values == d.data.missing_values
    assert s.lead_id == d.lead_id.column and s.dayfirst == d.dayfirst and s.email == d.email
    assert s.created_at == (d.created_at.column if d.created_at else None)
    assert (s.outcome.column, s.outcome.won, s.outcome.lost) == (o.column, o.won, o.lost)
    assert s.outcome.closed_at == o.closed_at
    if d.data.outcomes:
        assert s.outcome.lead_id == o.lead_id
    lists = {
        "categorical": d.categorical,
        "numeric": d.numeric,
        "flags": d.flags,
        "engagement": d.engagement,
        "drop": d.drop,
    }
    for key, choices in lists.items():
        assert getattr(s, key) == [c.column for c in choices], key
        # the reason of this very choice, on this column's line of this block
        assert _block_lines(text, key) == [f"    - {q(c.column)}  # {c.why}" for c in choices]
    assert f"lead_id: {q(d.lead_id.column)}  # guess: {d.lead_id.why}" in text
    if d.created_at:
        assert f"created_at: {q(d.created_at.column)}  # guess: {d.created_at.why}" in text
    if d.activity:
        a = d.activity
        assert (s.activity.lead_id, s.activity.timestamp, s.activity.type) == (
            a.lead_id,
            a.timestamp,
            a.type,
        )
    assert cfg.targets.sql.precision == (d.sql.precision if d.sql else 0.5)
    assert cfg.scoring.output == d.scores_output


def test_render_yaml_writes_an_edited_guess():
    from pipeline.onboarding.draft import guess_config
    from pipeline.onboarding.guesses import Choice
    from pipeline.onboarding.render import render_yaml

    d = guess_config(FLAT)
    d.categorical = [c for c in d.categorical if c.column != "City"]
    d.drop.append(Choice("City", "reviewer: too sparse"))
    text = render_yaml(d)
    s = yaml.safe_load(text)["schema"]
    assert "City" not in s["categorical"] and s["drop"][-1] == "City"
    assert '    - "City"  # reviewer: too sparse' in text

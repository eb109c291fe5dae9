"""Leakage named before it flatters, and `init` on exports of other shapes.

Each leak of tests/fixtures/trust.py is planted with a known role, so every rule must flag the
column it is meant for, and no rule may flag a genuinely pre-sale column.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.onboarding.draft import draft_config, guess_config
from pipeline.validation.checks import check_training_data
from pipeline.validation.leakage import leakage_suspects, suspect_evidence
from pipeline.validation.probe import single_column_auc
from pipeline.validation.vocabulary import after_fact_role, is_snapshot
from tests.fixtures.trust import ENGAGEMENT, HONEST, LEAKS, education_export, write_bank

CATS = [
    "Lead Origin",
    "Lead Source",
    "Country",
    "What is your current occupation",
    "Specialization",
    "Payment Plan",
    "Lead Quality",
    "Follow-up Call",
    "Last Activity",
]
NUMS = ["TotalVisits", "Total Time Spent on Website", "Page Views Per Visit", "Engagement Index"]


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """The export as `load_leads` hands it to the checks: blanks missing, numbers, flags 1/0."""
    out = pd.DataFrame(index=pd.Index(df["Prospect ID"], name="lead_id"))
    for c in CATS:
        out[c] = df[c].replace("", pd.NA).astype(object).to_numpy()
    for c in NUMS:
        out[c] = df[c].astype(float).to_numpy()
    out["Do Not Email"] = (df["Do Not Email"] == "Yes").astype(float).to_numpy()
    out["_label"] = df["Converted"].astype(float).to_numpy()
    out["_created_at"] = pd.NaT
    out["_closed_at"] = pd.NaT
    out["_email"] = None
    return out


def _cfg(cats=CATS, nums=NUMS, activities=None) -> Config:
    schema = {"categorical": cats, "numeric": nums, "flags": ["Do Not Email"]}
    return Config.model_validate({"data": {"activities": activities}, "schema": schema})


@pytest.fixture(scope="module")
def leads() -> pd.DataFrame:
    return _canonical(education_export())


@pytest.fixture(scope="module")
def found(leads) -> dict[str, str]:
    return suspect_evidence(leakage_suspects(leads, _cfg()))


def test_every_planted_leak_is_flagged_and_no_presale_column(found):
    assert set(found) == set(LEAKS)
    assert not set(found) & set(HONEST)  # source, origin, country, occupation, time on site ...


def test_each_leak_is_flagged_by_its_own_rule(found):
    # a column filled only after the outcome: the fill pattern
    assert "filled for 100% of won and 0% of lost leads" in found["Payment Plan"]
    # a sales rating and a company index: by name and role
    assert found["Lead Quality"].startswith("the name suggests a rating set by sales")
    assert found["Engagement Index"].startswith("the name suggests a score or index computed")
    # a snapshot of the lead as of the export, with the README's reasoning in one line
    assert "describes the lead as of the export" in found["Last Activity"]
    # a column worth more than all the others together: the quick model
    assert "more than all the others together" in found["Follow-up Call"]
    assert "lift +" in found["Follow-up Call"]


def test_the_sales_rating_passes_both_single_column_thresholds(leads, found):
    """The rating is predictive but under AUC 0.9 and the 0.5 fill gap: only its role names it."""
    y = leads["_label"].to_numpy().astype(int)
    s = leads["Lead Quality"]
    filled = s.notna().to_numpy()
    assert 0.7 < single_column_auc(s, y, True) < 0.9
    assert 0.2 < filled[y == 1].mean() - filled[y == 0].mean() < 0.5
    assert "filled for" not in found["Lead Quality"] and "AUC" not in found["Lead Quality"]
    # the call log is also under AUC 0.9 alone: the quick model, not the threshold, finds it
    assert single_column_auc(leads["Follow-up Call"], y, True) < 0.9


def test_validate_reports_each_suspect_with_evidence_and_what_to_do(leads):
    report = check_training_data(_cfg(), leads, pd.DataFrame(columns=["lead_id", "ts", "type"]))
    lines = [f.message for f in report.findings if f.check == "leakage"]
    assert set(report.suspects()) == set(LEAKS)
    assert all(m.startswith("leakage suspect '") and "schema.drop" in m for m in lines)


def test_snapshot_rule_applies_to_flat_exports_only(leads):
    with_log = suspect_evidence(leakage_suspects(leads, _cfg(), flat=False))
    assert "Last Activity" not in with_log  # an event log replays activity as of scoring time
    assert is_snapshot("Last Notable Activity") and is_snapshot("latest_stage")
    assert is_snapshot("Most Recent Visit") and is_snapshot("days_since_last_contact")
    assert not is_snapshot("What is your current occupation") and not is_snapshot("Lead Source")


@pytest.mark.parametrize(
    "name",
    ["Lead Quality", "Tags", "Lead Profile", "lead_status", "DealStage", "Lost Reason",
     "Lead Grade", "sales_rating", "Notes", "Asymmetrique Activity Index",
     "Asymmetrique Profile Score", "duration", "call_duration", "Close Value"],
)  # fmt: skip
def test_after_the_fact_names(name):
    assert after_fact_role(name)


@pytest.mark.parametrize(
    "name",
    ["Lead Source", "Lead Origin", "source_channel", "Country", "What is your current occupation",
     "Total Time Spent on Website", "TotalVisits", "Page Views Per Visit", "cons.price.idx",
     "poutcome", "emp.var.rate", "Specialization", "session_duration", "Do Not Email"],
)  # fmt: skip
def test_presale_names_are_not_after_the_fact(name):
    assert after_fact_role(name) is None


def test_model_rule_leaves_a_strong_honest_column_alone():
    """Time on site is the only signal: strong, but not leak-strong, so no rule flags it."""
    rng = np.random.default_rng(5)
    n = 3000
    t = rng.gamma(2, 300, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.0025 * t)))).astype(float)
    leads = pd.DataFrame(
        {
            "Total Time Spent on Website": t,
            "Lead Source": rng.choice(["Google", "Direct", "Chat"], n).astype(object),
            "TotalVisits": rng.poisson(3, n).astype(float),
            "Do Not Email": rng.choice([0.0, 1.0], n),
            "_label": y,
        },
        index=pd.Index([f"L{i}" for i in range(n)]),
    )
    assert single_column_auc(leads["Total Time Spent on Website"], y.astype(int), False) > 0.7
    cfg = _cfg(["Lead Source"], ["Total Time Spent on Website", "TotalVisits"])
    assert leakage_suspects(leads, cfg) == []


def test_init_drops_every_suspect_with_its_evidence_and_guesses_engagement(tmp_path):
    p = tmp_path / "education-leads.csv"
    education_export().to_csv(p, index=False)
    d = guess_config(p)
    assert set(d.leakage_suspects) == set(LEAKS)
    why = {c.column: c.why for c in d.drop}
    for c in LEAKS:
        assert why[c].startswith("leakage suspect: ") and "move it back" in why[c]
    features = {c.column for c in [*d.categorical, *d.numeric, *d.flags]}
    assert features == set(HONEST)
    assert [c.column for c in d.engagement] == ENGAGEMENT
    text, _ = draft_config(p)
    schema = yaml.safe_load(text)["schema"]
    assert schema["engagement"] == ENGAGEMENT and set(LEAKS) <= set(schema["drop"])
    assert '    - "Payment Plan"  # leakage suspect: filled for 100% of won' in text


def test_init_without_an_id_says_how_to_add_one_and_finds_y(tmp_path):
    p = write_bank(tmp_path)
    with pytest.raises(DataError, match="no lead id") as e:
        guess_config(p)
    msg = str(e.value)
    cmd = msg[msg.index('python -c "') + len('python -c "') : -1]
    subprocess.run([sys.executable, "-c", cmd], check=True, cwd=tmp_path)
    fixed = tmp_path / "bank-full-with-id.csv"
    d = guess_config(fixed)
    assert d.data.sep == ";" and d.lead_id.column == "row_number"
    # the row number increases down any file: it is no evidence that the rows run in time order
    assert not any("increases down the file" in n for n in (d.data.time_order or "").split(";"))
    assert (d.outcome.column, d.outcome.won, d.outcome.lost) == ("y", ["yes"], ["no"])
    assert "y" not in {c.column for c in d.flags}
    assert "duration" in d.leakage_suspects  # the call's own length: known once it is over
    assert "poutcome" in {c.column for c in d.categorical}  # the previous campaign's outcome


@pytest.mark.parametrize(
    ("name", "values", "won", "lost"),
    [
        ("target", ["1", "0"], ["1"], ["0"]),
        ("label", ["won", "lost"], ["won"], ["lost"]),
        ("result", ["Closed Won", "Closed Lost", "Open"], ["Closed Won"], ["Closed Lost"]),
        ("Converted", ["Yes", "No"], ["Yes"], ["No"]),
    ],
)
def test_outcome_found_by_name_and_mapped_by_meaning(tmp_path, name, values, won, lost):
    n = 60
    df = pd.DataFrame(
        {
            "id": range(n),
            "segment": ["a", "b", "c"] * (n // 3),
            "Active": ["Yes", "No"] * (n // 2),  # a yes/no column is not an outcome by values
            name: (values * n)[:n],
        }
    )
    df.to_csv(tmp_path / "x.csv", index=False)
    o = guess_config(tmp_path / "x.csv").outcome
    assert (o.column, o.won, o.lost) == (name, won, lost)

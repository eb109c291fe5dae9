"""The scoring report: stage counts, the best SQLs with their reasons, and drift only from a
sample big enough to judge it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.report.scoring import MIN_DRIFT_LEADS, scoring_report
from pipeline.serving.outputs import ScoreSummary
from tests.report.chromium import network_references

DRIFT = pd.DataFrame(
    {
        "feature": ["lead_age_days", "employees"],
        "psi": [0.38, 0.02],
        "train_missing_share": [0.0, 0.1],
        "score_missing_share": [0.0, 0.12],
        "drifted": [True, False],
    }
)
TOP = pd.DataFrame(
    {
        "lead_id": ["a", "b", "c"],
        "probability": [0.41, 0.72, 0.05],
        "score": [95, 99, 20],
        "stage": ["SQL", "SQL", "lead"],
        "reason_1": ["+ requested a demo 2 days ago", "+ role: Sales VP", "- personal email"],
        "reason_2": ["+ Software industry", None, None],
    }
)


def summary(n: int, drift: pd.DataFrame | None = DRIFT) -> ScoreSummary:
    stages = {"SQL": 2, "MQL": n // 4, "lead": n - 2 - n // 4}
    return ScoreSummary(Path("scores.csv"), None, n, 0, "3", stages, drift)


def test_stages_and_top_sqls_with_reasons():
    html = scoring_report(summary(1000), TOP, "2026-11-01T00:00:00", "models:/x@champion", 1.2)
    assert "<td>748</td>" in html  # the lead stage's count, as people read it
    assert html.index('<td class="text">b</td>') < html.index('<td class="text">a</td>')
    assert "+ requested a demo 2 days ago; + Software industry" in html
    assert '<td class="text">c</td>' not in html  # not an SQL
    assert network_references(html) == []


def test_drift_shown_from_the_minimum_sample():
    html = scoring_report(summary(MIN_DRIFT_LEADS), TOP, "t", "m", 1.0)
    assert "lead age days" in html and "0.38" in html and "⚠ drifted" in html
    assert "Drift was not checked" not in html


def test_drift_not_checked_below_the_minimum_sample():
    html = scoring_report(summary(MIN_DRIFT_LEADS - 1), TOP, "t", "m", 1.0)
    assert f"Drift was not checked: only {MIN_DRIFT_LEADS - 1:,} leads were scored" in html
    assert "0.38" not in html and "lead age days" not in html


def test_output_that_cannot_be_read_back():
    html = scoring_report(summary(MIN_DRIFT_LEADS, None), None, "t", "m", 1.0)
    assert "cannot read back" in html
    assert "no drift reference" in html


def test_small_file_without_drift_table_says_why():
    html = scoring_report(summary(10, None), TOP, "t", "m", 1.0)
    assert "Drift was not checked: only 10 leads were scored" in html


def test_grades_with_leads_share_and_expected_conversion():
    s = summary(1000)
    assert 'id="grades"' not in scoring_report(s, TOP, "2026-11-01", "m", 1.0)  # a model without
    s.grades = {"B": (250, 0.21), "A": (50, 0.52), "D": (700, 0.03)}
    html = scoring_report(s, TOP, "2026-11-01", "m", 1.0)
    part = html[html.index('id="grades"') :]
    assert part.index('<td class="text">A</td>') < part.index('<td class="text">B</td>')
    assert "<td>250</td><td>25%</td><td>21%</td>" in part


def test_an_empty_stage_of_a_scoring_run_says_why_and_the_key():
    from pipeline.modeling.cutoffs import Cutoffs

    cut = Cutoffs(mql=0.2, sql=0.9, sql_rule="precision >= 0.6", mql_rule="recall >= 0.8")
    s = ScoreSummary(Path("scores.csv"), None, 500, 0, "3", {"SQL": 0, "MQL": 0, "lead": 500})
    s.cutoffs = cut
    html = scoring_report(s, TOP.assign(stage="lead"), "2026-11-01", "models:/x@champion", 1.0)
    assert "No lead of this run is an SQL: none reached the SQL cutoff of 90%" in html
    assert "the highest probability in this run is 72%" in html
    assert "targets.sql.precision" in html and "targets.mql.recall" in html
    assert "no lead scored between the MQL cutoff (20%) and the SQL cutoff" in html
    full = scoring_report(summary(1000), TOP, "2026-11-01", "models:/x@champion", 1.0)
    assert "No lead of this run is" not in full

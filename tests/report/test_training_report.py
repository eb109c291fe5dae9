"""The training report as a manager reads it: sections in order, numbers rounded, drivers in
words on the probability scale, caveats on thin slices, the gate and leakage suspects, and
nothing that reaches the network."""

from __future__ import annotations

import copy
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.gate import GateResult
from pipeline.modeling.cutoffs import Cutoffs
from pipeline.report.drivers import calibrate_logodds, probability_drivers
from pipeline.report.training import training_context, training_report
from tests.report.chromium import network_references

SECTIONS = ["summary", "funnel", "cutoffs", "drivers", "trust", "slices", "gate", "glossary"]
FAILED = GateResult(False, ["test ECE 0.0700 above gate.max_ece 0.05"], {}, "1")


@pytest.fixture(scope="module")
def result(trained):
    return trained[0]


@pytest.fixture(scope="module")
def html(sample_config, result) -> str:
    return training_report(sample_config, result, FAILED, "7")


def visible_text(html: str) -> str:
    html = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", html)
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.slow
def test_sections_come_in_the_order_a_manager_reads(html):
    at = [html.index(f'<section id="{s}">') for s in SECTIONS]
    assert at == sorted(at)
    assert "Model version 7" in html


@pytest.mark.slow
def test_numbers_are_rounded_as_people_read_them(html):
    text = visible_text(html)
    assert not re.findall(r"\d\.\d{4,}", text)  # no 0.8848 or 0.24493 anywhere on the page
    assert re.search(r"\d+%", text)


@pytest.mark.slow
def test_no_network_resources(html):
    assert network_references(html) == []
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) >= 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in html and "<script" not in html


@pytest.mark.slow
def test_drivers_are_business_words_on_the_probability_scale(sample_config, result, html):
    ctx = training_context(sample_config, result, None)
    drivers = ctx["drivers"]
    moves = [d["average_move"] for d in drivers]
    assert moves == sorted(moves, reverse=True) and 0 < moves[0] < 1
    section = html[html.index('id="drivers"') : html.index('id="trust"')]
    assert "_" not in visible_text(section)  # no snake_case field names
    assert "pts" in section and "log-odds" not in section


@pytest.mark.slow
def test_calibrated_scale_is_the_scorers_own(result):
    """The drivers' probability map reproduces the scorer's calibrated probabilities."""
    X = result.shap_sample[1]
    contrib, base = result.scorer.contributions(X)
    p = calibrate_logodds(result.scorer.calibrator, contrib.sum(axis=1) + base)
    assert np.allclose(p, result.scorer.conversion_probability(X), atol=1e-9)


@pytest.mark.slow
def test_a_field_without_effect_moves_nothing(result):
    X = result.shap_sample[1].head(200)
    scorer = copy.copy(result.scorer)
    real = scorer.contributions

    def without_first_field(frame):
        c, base = real(frame)
        first = next(iter(scorer.builder.feature_fields.values()))
        cols = [i for i, f in enumerate(scorer.builder.feature_fields.values()) if f == first]
        c = c.copy()
        c[:, cols] = 0.0
        return c, base

    scorer.contributions = without_first_field
    d = probability_drivers(scorer, X, top=100).set_index("field")
    first = next(iter(scorer.builder.feature_fields.values()))
    assert d.loc[first, "average_move"] == 0.0
    assert d["average_move"].max() > 0


@pytest.mark.slow
def test_gate_failure_and_leakage_suspects(sample_config, result, html):
    assert "Not passed" in html and "test ECE 0.070 above gate.max_ece" in html
    assert "None of the columns used as features was flagged" in html
    flagged = copy.copy(result)
    flagged.info = {
        **result.info,
        "leakage_suspects": [{"column": "stage_reached", "message": "m"}],
    }
    page = training_report(sample_config, flagged, GateResult(True, [], {}, None), "8")
    assert "<b>stage_reached</b>" in page and "was flagged by the leakage" not in page
    assert "Passed." in page


@pytest.mark.slow
def test_glossary_defines_the_words_used(html):
    glossary = html[html.index('id="glossary"') :]
    for term in ("MQL", "SQL", "Calibration", "Backtest", "Percentage point"):
        assert f"<dt>{term}" in glossary


# ------------------------------------------- a hand-built result: every number below is set here

# 761 days of leads is 25 months of 30.44 days; 12,000 leads over them is 480 a month. The test
# leads split 10% SQL / 25% MQL / 65% lead, so a month brings 48 SQLs, 120 MQLs and 312 leads.
HAND_FUNNEL = pd.DataFrame(
    [
        ("SQL", 120, 0.10, 0.38, 0.40, 0.45, 120, 0.45),
        ("MQL", 300, 0.25, 0.16, 0.15, 0.35, 420, 0.80),
        ("lead", 780, 0.65, 0.03, 0.025, 0.20, 1200, 1.00),
        ("all", 1200, 1.00, 0.09, 0.09, 1.00, 1200, 1.00),
    ],
    columns=[
        *("stage", "leads", "share", "expected_conversion", "realised_conversion"),
        *("wins_captured", "cum_leads", "cum_wins_captured"),
    ],
)
HAND_SLICES = pd.DataFrame(
    [  # won 29 is under the 30-win line, 30 and 31 are not
        ("source_channel", "Events", 210, 29, 0.138, 0.129, 0.74),
        ("source_channel", "Referral", 305, 30, 0.098, 0.101, 0.77),
        ("country", "Germany", 1_432, 31, 0.022, 0.025, float("nan")),
    ],
    columns=["column", "value", "leads", "won", "observed_rate", "mean_probability", "roc_auc"],
)


@pytest.fixture()
def hand_result() -> SimpleNamespace:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200)
    return SimpleNamespace(
        info={
            "rows_leads": 12_000,
            "rows_test_leads": 1_200,
            "data_start": "2024-01-01T00:00:00",
            "data_end": "2026-01-31T00:00:00",  # 761 days later
            "leads_won": 1_080,
            "leads_lost": 9_900,
            "leads_open": 1_020,
            "n_features": 17,
            "activity_types": ["email_open", "demo_request"],
            "split": "time",
            "test_start": "2025-11-01T00:00:00",
            "calibration": "isotonic",
        },
        metrics={
            "test_lift_at_10": 3.14,
            "test_roc_auc": 0.8123,
            "baseline_points_roc_auc": 0.7049,
            "test_mean_probability": 0.091,
            "test_observed_rate": 0.09,
            "test_ece": 0.012,
        },
        test_predictions=pd.DataFrame(
            {"label": (rng.uniform(0, 1, 200) < p).astype(int), "probability": p}
        ),
        scorer=SimpleNamespace(
            cutoffs=Cutoffs(mql=0.12, sql=0.3, sql_rule="precision >= 0.3", mql_rule="x")
        ),
        shap_sample=None,
        extra_tables={"funnel": HAND_FUNNEL, "slices": HAND_SLICES},
    )


def rows_of(html: str, section: str) -> list[list[str]]:
    """The cells of each table row of a section, as the reader sees them."""
    part = html[html.index(f'<section id="{section}">') :]
    part = part[: part.index("</section>")]
    return [
        [
            re.sub(r"\s+", " ", visible_text(c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", part, re.S)
        if "<td" in r
    ]


def test_summary_of_a_known_result_in_plain_words(sample_config, hand_result):
    ctx = training_context(sample_config, hand_result, GateResult(True, [], {}, None), "3")
    assert ctx["summary"] == [
        "SQLs are 10% of leads; 40% of them became customers (the model promised 38%); they "
        "catch 45% of all wins.",
        "MQLs and SQLs together are 35% of leads and catch 80% of wins.",
        "At the export's lead flow (about 480 new leads a month), expect about 48 SQLs and 120 "
        "MQLs a month.",
        "Calling the top 10% of leads by score finds 3.1× as many customers as calling 10% at "
        "random.",
        "The model puts a future customer above a lead that was lost 81% of the time; the "
        "current points rule does so 70% of the time.",
        "Measured on 1,200 recent leads the model never saw.",
        "This version now serves scores (it passed the promotion gate).",
    ]


def test_funnel_table_of_a_known_result_gives_volumes_a_month(sample_config, hand_result):
    html = training_report(sample_config, hand_result, None, "3")
    assert rows_of(html, "funnel") == [
        ["SQL", "10%", "48", "38%", "40%", "45%"],
        ["MQL", "25%", "120", "16%", "15%", "35%"],
        ["lead", "65%", "312", "3.0%", "2.5%", "20%"],
        ["All leads", "100%", "480", "9.0%", "9.0%", "100%"],
    ]
    text = re.sub(r"\s+", " ", visible_text(html))
    assert "average flow of 480 new leads a month over 25 months" in text
    # every lead read is accounted for: labelled, open, left out (none here)
    assert "12,000 leads read, created 2024-01-01 to 2026-01-31" in text
    assert (
        "12,000 leads: 10,980 labelled (1,080 won, 9,900 lost), 1,020 still open; every "
        "labelled lead was trained on or tested." in text
    )
    assert "The gate was not run." in text


def test_thin_slices_of_a_known_result_carry_a_caveat(sample_config, hand_result):
    html = training_report(sample_config, hand_result, None)
    caveat = "⚠ under 30 wins: indicative only"
    assert rows_of(html, "slices") == [
        ["Source channel", "Events", "210", "29", "14%", "13%", "74%", caveat],
        ["Source channel", "Referral", "305", "30", "9.8%", "10%", "77%", ""],
        ["Country", "Germany", "1,432", "31", "2.2%", "2.5%", "–", ""],
    ]


def test_grades_table_of_a_known_result(sample_config, hand_result):
    """Per grade: the floor, test leads, promised and actual conversion, under the version's
    floors; a version without floors says it grades nothing."""
    assert "This model grades no lead" in training_report(sample_config, hand_result, None)
    hand_result.scorer.meta = {"grades": {"A": 0.4, "B": 0.2, "C": 0.08}}
    p, y = hand_result.test_predictions["probability"], hand_result.test_predictions["label"]
    rows = rows_of(training_report(sample_config, hand_result, None), "grades")
    assert [r[0] for r in rows] == ["A", "B", "C", "D", "All leads"]
    assert [r[1] for r in rows] == ["40%", "20%", "8.0%", "below C", ""]
    a = p >= 0.4
    assert rows[0][2] == str(int(a.sum()))
    assert rows[0][5] == f"{100 * y[a].mean():.0f}%"

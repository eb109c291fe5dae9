"""The training report as a manager reads it: sections in order, numbers rounded, drivers in
words on the probability scale, caveats on thin slices, the gate and leakage suspects, and
nothing that reaches the network."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from pipeline.evaluation.gate import GateResult
from pipeline.report.drivers import calibrate_logodds, probability_drivers
from pipeline.report.fmt import pct
from pipeline.report.training import MIN_SLICE_WINS, training_context, training_report
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


def test_sections_come_in_the_order_a_manager_reads(html):
    at = [html.index(f'<section id="{s}">') for s in SECTIONS]
    assert at == sorted(at)
    assert "Model version 7" in html


def test_summary_first_in_plain_words(sample_config, result):
    ctx = training_context(sample_config, result, FAILED, "7")
    sql = next(r for r in ctx["funnel"] if r["stage"] == "SQL")
    first = ctx["summary"][0]
    assert first.startswith(f"SQLs are {pct(sql['share'])} of leads")
    assert f"they catch {pct(sql['wins_captured'])} of all wins" in first
    assert any("does not serve scores" in s for s in ctx["summary"])  # the gate failed


def test_funnel_gives_expected_volumes_a_month(sample_config, result):
    ctx = training_context(sample_config, result, None)
    flow = ctx["flow"]
    by = {r["stage"]: r for r in ctx["funnel"]}
    assert flow["leads"] == pytest.approx(result.info["rows_leads"] / flow["months"])
    for stage in ("SQL", "MQL", "lead"):
        assert by[stage]["per_month"] == pytest.approx(flow["leads"] * by[stage]["share"])
    assert sum(by[s]["per_month"] for s in ("SQL", "MQL", "lead")) == pytest.approx(flow["leads"])


def test_numbers_are_rounded_as_people_read_them(html):
    text = visible_text(html)
    assert not re.findall(r"\d\.\d{4,}", text)  # no 0.8848 or 0.24493 anywhere on the page
    assert re.search(r"\d+%", text)


def test_no_network_resources(html):
    assert network_references(html) == []
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) >= 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in html and "<script" not in html


def test_drivers_are_business_words_on_the_probability_scale(sample_config, result, html):
    ctx = training_context(sample_config, result, None)
    drivers = ctx["drivers"]
    moves = [d["average_move"] for d in drivers]
    assert moves == sorted(moves, reverse=True) and 0 < moves[0] < 1
    section = html[html.index('id="drivers"') : html.index('id="trust"')]
    assert "_" not in visible_text(section)  # no snake_case field names
    assert "pts" in section and "log-odds" not in section


def test_calibrated_scale_is_the_scorers_own(result):
    """The drivers' probability map reproduces the scorer's calibrated probabilities."""
    X = result.shap_sample[1]
    contrib, base = result.scorer.contributions(X)
    p = calibrate_logodds(result.scorer.calibrator, contrib.sum(axis=1) + base)
    assert np.allclose(p, result.scorer.conversion_probability(X), atol=1e-9)


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


def test_thin_slices_carry_a_caveat(result, html):
    slices = result.extra_tables["slices"]
    thin = int((slices["won"] < MIN_SLICE_WINS).sum())
    assert thin > 0  # the small sample has slices under 30 wins
    assert html.count("indicative only") == thin
    for r in slices.itertuples():
        assert f"<td>{r.leads:,}</td><td>{r.won:,}</td>" in html  # sample size shown


def test_gate_failure_and_leakage_suspects(sample_config, result, html):
    assert "Not passed" in html and "test ECE 0.070 above gate.max_ece" in html
    assert "None were flagged." in html
    flagged = copy.copy(result)
    flagged.info = {
        **result.info,
        "leakage_suspects": [{"column": "stage_reached", "message": "m"}],
    }
    page = training_report(sample_config, flagged, GateResult(True, [], {}, None), "8")
    assert "<b>stage_reached</b>" in page and "None were flagged." not in page
    assert "Passed." in page


def test_glossary_defines_the_words_used(html):
    glossary = html[html.index('id="glossary"') :]
    for term in ("MQL", "SQL", "Calibration", "Backtest", "Percentage point"):
        assert f"<dt>{term}" in glossary

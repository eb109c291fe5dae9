"""The training report claims only what the run did: one test per kind of sentence, each on a
hand-built result where the claim is false, so a page that says it anyway fails."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config, LeakageConfig, TargetsConfig
from pipeline.evaluation.gate import GateResult
from pipeline.modeling.cutoffs import Cutoffs
from pipeline.report.training import training_context, training_report
from pipeline.report.truth import best_reachable_precision
from tests.report.test_training_report import visible_text

FAILED_NO_CHAMPION = GateResult(False, ["test ECE 0.0700 above gate.max_ece 0.05"], {}, None)
FAILED_WITH_CHAMPION = GateResult(False, ["test ECE 0.0700 above gate.max_ece 0.05"], {}, "3")


def _result(split: str = "time", mql: float = 0.12, sql: float = 0.3, **info) -> SimpleNamespace:
    """A small result: 400 test leads whose probabilities rank them well, with a points column
    and a points metric (present in the frame whether or not the config has points rules)."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 0.4, 400)
    y = (rng.uniform(0, 1, 400) < p).astype(int)
    bt = pd.DataFrame(
        {
            "period": ["fold 1", "fold 2"] if split != "time" else ["2025-10", "2025-11"],
            "test_leads": [200, 200],
            "won": [20, 22],
            "roc_auc": [0.8, 0.78],
            "points_roc_auc": [0.5, 0.5],
            "mean_probability": [0.1, 0.11],
            "observed_rate": [0.1, 0.11],
        }
    )
    bt.attrs["mode"] = "monthly" if split == "time" else "stratified_folds"
    return SimpleNamespace(
        info={
            "rows_leads": 4_000,
            "rows_test_leads": 400,
            "data_start": "2024-01-01T00:00:00" if split == "time" else None,
            "data_end": "2025-12-31T00:00:00" if split == "time" else None,
            "leads_won": 400,
            "leads_lost": 3_600,
            "leads_open": 0,
            "n_features": 5,
            "activity_types": [],
            "split": split,
            "test_start": "2025-10-01T00:00:00" if split == "time" else None,
            "calibration": "isotonic",
            **info,
        },
        metrics={
            "test_roc_auc": 0.8,
            "baseline_points_roc_auc": 0.5,
            "test_lift_at_10": 2.0,
            "test_mean_probability": 0.2,
            "test_observed_rate": 0.2,
            "test_ece": 0.01,
        },
        test_predictions=pd.DataFrame({"label": y, "probability": p, "points": np.arange(400.0)}),
        scorer=SimpleNamespace(
            cutoffs=Cutoffs(mql=mql, sql=sql, sql_rule="precision >= 0.3", mql_rule="recall >= 0.8")
        ),
        shap_sample=None,
        extra_tables={"backtest": bt},
    )


def _cfg(sample_config: Config, **update) -> Config:
    return sample_config.model_copy(update=update)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", visible_text(html)).replace(" :", ":")


def test_no_points_rule_anywhere_without_points_rules(sample_config, monkeypatch):
    from pipeline.report import charts

    drawn = []
    real = charts.gain_with_cutoffs
    monkeypatch.setattr(
        charts, "gain_with_cutoffs", lambda *a: drawn.append(a[4] is not None) or real(*a)
    )
    without = _text(training_report(_cfg(sample_config, baseline_points={}), _result(), None))
    assert re.findall(r"points rule(?!s configured)", without.lower()) == []
    assert "no points rules configured" in without
    assert drawn == [False]  # no points-rule curve on the gain chart
    ctx = training_context(_cfg(sample_config, baseline_points={}), _result(), None)
    assert ctx["points_rule"] is False
    # with points rules the same result does show them: the test can tell the two apart
    assert "points rule does so" in _text(training_report(sample_config, _result(), None))
    assert drawn == [False, False, True]  # (the context is built once more above)


def test_test_leads_named_by_split_kind(sample_config):
    timed = _text(training_report(sample_config, _result("time"), None))
    assert "400 recent leads it never saw" in timed and "held out at random" not in timed
    assert "Month" in timed and "fold 1" not in timed
    folds = _text(training_report(sample_config, _result("stratified_random"), None))
    assert "recent leads" not in folds and "400 leads held out at random" in folds
    assert "Month" not in folds and "Fold" in folds and "fold 1" in folds
    assert "as if it were each earlier month" not in folds


def test_no_champion_means_nothing_serves(sample_config):
    none = _text(training_report(sample_config, _result(), FAILED_NO_CHAMPION, "1"))
    assert "keeps serving" not in none and "champion keeps" not in none
    assert "No version serves scores" in none and "leadscore promote 1" in none
    one = _text(training_report(sample_config, _result(), FAILED_WITH_CHAMPION, "4"))
    assert "the champion (version 3) keeps serving scores" in one
    assert "No version serves scores" not in one


def test_leakage_section_lists_what_was_dropped_and_what_was_kept(sample_config):
    notes = {  # schema.drop_reasons, as init writes it
        "Tags": "leakage suspect: alone AUC 0.99",
        "Lead Quality": "a rating set by sales",
    }
    sc = sample_config.schema.model_copy(update={"drop": ["Tags", "Lead Quality", "email"]})
    cfg = _cfg(sample_config, schema_=sc)
    page = _text(training_report(cfg, _result(), None, None, notes))
    gate_part = page[page.index("Is this version serving") :]
    assert "Tags: leakage suspect: alone AUC 0.99" in gate_part
    assert "Lead Quality: a rating set by sales" in gate_part
    assert "email: personal data" in gate_part  # no comment: what the name says
    assert "None were flagged" not in page
    kept = _result(leakage_suspects=[{"column": "stage_reached", "evidence": "alone AUC 0.97"}])
    page = _text(training_report(cfg, kept, None))
    assert "stage_reached: alone AUC 0.97" in page
    assert "registered but not promoted" in page[: page.index("In short")]


def test_accepted_leakage_is_still_said_at_the_top(sample_config):
    kept = _result(leakage_suspects=[{"column": "stage_reached", "evidence": "alone AUC 0.97"}])
    cfg = _cfg(sample_config, leakage=LeakageConfig(accept=["stage_reached"]))
    top = _text(training_report(cfg, kept, None)).split("In short")[0]
    assert "kept on purpose" in top and "stage_reached" in top
    assert "not promoted" not in top
    clean = _text(training_report(cfg, _result(), None)).split("In short")[0]
    assert "Leakage" not in clean


def test_collapsed_mql_stage_is_explained(sample_config):
    page = _text(training_report(sample_config, _result(mql=0.3, sql=0.3), None))
    assert "The MQL stage is empty (0% of leads): its cutoff equals the SQL cutoff" in page
    assert "raise targets.mql.recall above" in page
    normal = _text(training_report(sample_config, _result(mql=0.12, sql=0.3), None))
    assert "MQL stage is empty" not in normal


def test_unreachable_sql_target_names_the_nearest_reachable_one(sample_config):
    r = _result()
    y, p = r.test_predictions["label"].to_numpy(), r.test_predictions["probability"].to_numpy()
    best, n = best_reachable_precision(y, p)
    assert 0.3 < best < 0.9 and n >= 20
    near = np.floor(best * 20) / 20
    high = _cfg(sample_config, targets=TargetsConfig(sql={"precision": 0.95}))
    page = _text(training_report(high, r, None))
    assert "is above what this model reaches" in page
    assert f"set targets.sql.precision to {near:.2f} or lower" in page
    low = _cfg(sample_config, targets=TargetsConfig(sql={"precision": 0.1}))
    assert "above what this model reaches" not in _text(training_report(low, r, None))


@pytest.mark.parametrize("n", [5, 19])
def test_a_handful_of_leads_is_no_reachable_precision(n):
    """Fewer than 20 leads: the best precision is taken over all of them, not a lucky top 1."""
    y = np.r_[1, np.zeros(n - 1, int)]
    best, k = best_reachable_precision(y, np.linspace(1, 0, n))
    assert k == n and best == pytest.approx(1 / n)


def test_card_and_cli_say_leakage_at_the_top(sample_config):
    from pipeline.console import train_lines
    from pipeline.report.card import model_card

    kept = _result(leakage_suspects=[{"column": "stage_reached", "evidence": "alone AUC 0.97"}])
    kept.scorer.builder = SimpleNamespace(feature_fields={"x": "x"})
    kept.info |= {"rows_events": 0, "snapshots": 1, "rows_fit": 1, "rows_val": 1}
    kept.info |= {"calibration_heldout_log_loss": {}}
    card = model_card(sample_config, kept).splitlines()
    assert card[2].startswith("**WARNING leakage") and "not promoted" in card[2]
    done = SimpleNamespace(
        version="5", aliases=["challenger"], result=kept, gate=FAILED_NO_CHAMPION, report=None
    )
    lines = train_lines(done, sample_config, 1.0)
    assert lines[1].startswith("WARNING leakage") and "stage_reached" in lines[1]
    accepted = _cfg(sample_config, leakage=LeakageConfig(accept=["stage_reached"]))
    assert "kept on purpose" in train_lines(done, accepted, 1.0)[1]


def _empty_sql(sample_config: Config, precision: float) -> str:
    """The page of a run whose SQL cutoff is above every test lead's probability."""
    from pipeline.evaluation.funnel import funnel_table

    r = _result(mql=0.12, sql=0.95)
    y, p = r.test_predictions["label"].to_numpy(), r.test_predictions["probability"].to_numpy()
    r.extra_tables["funnel"] = funnel_table(y, p, r.scorer.cutoffs)
    cfg = _cfg(sample_config, targets=TargetsConfig(sql={"precision": precision}))
    return _text(training_report(cfg, r, None))


@pytest.mark.parametrize("precision", [0.3, 0.95])
def test_an_empty_sql_stage_says_why_the_nearest_target_and_the_key(sample_config, precision):
    """Reachable on test or not, an empty SQL stage is explained in the summary and beside the
    cutoffs, with the nearest target the model reaches and the key; never '– of them'."""
    page = _empty_sql(sample_config, precision)
    summary = page.split("In short", 1)[1].split("The funnel", 1)[0]
    assert "The SQL stage is empty (0% of the test leads)" in summary
    assert re.search(r"set targets\.sql\.precision to 0\.\d\d or lower", summary)
    assert page.count("The SQL stage is empty") >= 2  # the summary and the cutoffs section
    assert "– of them" not in page and "(the model promised –)" not in page
    if precision == 0.3:  # reachable on test: the cutoff is too strict, not the target
        assert "is above the probability of every test lead" in summary
    else:
        assert "is above what this model reaches" in summary


AT_EXPORT_SAID = (
    "outcomes as known at the export, as the test split (every labelled lead created before the "
    "month, including outcomes a team learnt only later), because with outcomes as known at the "
    "time only 0 of the 6 months asked for (training.backtest_months) could be tested: 10 of the "
    "11 months checked had too few wins and losses known before they began to fit on"
)
KNOWN_THEN_SAID = "outcomes as known at the time (only outcomes known before the month began)"


def test_backtests_say_which_outcomes_they_fit_on_and_why(sample_config):
    """The report, the card, the printout and the glossary name the rule the run used, with why
    `auto` chose it; under outcomes as known at the export none of them says the months trained
    on "what was known then"."""
    from pipeline.console import backtest_line
    from pipeline.report.card import backtest_lines

    for outcomes, said in (("at_export", AT_EXPORT_SAID), ("as_known_then", KNOWN_THEN_SAID)):
        info = {"backtest_mode": "monthly", "backtest_outcomes": outcomes}
        r = _result(**info, backtest_outcomes_said=said)
        r.metrics["backtest_periods"] = 2.0
        page = _text(training_report(sample_config, r, None))
        card = "\n".join(backtest_lines(r))
        printed = "\n".join(backtest_line(r))
        assert f"Each month fit on {said}." in page
        assert f"Each period fit on {said}." in card
        assert f"backtests fit on {said}" in printed, printed
        known_then = "train on what was known then"
        assert (known_then in page) == (outcomes == "as_known_then")
        assert "whose outcome was known before it began" not in card


def test_no_backtest_gives_the_rule_it_was_skipped_under(sample_config):
    from pipeline.console import backtest_line
    from pipeline.report.card import backtest_lines

    reason = f"every period checked was skipped (11) under {KNOWN_THEN_SAID}"
    skipped = pd.DataFrame(
        [
            {
                "period": "2018-04",
                "reason": "too few outcomes known before it began to train on",
                "test_leads": 761,
                "train_won": 1,
                "train_lost": 629,
                "outcomes": "as_known_then",
            }
        ]
    )
    r = _result(backtest_mode="monthly", backtest_none_reason=reason)
    r.extra_tables = {"backtest_skipped": skipped}
    page = _text(training_report(sample_config, r, None))
    assert f"No backtests in this run: {reason}." in page
    assert f"No backtests in this run: {reason}." in "\n".join(backtest_lines(r))
    printed = "\n".join(backtest_line(r))
    assert printed.startswith(f"  backtests: none ({reason}); skipped: 2018-04: too few"), printed

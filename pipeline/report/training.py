"""The training report: one self-contained HTML page a marketing manager can read.

Built from the run's `TrainResult` and the gate decision, in the order a reader asks: what does it
mean for me (summary), how many MQLs and SQLs a month, where the cutoffs fall, what drives a
score, can I trust the numbers (calibration, backtests, slices), is it serving (gate), what words
mean (glossary). Pure: it returns the HTML; `pipeline.tracking` logs it and `pipeline.jobs`
writes it to `reports/`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.modeling.grades import grade_table
from pipeline.report import charts, truth
from pipeline.report.candidates import (
    SEGMENT_NOTE,
    candidate_sentence,
    context_sentence,
    horizon_sentence,
    segment_rows,
)
from pipeline.report.card import has_points_rules, leads_accounted
from pipeline.report.drivers import DEFINITION, probability_drivers
from pipeline.report.fmt import pct, times
from pipeline.report.render import render
from pipeline.words import column_label, value_labels

MIN_SLICE_WINS = 30  # below this many won test leads a slice's numbers are indicative only
DAYS_PER_MONTH = 30.44


def training_report(
    cfg: Config,
    result: Any,
    gate: Any | None,
    version: str | None = None,
    drop_notes: dict[str, str] | None = None,
) -> str:
    """The whole page as HTML (no network resources: inline CSS, images as data URIs).
    `drop_notes`: init's comment on each `schema.drop` entry (`truth.drop_comments`)."""
    return render("training.html.j2", **training_context(cfg, result, gate, version, drop_notes))


def training_context(
    cfg: Config,
    result: Any,
    gate: Any | None,
    version: str | None = None,
    drop_notes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, already chosen and computed (the template only formats).
    Nothing is claimed that the run did not do: no points rule without points rules, no "recent"
    leads without an out-of-time split, no serving champion when there is none."""
    info, m = result.info, result.metrics
    preds = result.test_predictions
    cut = result.scorer.cutoffs
    funnel = funnel_rows(result.extra_tables.get("funnel"), monthly_flow(info))
    y, p = preds["label"].to_numpy(int), preds["probability"].to_numpy(float)
    points_rule = has_points_rules(cfg)
    pts = preds["points"].to_numpy(float) if "points" in preds and points_rule else None
    bt = result.extra_tables.get("backtest")
    notes = truth.cutoff_notes(cfg, result)  # the summary says the first when SQL is empty
    said = {"points_rule": points_rule, "version": version, "stage_notes": notes}
    ctx = {
        "version": version,
        "info": info,
        "metrics": m,
        "cutoffs": cut,
        "flow": monthly_flow(info),
        "funnel": funnel,
        "grades": grade_rows(result.scorer, y, p),
        "summary": summary_sentences(info, m, funnel, gate, monthly_flow(info), **said),
        "points_rule": points_rule,
        "held_out": truth.held_out_words(info),
        "time_split": truth.is_time_split(info),
        "period_header": truth.period_header(bt),
        "cutoff_notes": notes,
        "no_champion": truth.no_champion_words(version),
        "gain_chart": charts.data_uri(charts.gain_with_cutoffs(y, p, cut.sql, cut.mql, pts)),
        "calibration_chart": charts.data_uri(charts.calibration_chart(y, p)),
        "drivers": driver_rows(result),
        "drivers_definition": DEFINITION,
        "backtests": backtest_rows(result.extra_tables.get("backtest")),
        "backtests_skipped": backtest_rows(result.extra_tables.get("backtest_skipped")),
        "leads_accounted": leads_accounted(info) if "leads_won" in info else "",
        "backtest_chart": None,
        "slices": slice_rows(result.extra_tables.get("slices")),
        "insights": insight_rows(cfg, result.extra_tables.get("insights")),
        "min_slice_wins": MIN_SLICE_WINS,
        "segments": segment_rows(result.extra_tables.get("segments")),
        "segment_note": SEGMENT_NOTE,
        "gate": gate,
        "leakage": truth.leakage_sections(cfg, info, drop_notes or {}),
        "glossary": truth.glossary_for(info, bt),
        **table_words(cfg),
    }
    if bt is not None and len(bt):
        ctx["backtest_chart"] = charts.data_uri(charts.backtest_months(bt, points_rule))
    return ctx


def table_words(cfg: Config) -> dict[str, Any]:
    """What the tables name fields and values with: `schema.labels`, the `schema.context` columns
    (one driver, the market conditions) and the segment column (its values' words)."""
    sc = cfg.schema
    return {"labels": sc.labels, "context": sc.context, "segment_column": cfg.segments.column or ""}


def monthly_flow(info: dict) -> dict[str, float] | None:
    """New leads a month over the export's dates (None without creation dates)."""
    if not info.get("data_start") or not info.get("data_end"):
        return None
    days = (pd.Timestamp(info["data_end"]) - pd.Timestamp(info["data_start"])).days
    months = max(days / DAYS_PER_MONTH, 1.0)
    return {"months": months, "leads": info["rows_leads"] / months}


def funnel_rows(t: pd.DataFrame | None, flow: dict | None) -> list[dict]:
    """One row per stage with its share, promised and realised conversion, share of wins and the
    expected number a month (monthly lead flow x the stage's share of test leads)."""
    if t is None:
        return []
    rows = []
    for r in t.to_dict("records"):
        per_month = flow["leads"] * r["share"] if flow else float("nan")
        rows.append({**r, "per_month": per_month})
    return rows


def summary_sentences(
    info: dict,
    m: dict,
    funnel: list[dict],
    gate: Any | None,
    flow: dict | None,
    *,
    points_rule: bool = True,
    version: str | None = None,
    stage_notes: list[str] | None = None,
) -> list[str]:
    """The plain-language summary: the few sentences a manager reads before anything else. An
    empty SQL stage is said with its note (why, the nearest reachable target, the key), never as
    "SQLs are 0% of leads; – of them became customers"."""
    by = {r["stage"]: r for r in funnel}
    out = []
    if "SQL" in by and by["SQL"]["leads"] == 0:
        out.append(stage_notes[0] if stage_notes else "The SQL stage is empty on the test leads.")
    elif "SQL" in by:
        s = by["SQL"]
        out.append(
            f"SQLs are {pct(s['share'])} of leads; {pct(s['realised_conversion'])} of them "
            f"became customers (the model promised {pct(s['expected_conversion'])}); they catch "
            f"{pct(s['wins_captured'])} of all wins."
        )
    if "MQL" in by:
        out.append(
            f"MQLs and SQLs together are {pct(by['MQL']['cum_leads'] / max(by['all']['leads'], 1))}"
            f" of leads and catch {pct(by['MQL']['cum_wins_captured'])} of wins."
        )
    if flow and "SQL" in by:
        out.append(
            f"At the export's lead flow (about {flow['leads']:,.0f} new leads a month), expect "
            f"about {by['SQL']['per_month']:,.0f} SQLs and {by['MQL']['per_month']:,.0f} MQLs "
            "a month."
        )
    if "test_lift_at_10" in m:
        out.append(
            f"Calling the top 10% of leads by score finds {times(m['test_lift_at_10'])} as many "
            "customers as calling 10% at random."
        )
    if "baseline_points_roc_auc" in m and points_rule:
        out.append(
            f"The model puts a future customer above a lead that was lost "
            f"{pct(m['test_roc_auc'])} of the time; the current points rule does so "
            f"{pct(m['baseline_points_roc_auc'])} of the time."
        )
    elif "test_roc_auc" in m:
        out.append(
            f"The model puts a future customer above a lead that was lost "
            f"{pct(m['test_roc_auc'])} of the time (no points rules configured to compare with)."
        )
    out.append(f"Measured on {truth.held_out_words(info).replace(' it ', ' the model ')}.")
    said = [candidate_sentence(info, m), context_sentence(info, m), horizon_sentence(info)]
    out += [c for c in said if c]
    said = truth.gate_sentence(gate, version)
    return out + ([said] if said else [])


def driver_rows(result: Any) -> list[dict]:
    if result.shap_sample is None:
        return []
    return probability_drivers(result.scorer, result.shap_sample[1]).to_dict("records")


def backtest_rows(bt: pd.DataFrame | None) -> list[dict]:
    return [] if bt is None or not len(bt) else bt.to_dict("records")


def slice_rows(t: pd.DataFrame | None) -> list[dict]:
    """Slices with their sample size; `thin` marks fewer than MIN_SLICE_WINS won leads."""
    if t is None or not len(t):
        return []
    rows = t.to_dict("records")
    for r in rows:
        r["thin"] = int(r["won"]) < MIN_SLICE_WINS
        r["roc_auc"] = None if r["roc_auc"] is None or np.isnan(r["roc_auc"]) else r["roc_auc"]
    return rows


def grade_rows(scorer: Any, y: np.ndarray, p: np.ndarray) -> list[dict]:
    """Leads, promised and actual conversion per grade on the test leads, under the floors the
    version grades with (none: no rows)."""
    floors = (getattr(scorer, "meta", None) or {}).get("grades")
    return grade_table(y, p, floors).to_dict("records")


MAX_INSIGHTS = 15  # values shown in "What converts"; evaluation/insights.csv holds them all


def insight_rows(cfg: Config, t: pd.DataFrame | None) -> list[dict]:
    """The values whose 95% interval excludes their column's overall conversion, in words:
    "role: Director: 24% convert, 2.0x the column's 12% (95% interval 19%-30%)"."""
    from pipeline.evaluation.insights import notable

    if t is None or not len(t):
        return []
    labels = cfg.schema.labels
    rows = []
    for r in notable(t).head(MAX_INSIGHTS).to_dict("records"):
        named = value_labels(labels, r["column"]).get(str(r["value"]), str(r["value"]))
        rows.append(
            {
                **r,
                "label": f"{column_label(labels, r['column'])}: {named}",
                "words": f"{pct(r['conversion'])} convert, {times(r['lift'])} the column's "
                f"{pct(r['overall_conversion'])} (95% interval {pct(r['ci_low'])} to "
                f"{pct(r['ci_high'])})",
            }
        )
    return rows

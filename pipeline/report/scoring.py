"""The scoring report: one self-contained HTML page per scoring run.

What a revenue team checks after a run: how many leads landed in each stage, which SQLs to call
first and why, and whether today's leads still look like the training leads (drift). Drift is
judged only from MIN_DRIFT_LEADS scored leads up: on a handful of leads PSI is noise, so below that
the page says drift was not checked instead of showing numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.evaluation.funnel import STAGES
from pipeline.monitoring.drift import MIN_ROWS, lead_features, market_conditions, with_roles
from pipeline.report.fmt import pct, rule_words
from pipeline.report.glossary import GLOSSARY
from pipeline.report.render import render
from pipeline.words import readable_name

MIN_DRIFT_LEADS = MIN_ROWS  # one minimum sample for the drift warnings and this page
PSI_MODERATE, PSI_DRIFTED = 0.1, 0.2
TOP_SQLS = 25
GLOSSARY_TERMS = ("Probability", "Score", "SQL", "MQL", "Drift", "Percentage point")


def scoring_report(
    summary: Any, top: pd.DataFrame | None, as_of: str, model_uri: str, seconds: float
) -> str:
    """The page as HTML. `top` holds the best-scored leads of the run (lead_id, probability,
    score, stage, reason_*), or None when the output cannot be read back (a database)."""
    return render("scoring.html.j2", **scoring_context(summary, top, as_of, model_uri, seconds))


def scoring_context(
    summary: Any, top: pd.DataFrame | None, as_of: str, model_uri: str, seconds: float
) -> dict[str, Any]:
    n = max(summary.n_scored, 1)
    stages = [
        {"stage": s, "leads": summary.stages.get(s, 0), "share": summary.stages.get(s, 0) / n}
        for s in STAGES
    ]
    grades = [
        {"grade": g, "leads": k, "share": k / n, "expected": p}
        for g, (k, p) in sorted((getattr(summary, "grades", None) or {}).items())
    ]
    drift_checked = summary.drift is not None and summary.n_scored >= MIN_DRIFT_LEADS
    return {
        "s": summary,
        "as_of": as_of,
        "model_uri": model_uri,
        "seconds": seconds,
        "stages": stages,
        "grades": grades,
        "top": top_rows(top),
        "top_available": top is not None,
        "drift": drift_rows(summary.drift) if drift_checked else [],
        "drift_checked": drift_checked,
        "drift_note": drift_note(summary.drift) if drift_checked else "",
        "drift_reason": drift_reason(summary),
        "min_drift_leads": MIN_DRIFT_LEADS,
        "glossary": [g for g in GLOSSARY if g[0].startswith(GLOSSARY_TERMS)],
        "stage_notes": stage_notes(summary, top),
    }


def stage_notes(summary: Any, top: pd.DataFrame | None) -> list[str]:
    """Why a stage of this run holds no lead: the cutoff it takes, the rule training chose it by,
    the run's highest probability, and the key to change (then train again)."""
    cut = getattr(summary, "cutoffs", None)
    if cut is None or summary.n_scored == 0:
        return []
    high = ""
    if top is not None and len(top) and "probability" in top:
        high = f"; the highest probability in this run is {pct(float(top['probability'].max()))}"
    out = []
    if not summary.stages.get("SQL", 0):
        out.append(
            f"No lead of this run is an SQL: none reached the SQL cutoff of {pct(cut.sql)} "
            f"({rule_words(cut.sql_rule)}){high}. The training report names the nearest target "
            "this model reaches; set targets.sql.precision to it (or use "
            "targets.sql.capacity_per_month) and train again."
        )
    if not summary.stages.get("MQL", 0):
        why = (
            "the MQL cutoff equals the SQL cutoff, so every marketing-qualified lead is an SQL"
            if cut.mql >= cut.sql
            else f"no lead scored between the MQL cutoff ({pct(cut.mql)}) and the SQL cutoff"
        )
        out.append(
            f"No lead of this run is an MQL: {why} ({rule_words(cut.mql_rule)}). For a wider MQL "
            "stage raise targets.mql.recall and train again."
        )
    return out


def top_rows(top: pd.DataFrame | None) -> list[dict]:
    """The best SQLs first, each with its reasons in a list."""
    if top is None or not len(top):
        return []
    sql = top[top["stage"] == "SQL"].sort_values("probability", ascending=False).head(TOP_SQLS)
    reasons = [c for c in sql.columns if c.startswith("reason_")]
    return [
        {
            "lead_id": r["lead_id"],
            "probability": r["probability"],
            "score": r["score"],
            "reasons": [str(r[c]) for c in reasons if pd.notna(r[c]) and str(r[c])],
        }
        for r in sql.to_dict("records")
    ]


def drift_rows(drift: pd.DataFrame) -> list[dict]:
    """The inputs the model reads, worst first, with the market conditions (`schema.context`)
    as one row named as the drivers name them, by their worst column: the warnings' rule
    (`monitoring.drift`). An input the model does not read moves no score and has no row."""
    rows = [
        {**r, "label": readable_name(str(r["feature"]))} for r in _records(lead_features(drift))
    ]
    market = market_conditions(drift)
    if market is not None and market.used:
        t = with_roles(drift)
        ctx = t[t["market_condition"] & t["used"]].sort_values("psi", ascending=False)
        names = ", ".join(ctx["words"].astype(str))
        worst = _records(ctx.head(1))[0]
        rows.append({**worst, "label": f"Market conditions at the time ({names})"})
    rows.sort(key=lambda r: -float(r["psi"]))
    for r in rows:
        psi = float(r["psi"])
        r["verdict"] = (
            "drifted" if psi > PSI_DRIFTED else "moderate" if psi > PSI_MODERATE else "stable"
        )
    return rows


def _records(t: pd.DataFrame) -> list[dict]:
    return t.to_dict("records")


def drift_note(drift: pd.DataFrame | None) -> str:
    """One sentence when the market conditions moved but the model does not read them (left out
    by `training.context`): they are not a drift of this model's inputs. Empty otherwise."""
    market = None if drift is None else market_conditions(drift)
    if market is None or market.used or not market.moved:
        return ""
    return (
        f"Market conditions moved since training ({', '.join(market.moved)}, PSI "
        f"{market.psi:.2f}); this model does not use them, so they move no score."
    )


def drift_reason(summary: Any) -> str:
    """Why drift is not shown, in one sentence (empty when it is). The sample size comes first:
    a scorer that skips drift on a small file leaves no table either."""
    if summary.n_scored < MIN_DRIFT_LEADS:
        return (
            f"only {summary.n_scored:,} leads were scored; drift needs at least "
            f"{MIN_DRIFT_LEADS:,} to mean something"
        )
    if summary.drift is None:
        return "this engine or model carries no drift reference"
    return ""

"""The model card of a training run, and logging of the quality report to MLflow.

A reviewer (or a sales lead) should be able to read one page and know what the model learned from,
how good it is against the rules it replaces, where it is weaker, what the cutoffs do to the funnel
and what it cannot be trusted for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.explain.fields import with_context
from pipeline.report.candidates import (
    candidate_sentence,
    context_sentence,
    horizon_sentence,
    segment_lines,
)
from pipeline.report.fmt import field_label, value_label
from pipeline.report.truth import leakage_banner, sql_note

METRIC_ROWS = [
    ("test_roc_auc", "ROC AUC (model)"),
    ("oracle_roc_auc", "ROC AUC (oracle: true probabilities, sample data only)"),
    ("test_auc_over_oracle", "model / oracle AUC"),
    ("baseline_logreg_roc_auc", "ROC AUC (logistic regression baseline)"),
    ("baseline_points_roc_auc", "ROC AUC (points-rule baseline)"),
    ("test_auc_lift_over_logreg", "AUC lift over logistic regression"),
    ("test_auc_lift_over_points", "AUC lift over points rule"),
    ("test_pr_auc", "PR AUC"),
    ("test_lift_at_10", "lift in top 10%"),
    ("test_brier", "Brier score"),
    ("test_log_loss", "log-loss"),
    ("test_ece", "expected calibration error"),
    ("test_mean_probability", "mean predicted probability"),
    ("test_observed_rate", "observed conversion rate"),
    ("backtest_roc_auc_mean", "backtest ROC AUC, mean over periods"),
    ("backtest_roc_auc_min", "backtest ROC AUC, worst period"),
    ("backtest_ece_max", "backtest ECE, worst period"),
]


def md_table(df: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-markdown table without extra dependencies."""
    if df is None or df.empty:
        return "_(none)_\n"

    def fmt(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v).replace("|", "/")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


# ---- Honest statements, shared by the model card and the `train` printout: never more than true.


def split_sentence(info: dict) -> str:
    """Which split the test metrics come from: out-of-time only when it was."""
    if info.get("split") == "time":
        return f"out-of-time: test = leads created from {info.get('test_start')}"
    if info.get("split") == "position":
        return (
            f"out-of-time by position (data.rows_in_time_order, no creation dates): test = the "
            f"newest {info.get('test_rows_newest') or 0:,} labelled rows of the file"
        )
    return (
        "stratified-random (no creation dates): the test leads are a random slice, not later "
        "ones, so the metrics may be optimistic"
    )


def has_points_rules(cfg: Config | None) -> bool:
    """Without `baseline_points` there is no points baseline: its 0.5 AUC is no baseline at all."""
    return cfg is None or bool(cfg.baseline_points)


def test_kind(info: dict) -> str:
    """The test slice's kind in a few words: 'out-of-time', 'out-of-time by position' or
    'stratified-random'."""
    return {"time": "out-of-time", "position": "out-of-time by position"}.get(
        str(info.get("split")), "stratified-random"
    )


def leads_accounted(info: dict) -> str:
    """Every lead of the export in one sentence: trained on, left out as too recent (with the
    rule and its days), open. The counts add up to the leads read."""
    won, lost, open_ = info["leads_won"], info["leads_lost"], info["leads_open"]
    recent = int(info.get("leads_left_out_recent") or 0)
    said = (
        f"{info['rows_leads']:,} leads: {won + lost:,} labelled ({won:,} won, {lost:,} lost), "
        f"{open_:,} still open"
    )
    if not recent:
        return said + "; every labelled lead was trained on or tested"
    return (
        f"{said}; {recent:,} of the labelled leads ({recent / max(won + lost, 1):.0%}) were left "
        f"out as too recent to know their outcome (rule: {info.get('left_out_rule')})"
    )


def target_misses(cfg: Config | None, m: dict) -> list[str]:
    """Business targets missed on the test leads, with how far: the cutoffs were chosen on the
    validation leads, and a target that does not hold on later leads must be said out loud."""
    if cfg is None:
        return []
    out = []
    want_p, got_p = cfg.targets.sql.precision, m.get("test_sql_precision", float("nan"))
    if want_p is not None and np.isfinite(got_p) and got_p < want_p:
        out.append(
            f"SQL precision target missed on test: {got_p:.3f} vs target {want_p} "
            f"({want_p - got_p:.3f} short)"
        )
    want_r, got_r = cfg.targets.mql.recall, m.get("test_mql_recall", float("nan"))
    if np.isfinite(got_r) and got_r < want_r:
        out.append(
            f"MQL recall target missed on test: {got_r:.3f} vs target {want_r} "
            f"({want_r - got_r:.3f} short)"
        )
    return out


def empty_stage_notes(result: object, cfg: Config | None = None) -> list[str]:
    """Why a funnel stage holds no test lead, so an empty row is not read as a bug; an empty SQL
    stage with the nearest reachable target and the key (`truth.sql_note`, as the report says)."""
    f, cut = result.extra_tables.get("funnel"), result.scorer.cutoffs
    if f is None:
        return []
    empty = set(f.loc[(f["leads"] == 0) & (f["stage"] != "all"), "stage"])
    out = []
    for stage in sorted(empty):
        if stage == "MQL" and cut.mql >= cut.sql:
            out.append(
                f"MQL stage is empty: the MQL cutoff equals the SQL cutoff ({cut.sql:.4f}): the SQLs "
                f"alone already reach the MQL target ({cut.mql_rule}), so every MQL is an SQL"
            )
        elif stage == "SQL" and getattr(result, "test_predictions", None) is not None:
            t = result.test_predictions
            y, p = t["label"].to_numpy(int), t["probability"].to_numpy(float)
            out.append(sql_note(cfg, cut, y, p, True))
        else:
            out.append(f"{stage} stage is empty: no test lead scored in its probability range")
    return out


def suspect_lines(info: dict) -> list[str]:
    """Leakage suspects the run still used as features, each with its evidence."""
    return [f"'{s['column']}': {s['evidence']}" for s in info.get("leakage_suspects") or []]


def model_card(cfg: Config, result: object, gate: object | None = None) -> str:
    """The whole card, section by section, as Markdown."""
    lines = [
        "# Model card: lead-scoring",
        "",
        *([f"**{b}**", ""] if (b := leakage_banner(cfg, result.info)) else []),
        "Predicts the probability that a lead converts (closed won), calibrated, from firmographics"
        " and behaviour seen strictly before the scoring time.",
        "",
        *_data_and_features(cfg, result),
        *_metrics_and_cutoffs(cfg, result),
        *_evidence(result, gate),
        "## Known limits",
        *(f"- {x}" for x in known_limits(cfg, result)),
        "",
    ]
    return "\n".join(lines)


def _data_and_features(cfg: Config, result: object) -> list[str]:
    m, info, sc = result.metrics, result.info, cfg.schema
    grouped = with_context(result.scorer.builder.feature_fields, sc.context)
    fields = sorted({field_label(f, sc.labels, sc.context) for f in grouped.values()})
    return [
        "## Data",
        f"- Leads: {leads_accounted(info)} (open leads are not trained on); activity events: "
        f"{info['rows_events']:,}",
        f"- Created between {info['data_start']} and {info['data_end']}",
        f"- Split: {split_sentence(info)}"
        f" ({info['rows_test_leads']:,} test leads, {int(m.get('test_won', 0))} won); "
        f"snapshots: {info['snapshots']:,} (fit rows {info['rows_fit']:,}, "
        f"validation rows {info['rows_val']:,})",
        f"- Snapshot ages (days): {', '.join(map(str, cfg.training.snapshot_days))}",
        "",
        "## Features",
        f"- {info['n_features']} features from {len(fields)} business fields: " + ", ".join(fields),
        f"- Activity types used: {', '.join(info['activity_types']) or '(none)'}",
        f"- Dropped by config (never features): {', '.join(sc.drop) or '(none)'}",
        f"- Engagement side (with the activity features): {', '.join(sc.engagement) or '(none)'}",
        "- Leakage suspects still used as features: "
        + ("; ".join(suspect_lines(info)) or "(none)"),
        (
            f"- `{sc.email}` is read only to derive a business/personal domain flag; the address "
            "itself is never a feature or logged"
            if sc.email
            else "- No email column configured"
        ),
        "",
    ]


def _metrics_and_cutoffs(cfg: Config, result: object) -> list[str]:
    m, info, t = result.metrics, result.info, result.extra_tables
    cut = result.scorer.cutoffs
    skip = (
        set() if has_points_rules(cfg) else {"baseline_points_roc_auc", "test_auc_lift_over_points"}
    )
    rows = [{"metric": lb, "value": m[k]} for k, lb in METRIC_ROWS if k in m and k not in skip]
    test = f"{test_kind(info)} test"
    return [
        f"## Metrics ({test}, one row per lead at its last snapshot before the outcome)",
        md_table(pd.DataFrame(rows)),
        *([] if has_points_rules(cfg) else ["Points baseline: no points rules configured.", ""]),
        *[f"{c}\n" for c in [candidate_sentence(info, m), context_sentence(info, m)] if c],
        *[f"{c}\n" for c in [horizon_sentence(info)] if c],
        "## Calibration",
        f"Method: **{info['calibration']}**, chosen by held-out log-loss on the validation slice "
        f"(halves split by lead): "
        + ", ".join(f"{k} {v:.4f}" for k, v in (info["calibration_heldout_log_loss"] or {}).items())
        + ". Booster class-imbalance settings: "
        + f"is_unbalance={cfg.training.lightgbm.is_unbalance}, "
        + f"scale_pos_weight={cfg.training.lightgbm.scale_pos_weight} "
        + "(calibration on unweighted data maps raw scores back to observed rates).",
        "",
        md_table(t.get("calibration")),
        "## Cutoffs",
        f"- SQL: probability >= {cut.sql:.4f} ({cut.sql_rule}); test precision "
        f"{m.get('test_sql_precision', float('nan')):.3f}",
        f"- MQL: probability >= {cut.mql:.4f} ({cut.mql_rule}); test recall "
        f"{m.get('test_mql_recall', float('nan')):.3f}",
        "",
        *(f"- {x}" for x in [*target_misses(cfg, m), *empty_stage_notes(result, cfg)]),
        "",
        "## Funnel on the test leads",
        md_table(t.get("funnel")),
    ]


def _evidence(result: object, gate: object | None) -> list[str]:
    t = result.extra_tables
    lines: list[str] = []
    lines += backtest_lines(result)
    if "slices" in t:
        lines += ["## Slices (test leads)", md_table(slices_in_words(t["slices"], result.scorer))]
    lines += segment_lines(t.get("segments"))
    if gate is not None:
        lines += ["## Promotion gate", f"{gate.reason}", ""]
    return lines


def slices_in_words(slices: pd.DataFrame, scorer: object) -> pd.DataFrame:
    """The slice table with columns and values in the words of the model's `schema.labels`, as
    the report shows them (`Number employed`, `landing page #3 (of 495, by frequency)`)."""
    labels = ((getattr(scorer, "meta", None) or {}).get("schema") or {}).get("labels") or {}
    if not {"column", "value"} <= set(slices.columns):
        return slices
    return slices.assign(
        value=[
            value_label(v, c, labels)
            for c, v in zip(slices["column"], slices["value"], strict=True)
        ],
        column=[field_label(c, labels) for c in slices["column"]],
    )


BACKTEST_WORDS = {
    "monthly": "Each period: fit on leads created before it began, test on the period's leads.",
    "positional": "No creation dates, rows in time order (data.rows_in_time_order): each block"
    " of newer rows is tested on a refit of every row before it.",
    "stratified_folds": "No creation dates: stratified folds by lead stand in for months.",
}


def backtest_lines(result: object) -> list[str]:
    """The backtests, the periods skipped with their reasons and counts, or why none ran."""
    t, info = result.extra_tables, result.info
    bt, skipped = t.get("backtest"), t.get("backtest_skipped")
    lines = []
    if bt is not None and len(bt):
        mode = bt.attrs.get("mode", "monthly")
        said = info.get("backtest_outcomes_said")
        rule = [f"Each period fit on {said}."] if said else []
        lines += [f"## Backtests ({mode})", BACKTEST_WORDS.get(mode, ""), *rule, "", md_table(bt)]
    else:
        why = info.get("backtest_none_reason") or "none ran"
        lines += ["## Backtests", f"No backtests in this run: {why}.", ""]
    if skipped is not None and len(skipped):
        lines += [f"Periods skipped ({len(skipped)}), each with its reason:", "", md_table(skipped)]
    return lines


def known_limits(cfg: Config, result: object) -> list[str]:
    m, info, t = result.metrics, result.info, result.extra_tables
    out = [
        "Trained on closed leads only: leads still open at export time are not learned from, so"
        " slow-closing segments are under-represented in the most recent months.",
        "Probabilities are calibrated on the validation period; if the lead mix or conversion"
        " rate drifts, re-train (compare backtest periods for how fast that happens).",
        "Correlation, not cause: the reasons say what moved the score, not what will make a lead"
        " buy.",
    ]
    if info["split"] == "position":
        out.insert(
            0,
            "No creation dates: the test is the newest rows of the file, out-of-time "
            "only as far as the file really runs oldest to newest (data.rows_in_time_order).",
        )
    elif info["split"] != "time":
        out.insert(0, "No creation dates: the test is a random slice, not out-of-time.")
    small = t.get("slices")
    if small is not None and len(small):
        thin = small[small["roc_auc"].isna()]
        if len(thin):
            out.append(
                f"{len(thin)} slice value(s) have too few test leads or one class for an AUC: "
                + ", ".join(f"{r.column}={r.value}" for r in thin.head(8).itertuples())
            )
    if "oracle_roc_auc" not in m:
        out.append("No oracle: how close this is to the best possible score is unknown.")
    if m.get("test_won", 1e9) < 100:
        out.append(f"Only {int(m['test_won'])} won test leads: metrics have wide error bars.")
    return out

"""What the `leadscore` commands print: each command's result as lines of plain text.

The CLI (`pipeline.cli`) parses options, calls the job and echoes these lines; the words, numbers
and tables are made here, from the jobs' results, so they can be read and tested without argv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def generate_line(data, out: Path, seconds: float) -> str:
    """What `generate` wrote: leads by outcome, the open ones due for scoring, the activities."""
    won = int((data.leads["outcome"] == "won").sum())
    lost = int((data.leads["outcome"] == "lost").sum())
    still_open = len(data.leads) - won - lost
    return (
        f"wrote {len(data.leads):,} leads ({won:,} won, {lost:,} lost, {still_open:,} open, "
        f"{len(data.open_leads):,} of them due for scoring in open_leads.csv) and "
        f"{len(data.activities):,} activities to {out}/ in {seconds:.1f}s"
    )


def train_lines(done, cfg, seconds: float) -> list[str]:
    """The version registered, the metrics and funnel, the gate's verdict, the report, the
    leakage suspects."""
    lines = [
        f"registered lead-scoring version {done.version} ({', '.join(done.aliases)}) "
        f"in {seconds:.1f}s"
    ]
    from pipeline.report.truth import leakage_banner

    banner = leakage_banner(cfg, done.result.info)
    lines += [banner] if banner else []
    lines += summary_lines(done.result, cfg)
    gate = done.gate
    stays = "" if gate.passed else f" -> version {done.version} stays challenger"
    # the gate names no version number; the printout knows it, so a hand promotion is one line
    lines.append(f"{gate.reason.replace('promote VERSION', f'promote {done.version}')}{stays}")
    if done.report is not None:
        lines.append(f"report -> {done.report} (open it in a browser)")
    lines.append(suspects_line(done.result))
    return lines


def suspects_line(result) -> str:
    """The closing line of `train`: leakage suspects this model still uses, or that there are none."""
    from pipeline.report.card import suspect_lines

    found = suspect_lines(result.info)
    if not found:
        return "leakage suspects among the features: none"
    return (
        f"leakage suspects still used as features ({len(found)}): {'; '.join(found)}; if they are "
        "filled after the outcome, add them to schema.drop and train again"
    )


SUMMARY_METRICS = [
    "test_roc_auc",
    "oracle_roc_auc",
    "baseline_points_roc_auc",
    "baseline_logreg_roc_auc",
    "test_pr_auc",
    "test_ece",
    "test_brier",
    "test_lift_at_10",
    "sql_threshold",
    "test_sql_precision",
    "mql_threshold",
    "test_mql_recall",
    "test_auc_over_oracle",
    "test_auc_lift_over_points",
    "test_auc_lift_over_logreg",
    "backtest_roc_auc_mean",
    "backtest_roc_auc_min",
    "backtest_ece_max",
]


def summary_lines(result, cfg=None) -> list[str]:
    """The metrics and the funnel `train` prints: which split, no points baseline without points
    rules, missed targets with how far, and why a stage is empty."""
    from pipeline.report import card
    from pipeline.report.candidates import context_sentence

    m = result.metrics
    points = card.has_points_rules(cfg)
    skip = set() if points else {"baseline_points_roc_auc", "test_auc_lift_over_points"}
    lines = [f"  split: {card.split_sentence(result.info)}"]
    if "leads_won" in result.info:  # every lead read: labelled, open, left out as too recent
        lines += [f"  {card.leads_accounted(result.info)}"]
    lines += [f"  {k:<26} {m[k]:.4f}" for k in SUMMARY_METRICS if k in m and k not in skip]
    if not points:
        lines.append(f"  {'points baseline':<26} no points rules configured")
    lines += backtest_line(result)
    if "funnel" in result.extra_tables:
        cols = ["stage", "leads", "share", "expected_conversion", "realised_conversion", "won"]
        cols += ["wins_captured", "mql_to_sql_rate"]
        f = result.extra_tables["funnel"]
        which = card.test_kind(result.info)
        lines.append(f"funnel on the {which} test leads:\n" + card.md_table(f[cols], 3))
    lines += [f"  {x}" for x in [*card.target_misses(cfg, m), *card.empty_stage_notes(result, cfg)]]
    ctx = context_sentence(result.info, m)
    seg = segment_line(result.info)
    return lines + [f"  {x}" for x in (ctx, seg) if x]


def backtest_line(result) -> list[str]:
    """How many backtest periods ran and were skipped, with each skipped period's reason (or why
    none ran), and which outcomes their fit slices used, with why `auto` chose that rule."""
    info = result.info
    if "backtest_mode" not in info:
        return []
    tested = int(result.metrics.get("backtest_periods", 0))
    sk = result.extra_tables.get("backtest_skipped")
    n_sk = 0 if sk is None else len(sk)
    if not tested:
        head = f"  backtests: none ({info.get('backtest_none_reason')})"
    else:
        head = f"  backtests: {tested} period(s) tested, {n_sk} skipped"
    if n_sk:
        said = "; ".join(f"{r.period}: {r.reason}" for r in sk.head(3).itertuples())
        more = f"; {n_sk - 3} more in the report" if n_sk > 3 else ""
        head += f" ({said}{more})" if tested else f"; skipped: {said}{more}"
    rule = info.get("backtest_outcomes_said")
    return [head] + ([f"  backtests fit on {rule}"] if tested and rule else [])


def tune_lines(r, trials: int, seconds: float, out: Path) -> list[str]:
    """The search's gain on the validation slice, the best parameters and what they cost."""
    return [
        f"{trials} trials in {seconds:.0f}s: validation AUC "
        f"{r.default_value:.4f} (current params) -> {r.best_value:.4f} (best)",
        f"best: {r.best_params}, {r.best_trees} trees",
        f"TreeSHAP reasons cost x{r.shap_cost_ratio:.2f} the current shape's per lead "
        "(trees x leaves x depth^2); keep it near 1 if you score millions of leads with reasons",
        f"wrote {out}; train with: leadscore train --config {out}",
    ]


def score_lines(done, report: Path | None) -> list[str]:
    """Leads scored per stage, rejected rows and where they went, the version and the output."""
    s = done.summary
    stages = ", ".join(f"{k} {v:,}" for k, v in sorted(s.stages.items()))
    rej = f", {s.n_rejected:,} rejected -> {s.rejected_path}" if s.n_rejected else ""
    lines = [
        f"scored {s.n_scored:,} leads ({stages}){rej} with version {s.model_version} "
        f"in {done.seconds:.1f}s -> {s.output}"
    ]
    if s.rejected_activities is not None:
        lines.append(f"activity rows without a usable time -> {s.rejected_activities}")
    lines += list(getattr(s, "match_lines", ()))
    if report is not None:
        lines.append(f"scoring report -> {report}")
    return lines


def explain_lines(x) -> list[str]:
    """Per lead: probability, score, stage, sub-scores, then every reason on its own line."""
    lines = []
    for lid, row in x.scores.iterrows():
        sub = ""
        if "fit_score" in row:
            eng = row["engagement_score"]
            eng = "none (the model has no engagement feature)" if eng is None or eng != eng else eng
            sub = f", fit {row['fit_score']}, engagement {eng}"
        lines.append(
            f"{lid}: probability {row['probability']:.3f}, score {row['score']}, "
            f"stage {row['stage']}{_grade(row)}{sub}{segment_words(row)} (model version {x.version}, "
            f"as of {x.as_of})"
        )
        lines += [f"  {r}" for r in row.filter(like="reason_").dropna()]
    return lines


def segment_words(row: Any) -> str:
    """', scored by the model of segment X' (or 'by the pooled model') when segments are on."""
    seg = row.get("model_segment")
    if seg is None or seg != seg:
        return ""
    return (
        ", scored by the pooled model" if seg == "pooled" else f", scored by segment {seg}'s model"
    )


def segment_line(info: dict) -> str | None:
    """The train printout's word on segments: which serve their own model, which the pooled."""
    column = info.get("segments_column")
    if not column:
        return None
    own = info.get("segments_own") or []
    if not own:
        return (
            f"segments ({column}): none beat the pooled model; the pooled model scores every lead "
            "(model_segment: pooled)"
        )
    return (
        f"segments ({column}): own model for {', '.join(map(str, own))}; the pooled model scores "
        "every other lead"
    )


def monitor_lines(done) -> list[str]:
    """Per stage, then per grade (when the scores have grades): scored, with an outcome, won,
    realised and promised (for grades: expected) conversion, the gap; a blank line between."""
    lines = _conversion_lines(done.stages, "stage", "promised_conversion", "promised")
    if done.grades is not None:
        exp = "expected_conversion"
        lines += ["", *_conversion_lines(done.grades, "grade", exp, "expected")]
    return lines


def _conversion_lines(table, key: str, promised: str, word: str) -> list[str]:
    head = (
        f"{key:<6} {'scored':>10} {'outcomes':>10} {'won':>8} {'realised':>9} {word:>9} {'gap':>7}"
    )
    return [head] + [
        f"{r[key]:<6} {r['scored']:>10,} {r['with_outcome']:>10,} {r['won']:>8,} "
        f"{r['realised_conversion']:>9.3f} {r[promised]:>9.3f} {r['gap']:>+7.3f}"
        for r in table.to_dict("records")
    ]


def _grade(row) -> str:
    """`, grade B` when the model grades (the registry holds floors)."""
    g = row.get("grade")
    return f", grade {g}" if isinstance(g, str) else ""


def grades_line(floors, set_by: str | None) -> str:
    """The registry's A-D probability floors in one line, with who set them and when."""
    if floors is None:
        return "grades: none stored yet; the first registered model drafts them (or 'grades set')"
    return (
        f"grades: A >= {floors.A:g}, B >= {floors.B:g}, C >= {floors.C:g}, D below "
        f"(conversion probability); set by {set_by or 'unknown'}"
    )


def gate_line(policy) -> str:
    """The registry's gate thresholds in one line."""
    return (
        f"gate: max_auc_drop {policy.max_auc_drop}, max_ece {policy.max_ece}, "
        f"min_won {policy.min_won}, min_lost {policy.min_lost}, max_baseline_drop "
        f"{policy.max_baseline_drop} (below the logistic-regression baseline, and the points rule "
        f"when configured), max_champion_age_days {policy.max_champion_age_days or 'off'}; a "
        "challenger significantly worse (paired DeLong test, p < 0.05) always fails"
    )
